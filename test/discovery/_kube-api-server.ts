// A small stand-in for kube-apiserver on 127.0.0.1 over HTTPS, serving the real
// JSON shapes: PodList pages with limit/continue (metadata.continue, 410
// Expired on a stale token), meta/v1 Status errors (401 Unauthorized, 403
// Forbidden), and watch streams of newline-delimited WatchEvents that tests
// write to byte by byte. Label selectors of the equality kinds are applied.

import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestPki } from './_tls.js';

export interface PodSpecInput {
  name: string;
  namespace?: string;
  ip?: string;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  ready?: boolean;
  deleting?: boolean;
  labels?: Record<string, string>;
  /** Container ports; default one named "gossip" on 7946. */
  ports?: { name?: string; containerPort: number }[];
  resourceVersion?: string;
}

let uidCounter = 0;

/** A Pod object as the API server returns it (trimmed of fields discovery never reads, but shaped like the real thing). */
export function makePod(p: PodSpecInput): Record<string, unknown> {
  const ready = p.ready ?? true;
  const phase = p.phase ?? 'Running';
  const ip = p.ip;
  const cond = (type: string, status: boolean) => ({ type, status: status ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: '2024-05-01T10:00:00Z' });
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      name: p.name,
      generateName: `${p.name.replace(/-[^-]*$/, '')}-`,
      namespace: p.namespace ?? 'mesh',
      uid: `4f7c1e2a-0000-4000-8000-${String(++uidCounter).padStart(12, '0')}`,
      resourceVersion: p.resourceVersion ?? '1000',
      creationTimestamp: '2024-05-01T10:00:00Z',
      ...(p.deleting ? { deletionTimestamp: '2024-05-01T11:00:00Z', deletionGracePeriodSeconds: 30 } : {}),
      labels: p.labels ?? { app: 'weft', 'pod-template-hash': '6d4cf56db6' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'weft-6d4cf56db6', uid: 'a1b2', controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      containers: [
        {
          name: 'agent',
          image: 'ghcr.io/example/weft:0.1.0',
          ports: (p.ports ?? [{ name: 'gossip', containerPort: 7946 }]).map((x) => ({ ...x, protocol: 'UDP' })),
          resources: {},
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'weft',
      serviceAccount: 'weft',
      nodeName: 'node-1',
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
      priority: 0,
    },
    status: {
      phase,
      conditions: [cond('Initialized', true), cond('Ready', ready), cond('ContainersReady', ready), cond('PodScheduled', true)],
      hostIP: '192.168.49.2',
      ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}),
      startTime: '2024-05-01T10:00:00Z',
      containerStatuses: [
        { name: 'agent', ready, restartCount: 0, started: phase === 'Running', image: 'ghcr.io/example/weft:0.1.0', imageID: '', state: {} },
      ],
      qosClass: 'BestEffort',
    },
  };
}

export function status(code: number, reason: string, message: string, details?: Record<string, unknown>): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

export function watchLine(type: string, object: unknown): string {
  return `${JSON.stringify({ type, object })}\n`;
}

export interface RecordedRequest {
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
}

/** One open watch response the test writes events to. */
export interface WatchConnection {
  query: URLSearchParams;
  send(text: string | Buffer): void;
  end(): void;
  /** Drops the connection without ending the chunked body. */
  destroy(): void;
  closed: Promise<void>;
}

/** Supports k=v, k==v, k!=v, k and !k terms joined by commas (no set-based terms). */
function matchesSelector(labels: Record<string, string>, selector: string): boolean {
  if (selector.trim() === '') return true;
  return selector.split(',').every((term) => {
    const t = term.trim();
    let m = /^([^!=]+)!=(.*)$/.exec(t);
    if (m) return labels[m[1]!.trim()] !== m[2]!.trim();
    m = /^([^!=]+)==?(.*)$/.exec(t);
    if (m) return labels[m[1]!.trim()] === m[2]!.trim();
    if (t.startsWith('!')) return !(t.slice(1) in labels);
    return t in labels;
  });
}

