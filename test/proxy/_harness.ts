// Test bench for the proxy: a real ServiceRouter with meshlets, upstream apps as
// node:http / node:http2 servers on the instances' real Unix server sockets in a
// temp dir, and a SidecarProxy on 127.0.0.1 with a free port. Access-log lines
// are collected in memory.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { MetricsRegistry } from '../../src/admin/metrics.js';
import { Logger } from '../../src/agent/log.js';
import { ServiceRouter } from '../../src/agent/routing.js';
import { instanceDir, serverSocketPath } from '../../src/agent/socket-layout.js';
import { LocalSocketUpstream, type Upstream } from '../../src/agent/upstream.js';
import { FieldPath } from '../../src/config/fields.js';
import { parseMeshlet, type MeshletSpec } from '../../src/config/meshlet.js';
import { parseProxyConfig } from '../../src/proxy/config.js';
import { SidecarProxy, type SidecarProxyOptions } from '../../src/proxy/sidecar-proxy.js';

export interface InstanceDef {
  name: string;
  version: string;
  weight?: number;
}

export interface Harness {
  readonly dir: string;
  readonly socketRoot: string;
  readonly router: ServiceRouter;
  readonly registry: MetricsRegistry;
  readonly access: Record<string, unknown>[];
  readonly logs: Record<string, unknown>[];
  proxy: SidecarProxy;
  readonly proxyUrl: string;
  readonly proxyPort: number;
  meshlet(namespace: string, name: string, provides: string[], instances?: InstanceDef[], extra?: Record<string, unknown>): MeshletSpec;
  socketPath(namespace: string, meshlet: string, instance: string, service: string): string;
  /** An HTTP/1.1 app on the instance's server socket. */
  serveHttp(namespace: string, meshlet: string, instance: string, service: string, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server>;
  serveH2(namespace: string, meshlet: string, instance: string, service: string): Promise<Http2Server>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  proxy?: Record<string, unknown>;
  upstream?: Upstream;
  deps?: Partial<SidecarProxyOptions>;
  start?: boolean;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-proxy-'));
  const socketRoot = join(dir, 's');
  mkdirSync(socketRoot, { recursive: true });
  const router = new ServiceRouter(socketRoot, 64);
  const registry = new MetricsRegistry();
  const access: Record<string, unknown>[] = [];
  const logs: Record<string, unknown>[] = [];
  const servers: Array<Server | Http2Server> = [];
  const config = parseProxyConfig({ port: 0, accessLog: 'stdout', ...options.proxy }, new FieldPath('test', 'proxy'), dir);
  const log = new Logger({ write: (l: string) => logs.push(JSON.parse(l)) }, 'debug');
  const proxy = new SidecarProxy({
    config,
    router,
    upstream: options.upstream ?? new LocalSocketUpstream(),
    registry,
    log,
    accessLogSink: { write: (text: string) => text.trim().split('\n').forEach((l) => access.push(JSON.parse(l))) },
    ...options.deps,
  });
  if (options.start !== false) await proxy.start();
  const h: Harness = {
    dir,
    socketRoot,
    router,
    registry,
    access,
    logs,
    proxy,
    get proxyUrl() {
      return proxy.url;
    },
    get proxyPort() {
      return Number(new URL(proxy.url).port);
    },
    meshlet(namespace, name, provides, instances = [{ name: 'main', version: 'main' }], extra = {}) {
      const spec = parseMeshlet(
        { apiVersion: 'weft.dev/v1alpha1', kind: 'Meshlet', metadata: { name, namespace }, spec: { provides, uses: ['*.*.*'], instances: instances.map((i) => ({ weight: 100, ...i })), ...extra } },
        new FieldPath('test', ''),
        { idleTimeoutNs: 0n },
      );
      router.setMeshlet(spec, undefined);
      proxy.topologyChanged();
      return spec;
    },
    socketPath(namespace, meshlet, instance, service) {
      return serverSocketPath(instanceDir(socketRoot, namespace, meshlet, instance), service);
    },
    async serveHttp(namespace, meshlet, instance, service, handler) {
      const path = h.socketPath(namespace, meshlet, instance, service);
      mkdirSync(dirname(path), { recursive: true });
      const s = createServer({ keepAliveTimeout: 30_000 }, handler);
      await new Promise<void>((r) => s.listen(path, r));
      servers.push(s);
      return s;
    },
    async serveH2(namespace, meshlet, instance, service) {
      const path = h.socketPath(namespace, meshlet, instance, service);
      mkdirSync(dirname(path), { recursive: true });
      const s = createH2Server();
      await new Promise<void>((r) => s.listen(path, r));
      servers.push(s);
      return s;
    },
    async close() {
      await proxy.close();
      for (const s of servers) {
        (s as Server).closeAllConnections?.();
        await new Promise((r) => s.close(() => r(undefined)));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** HTTP/1 suites run on both paths: the fast path (default) and node:http (`proxy.fastPath: false`). */
export const HTTP1_PATHS = [
  { label: 'fast path', fastPath: true },
  { label: 'full path', fastPath: false },
] as const;

/** Waits until `pred` holds, checking after each macrotask (bounded). */
export async function until(pred: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
