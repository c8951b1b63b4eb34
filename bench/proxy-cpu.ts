// bench/proxy-cpu: the CPU time of the HTTP/1.1 fast path's own work per
// request, in process. The real FastConnection, resolver, rules, cluster,
// balancer, upstream pool, metrics and access log, driven through fake sockets
// (a client that takes the response, an upstream that answers at once), so
// no syscall and no other process is in the figure: what weft's code costs,
// apart from node's socket floor (bench/proxy measures the whole). CPU time
// (process.cpuUsage) rather than wall time: steady on a shared machine.
// Requests per event-loop turn: 1 (light load: every turn flushes what it can)
// and 64 (a busy proxy).
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsRegistry } from '../src/admin/metrics.js';
import { Logger } from '../src/agent/log.js';
import { ServiceRouter } from '../src/agent/routing.js';
import type { Upstream } from '../src/agent/upstream.js';
import { FieldPath } from '../src/config/fields.js';
import { parseMeshlet } from '../src/config/meshlet.js';
import { parseProxyConfig } from '../src/proxy/config.js';
import { FastConnection } from '../src/proxy/fast-http1.js';
import { SidecarProxy } from '../src/proxy/sidecar-proxy.js';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { printGrid, writeResults } from './lib.js';

const scale = Math.min(1, Number(process.env.WEFT_BENCH_TIME ?? 300) / 300);
const REQUESTS = Math.max(20_000, Math.round(200_000 * scale));
const RESPONSE = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 24\r\nDate: Sat, 21 Nov 2026 10:00:00 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=60\r\n\r\nhello from the upstream\n',
);
const REQUEST_KINDS = {
  'wrk (Host only)': 'GET / HTTP/1.1\r\nHost: hello.bench.bench\r\n\r\n',
  'curl (3 headers, query)': 'GET /a/b?x=1 HTTP/1.1\r\nHost: hello.bench.bench\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n',
} as const;

/** An upstream connection that answers every write at once. */
class InstantUpstream extends EventEmitter {
  write(): boolean {
    this.emit('data', RESPONSE);
    return true;
  }
  destroy(): void {
    this.emit('close');
  }
  pause(): void {}
  resume(): void {}
}

/** A client socket that takes whatever is written. */
class SinkClient extends EventEmitter {
  readonly remoteAddress = '127.0.0.1';
  readonly destroyed = false;
  /** Writes: one per response (head and body leave together). */
  writes = 0;
  write(): boolean {
    this.writes++;
    return true;
  }
  setTimeout(): void {}
  end(): void {}
  destroy(): void {}
  pause(): void {}
  resume(): void {}
  isPaused(): boolean {
    return false;
  }
}

async function measureCase(dir: string, request: string, accessLog: string, perTurn: number): Promise<{ usPerRequest: number }> {
  const router = new ServiceRouter(dir, 64);
  const upstream: Upstream = { open: async () => new InstantUpstream() as unknown as Duplex };
  const config = parseProxyConfig({ port: 0, accessLog, namespace: 'bench' }, new FieldPath('bench', 'proxy'), dir);
  const proxy = new SidecarProxy({ config, router, upstream, registry: new MetricsRegistry(), log: new Logger({ write() {} }, 'error') });
  router.setMeshlet(
    parseMeshlet({ apiVersion: 'weft.dev/v1alpha1', kind: 'Meshlet', metadata: { name: 'bench', namespace: 'bench' }, spec: { provides: ['hello'], uses: [] } }, new FieldPath('bench', ''), { idleTimeoutNs: 0n }),
    undefined,
  );
  proxy.topologyChanged();
  const client = new SinkClient();
  new FastConnection(proxy, client as unknown as Socket, Buffer.alloc(0), () => {
    throw new Error('the bench request fell back to the full path');
  });
  const bytes = Buffer.from(request, 'latin1');
  const send = () => client.emit('data', Buffer.from(bytes));
  // The first request opens the pooled upstream connection (asynchronously).
  send();
  await new Promise((r) => setTimeout(r, 20));
  const loop = async (n: number): Promise<number> => {
    const t0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      send();
      if ((i + 1) % perTurn === 0) await new Promise(setImmediate);
    }
    const u = process.cpuUsage(t0);
    return (u.user + u.system) / n;
  };
  await loop(Math.round(REQUESTS / 4));
  const rounds: number[] = [];
  for (let i = 0; i < 5; i++) rounds.push(await loop(Math.round(REQUESTS / 5)));
  rounds.sort((a, b) => a - b);
  const expected = Math.round(REQUESTS / 4) + 5 * Math.round(REQUESTS / 5) + 1;
  if (client.writes !== expected) throw new Error(`bench/proxy-cpu: ${client.writes} responses for ${expected} requests`);
  await proxy.close();
  return { usPerRequest: rounds[2]! };
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-proxy-cpu-'));
  try {
    const lines: string[][] = [];
    const data: Record<string, unknown>[] = [];
    for (const [kind, request] of Object.entries(REQUEST_KINDS)) {
      for (const perTurn of [1, 64]) {
        const off = await measureCase(join(dir, 'off'), request, 'off', perTurn);
        const logged = await measureCase(join(dir, 'log'), request, join(dir, `access-${perTurn}.log`), perTurn);
        lines.push([kind, String(perTurn), off.usPerRequest.toFixed(2), logged.usPerRequest.toFixed(2), (logged.usPerRequest - off.usPerRequest).toFixed(2)]);
        data.push({ request: kind, perTurn, usPerRequest: off.usPerRequest, usPerRequestWithAccessLog: logged.usPerRequest });
      }
    }
    printGrid(
      `bench/proxy-cpu: CPU µs per request of the fast path's own work, in process (fake sockets; median of 5 × ${Math.round(REQUESTS / 5)} requests)`,
      ['request', 'per turn', 'µs/request', 'with access log (file)', 'access log'],
      lines,
    );
    writeResults('proxy-cpu', data);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