export class FakeKubeApi {
  pods: Record<string, unknown>[] = [];
  resourceVersion = '5000';
  /** The token a request must carry; read on each request so tests can rotate it. */
  token = 'token-1';
  forbidden = false;
  /** The next list request carrying a continue token gets 410 Expired. */
  expireNextContinue = false;
  /** Intercepts a request before the normal handling; return true when it answered (or will never answer). */
  override: ((req: IncomingMessage, res: ServerResponse, url: URL) => boolean) | undefined;
  readonly requests: RecordedRequest[] = [];
  private readonly watchWaiters: ((w: WatchConnection) => void)[] = [];
  private readonly pendingWatches: WatchConnection[] = [];
  private readonly open = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly port: number,
  ) {}

  static async start(pki: TestPki): Promise<FakeKubeApi> {
    const server = createServer({ key: pki.key, cert: pki.cert });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const api = new FakeKubeApi(server, `https://127.0.0.1:${port}`, port);
    server.on('request', (req, res) => api.handle(req, res));
    // TLS handshakes a client aborts (wrong CA) are not errors of the server.
    server.on('tlsClientError', () => {});
    return api;
  }

  /** Resolves with the next watch request (already received or still to come). */
  nextWatch(): Promise<WatchConnection> {
    const ready = this.pendingWatches.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => this.watchWaiters.push(resolve));
  }

  listRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.query.get('watch') !== 'true');
  }

  /** Waits until no connection is open, so a request a test abandoned cannot land in the next test. */
  async quiesce(): Promise<void> {
    for (const res of this.open) res.destroy();
    for (let i = 0; i < 400; i++) {
      const n = await new Promise<number>((resolve) => this.server.getConnections((_e, count) => resolve(count)));
      if (n === 0) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('connections still open after 2 s');
  }

  async close(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private json(res: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    this.requests.push({ path: url.pathname, query: url.searchParams, authorization: req.headers.authorization });
    this.open.add(res);
    res.on('close', () => this.open.delete(res));
    if (this.override?.(req, res, url)) return;
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return this.json(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
    }
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname);
    if (req.method !== 'GET' || !m) return this.json(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const namespace = decodeURIComponent(m[1]!);
    const verb = url.searchParams.get('watch') === 'true' ? 'watch' : 'list';
    if (this.forbidden) {
      return this.json(
        res,
        403,
        status(403, 'Forbidden', `pods is forbidden: User "system:serviceaccount:${namespace}:weft" cannot ${verb} resource "pods" in API group "" in the namespace "${namespace}"`, {
          kind: 'pods',
        }),
      );
    }
    if (verb === 'watch') return this.watch(url, res);
    const selector = url.searchParams.get('labelSelector') ?? '';
    const items = this.pods.filter((p) => {
      const meta = p.metadata as { namespace: string; labels: Record<string, string> };
      return meta.namespace === namespace && matchesSelector(meta.labels, selector);
    });
    const limit = Number(url.searchParams.get('limit') ?? '0');
    const cont = url.searchParams.get('continue');
    let start = 0;
    if (cont) {
      if (this.expireNextContinue) {
        this.expireNextContinue = false;
        return this.json(
          res,
          410,
          status(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.'),
        );
      }
      start = (JSON.parse(Buffer.from(cont, 'base64url').toString()) as { start: number }).start;
    }
    const end = limit > 0 ? Math.min(items.length, start + limit) : items.length;
    const more = end < items.length;
    const metadata: Record<string, unknown> = { resourceVersion: this.resourceVersion };
    if (more) {
      metadata.continue = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: Number(this.resourceVersion), start: end })).toString('base64url');
      metadata.remainingItemCount = items.length - end;
    }
    this.json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata, items: items.slice(start, end) });
  }

  private watch(url: URL, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const conn: WatchConnection = {
      query: url.searchParams,
      send: (text) => void res.write(text),
      end: () => res.end(),
      destroy: () => res.destroy(),
      closed: new Promise((resolve) => res.on('close', () => resolve())),
    };
    const waiter = this.watchWaiters.shift();
    if (waiter) waiter(conn);
    else this.pendingWatches.push(conn);
  }
}
