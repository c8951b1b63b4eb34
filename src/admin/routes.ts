// The admin API routes: health, readiness, Prometheus metrics, the meshlets and
// services the agent serves, its config (secrets redacted), meshlet reload and
// canary controls. Every error is structured JSON: { error: WeftError.toJSON() }.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Agent } from '../agent/agent.js';
import type { CanaryAction } from '../agent/canary.js';
import { GOSSIP_ROUTES, MAX_BODY_BYTES } from '../agent/gossip-admin.js';
import { formatDuration } from '../config/duration.js';
import { redact } from '../config/redact.js';
import { WeftError } from '../errors.js';
import { PROMETHEUS_CONTENT_TYPE } from './metrics.js';

type Handler = (agent: Agent, params: string[], res: ServerResponse, body: unknown) => void | Promise<void>;

interface RouteDef {
  method: 'GET' | 'POST';
  pattern: RegExp;
  /** Reads a JSON body (routes without it discard the body). */
  body?: boolean;
  handler: Handler;
}

/** The request body as JSON (an empty body is {}); WEFT-A009 with status 400/413 when it is not. */
async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new WeftError('WEFT-A009', `request body over ${MAX_BODY_BYTES} bytes`, { status: 413 });
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new WeftError('WEFT-A009', 'request body is not JSON', { status: 400 });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, err: WeftError, status: number): void {
  json(res, status, { error: err.toJSON() });
}

const CANARY_ACTIONS: readonly CanaryAction[] = ['pause', 'resume', 'promote', 'rollback'];
const ms = (n: number) => formatDuration(BigInt(n) * 1_000_000n);

export const ROUTES: readonly RouteDef[] = [
  { method: 'GET', pattern: /^\/healthz$/, handler: (_a, _p, res) => json(res, 200, { status: 'ok' }) },
  {
    method: 'GET',
    pattern: /^\/readyz$/,
    handler: (agent, _p, res) => json(res, agent.ready ? 200 : 503, { status: agent.ready ? 'ready' : agent.draining ? 'draining' : 'starting', generation: agent.generation }),
  },
  {
    method: 'GET',
    pattern: /^\/metrics$/,
    handler: (agent, _p, res) => {
      const text = agent.metrics.render();
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    },
  },
  { method: 'GET', pattern: /^\/meshlets$/, handler: (agent, _p, res) => json(res, 200, { generation: agent.generation, lastReload: agent.lastReload ?? null, meshlets: agent.meshletsView() }) },
  {
    method: 'GET',
    pattern: /^\/meshlets\/([^/]+)\/([^/]+)$/,
    handler: (agent, [ns, name], res) => {
      const view = agent.meshletView(ns!, name!);
      if (!view) return sendError(res, new WeftError('WEFT-A009', `no meshlet ${ns}/${name}`), 404);
      json(res, 200, view);
    },
  },
  {
    method: 'GET',
    pattern: /^\/services$/,
    handler: (agent, _p, res) => json(res, 200, { services: agent.servicesView(), ...(agent.gossip ? { catalog: agent.gossip.catalogView() } : {}) }),
  },
  ...GOSSIP_ROUTES,
  {
    method: 'GET',
    pattern: /^\/config$/,
    handler: (agent, _p, res) => {
      const c = agent.config;
      json(res, 200, {
        source: c.source,
        effective: {
          socketRoot: c.socketRoot,
          sockets: { owner: c.sockets.uid ?? null, group: c.sockets.gid ?? null, mode: `0${c.sockets.mode.toString(8)}`, dirMode: `0${c.sockets.dirMode.toString(8)}` },
          admin: c.admin,
          meshlets: { paths: c.meshlets.paths, inline: c.meshlets.inline.map((m) => m.key), watch: c.meshlets.watch, debounce: ms(c.meshlets.debounceMs) },
          limits: c.limits,
          timeouts: { handshake: ms(c.timeouts.handshakeMs), connect: ms(c.timeouts.connectMs), drain: ms(c.timeouts.drainMs), idle: formatDuration(c.timeouts.idleNs) },
          demoEcho: c.demoEcho,
        },
        file: redact(c.raw),
      });
    },
  },
  {
    method: 'POST',
    pattern: /^\/reload$/,
    handler: async (agent, _p, res) => {
      const result = await agent.reload('admin API');
      json(res, result.ok ? 200 : 422, result);
    },
  },
  {
    method: 'POST',
    pattern: /^\/meshlets\/([^/]+)\/([^/]+)\/canary\/([^/]+)$/,
    handler: (agent, [ns, name, action], res) => {
      if (!CANARY_ACTIONS.includes(action as CanaryAction)) {
        return sendError(res, new WeftError('WEFT-A009', `unknown canary action ${action}; one of ${CANARY_ACTIONS.join(', ')}`), 404);
      }
      json(res, 200, agent.canary(ns!, name!, action as CanaryAction));
    },
  },
];

/** Dispatches one admin request. */
export async function handleAdminRequest(agent: Agent, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://admin').pathname;
  let pathMatched = false;
  for (const route of ROUTES) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (route.method !== req.method) continue;
    try {
      let body: unknown;
      if (route.body) body = await readJsonBody(req);
      else req.resume(); // the body is not read
      await route.handler(agent, m.slice(1).map(decodeURIComponent), res, body);
    } catch (e) {
      const err = e instanceof WeftError ? e : new WeftError('WEFT-A009', String(e));
      const status = typeof err.details.status === 'number' ? err.details.status : 500;
      sendError(res, err, status);
    }
    return;
  }
  req.resume();
  if (pathMatched) sendError(res, new WeftError('WEFT-A009', `${req.method} is not allowed on ${path}`), 405);
  else sendError(res, new WeftError('WEFT-A009', `no admin route ${path}`), 404);
}
