// A health check that flips marks the instance DOWN on another agent — with
// real agent processes (`weft agent --config F`) on 127.0.0.1, joined by gossip
// and tunnels under one cluster secret:
//
//   agent b  sidecar for meshlet orders.shop: rest → app B (HTTP on 127.0.0.1),
//            api → app B's second port; checks: rest GET /health every 100 ms,
//            tcp on the api port every 100 ms
//   agent c  sidecar for meshlet orders.shop: rest → app C (always healthy)
//   agent a  per-host proxy and a meshlet web.shop using *.orders.shop (for
//            the handshake path); every request goes through a tunnel;
//            round robin, so both UP instances take requests from the start
//            (least-request would keep to whichever answered first for tens of
//            seconds: an unknown endpoint starts at the 30 ms default RTT)
//
// The tests flip app B's health (a 503 and a wrong body on /health; the api
// port closed) and follow agent A's view: its gossip catalog on the admin API
// (`/services` → catalog), its routes, and what its proxy actually does. Every
// wait polls with a deadline; nothing sleeps a fixed time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Pool } from 'undici';
import { ReplyCode } from '../../src/agent/kernels.js';
import { meshlet } from '../helpers/agent-process.js';
import { replyCode } from '../helpers/mesh-client.js';
import { startTunnelAgent, stopAllTunnelAgents, type TunnelAgent } from '../helpers/tunnel-agents.js';

const REST = 'rest.orders.shop';
const API = 'api.orders.shop';
const DEADLINE_MS = 5000;

/** A real HTTP app on 127.0.0.1 whose /health answer the test controls; closable and re-listenable on its port. */
class App {
  health: { status: number; body: string } = { status: 200, body: 'ok' };
  hits = 0;
  port = 0;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  constructor(readonly name: string) {}

  async listen(port = 0): Promise<void> {
    const server = createServer((req, res) => {
      if (req.url === '/health') {
        res.statusCode = this.health.status;
        return void res.end(this.health.body);
      }
      this.hits++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ app: this.name, url: req.url }));
    });
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops listening and drops every open connection (the app died). */
  async close(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    const closed = new Promise((r) => s.close(r));
    for (const c of this.#sockets) c.destroy();
    await closed;
  }
}

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = DEADLINE_MS): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (let i = 0; ; i++) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms (${i + 1} tries) waiting for ${what}; last: ${JSON.stringify(last)} ${lastError ?? ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

interface CatalogEndpoint {
  agentId: string;
  agentName: string | null;
  instance: string;
  health: 'UP' | 'DOWN';
}

describe('a health check that flips marks the instance DOWN on another agent (agent processes)', () => {
  const appB = new App('b');
  const appBApi = new App('b-api');
  const appC = new App('c');
  let a: TunnelAgent;
  let b: TunnelAgent;
  let pool: Pool;

  const gossip = (name: string, seeds: string[]) => ({
    name,
    bind: { host: '127.0.0.1', port: 0 },
    secretFile: 'cluster.secret',
    join: { addresses: seeds, retry: { initial: '100ms', max: '1s' } },
    healthCheckInterval: '100ms',
  });
  const sidecar = (servicePorts: Record<string, number>, healthChecks: object[]) => ({
    enabled: true,
    mode: 'sidecar',
    host: '127.0.0.1',
    port: 0,
    servicePorts,
    healthChecks,
  });
  const orders = { 'orders.yaml': [meshlet('shop', 'orders', { provides: ['rest', 'api'], uses: ['*.orders.shop'] })] };

  before(async () => {
    await Promise.all([appB.listen(), appBApi.listen(), appC.listen()]);
    b = await startTunnelAgent({
      name: 'b',
      meshlets: orders,
      config: {
        gossip: gossip('b', []),
        proxy: sidecar({ rest: appB.port, api: appBApi.port }, [
          { service: REST, type: 'rest', path: '/health', interval: '100ms', timeout: '500ms', expectStatus: 200, expectBody: 'ok', unhealthyThreshold: 1, healthyThreshold: 1 },
          { service: API, type: 'tcp', interval: '100ms', timeout: '500ms', unhealthyThreshold: 1, healthyThreshold: 1 },
        ]),
      },
    });
    const seed = String(b.logs.find((l) => l.msg === 'agent ready')!.gossip);
    [, a] = await Promise.all([
      startTunnelAgent({ name: 'c', meshlets: { 'orders.yaml': [meshlet('shop', 'orders', { provides: ['rest'], uses: ['*.orders.shop'] })] }, config: { gossip: gossip('c', [seed]), proxy: sidecar({ rest: appC.port }, []) } }),
      startTunnelAgent({ name: 'a', meshlets: { 'web.yaml': [meshlet('shop', 'web', { uses: ['*.orders.shop'] })] }, config: { gossip: gossip('a', [seed]), proxy: { enabled: true, mode: 'per-host', host: '127.0.0.1', port: 0, loadBalancer: 'round-robin' } } }),
    ]);
    pool = new Pool(String(a.logs.find((l) => l.msg === 'agent ready')!.proxy));
  });

  after(async () => {
    await pool?.close();
    await stopAllTunnelAgents();
    await Promise.all([appB.close(), appBApi.close(), appC.close()]);
  });

  /** Agent A's gossip catalog entries of a service, from its admin API. */
  const catalogOnA = async (serviceId: string): Promise<CatalogEndpoint[]> => {
    const body = (await a.admin('/services')).body as { catalog?: { serviceId: string; endpoints: CatalogEndpoint[] }[] };
    return body.catalog?.find((s) => s.serviceId === serviceId)?.endpoints ?? [];
  };
  const healthOnA = async (serviceId: string, agent: string) => (await catalogOnA(serviceId)).find((e) => e.agentName === agent)?.health;

  const viaA = async (serviceId: string, path = '/x') => {
    const r = await pool.request({ path: `http://${serviceId}${path}`, method: 'GET' });
    const text = await r.body.text();
    return { status: r.statusCode, text, error: r.headers['x-weft-error'] as string | undefined };
  };

  /** A's catalog entry for `agent`'s instance of the service and A's route to it, in one admin call. */
  const viewOnA = async (serviceId: string, agent: string) => {
    const body = (await a.admin('/services')).body as {
      services: { id: string; endpoints: { kind: string; peer?: string; weight: number; health?: string }[] }[];
      catalog?: { serviceId: string; endpoints: CatalogEndpoint[] }[];
    };
    const entry = body.catalog?.find((s) => s.serviceId === serviceId)?.endpoints.find((e) => e.agentName === agent);
    const route = entry && body.services.find((s) => s.id === serviceId)?.endpoints.find((e) => e.peer === entry.agentId);
    return { catalog: entry?.health, route: route && { health: route.health, weight: route.weight } };
  };
  /** Waits until A's catalog and A's route both hold `agent`'s instance `health`; resolves with the milliseconds it took. */
  const awaitOnA = async (serviceId: string, agent: string, health: 'UP' | 'DOWN'): Promise<number> => {
    const start = performance.now();
    await until(`${serviceId} on ${agent} ${health} in agent a's catalog and routes`, () => viewOnA(serviceId, agent), (v) => v.catalog === health && v.route?.health === health && (health === 'DOWN') === (v.route.weight === 0));
    return Math.round(performance.now() - start);
  };

  /** Sends requests through A until one is answered by `app` (bounded in count and time); returns how many it took. */
  const untilServedBy = async (serviceId: string, app: App, maxRequests = 200): Promise<number> => {
    const end = Date.now() + DEADLINE_MS;
    for (let n = 1; n <= maxRequests && Date.now() < end; n++) {
      const r = await viaA(serviceId);
      if (r.status === 200 && (JSON.parse(r.text) as { app: string }).app === app.name) return n;
    }
    throw new Error(`no request through agent a reached app ${app.name} within ${maxRequests} requests / ${DEADLINE_MS} ms`);
  };

  test('A learns both instances of rest (on B and C) and one of api (on B) from gossip, UP, and spreads rest over B and C', async () => {
    await Promise.all([awaitOnA(REST, 'b', 'UP'), awaitOnA(REST, 'c', 'UP'), awaitOnA(API, 'b', 'UP')]);
    await untilServedBy(REST, appB);
    await untilServedBy(REST, appC);
    const api = await viaA(API);
    assert.deepEqual([api.status, JSON.parse(api.text).app], [200, 'b-api']);
  });

  test('rest check: /health answers 503 → B marks DOWN, A sees it DOWN and sends everything to C; recovery brings B back', async (t) => {
    appB.health = { status: 503, body: 'overloaded' };
    t.diagnostic(`rest: DOWN on agent a ${await awaitOnA(REST, 'b', 'DOWN')} ms after the flip`);
    const down = await b.waitForLog((l) => l.msg === 'instance marked DOWN' && l.service === REST);
    assert.equal((down.error as { code: string }).code, 'WEFT-P011');
    assert.match((down.error as { message: string }).message, /status 503/);
    assert.equal(down.reported, true, 'the agent took the mark for its catalog entry');
    assert.equal(await healthOnA(REST, 'c'), 'UP', 'the other instance is untouched');
    const before = appB.hits;
    const served: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await viaA(REST);
      assert.equal(r.status, 200, r.text);
      served.push((JSON.parse(r.text) as { app: string }).app);
    }
    assert.deepEqual(new Set(served), new Set(['c']), 'every request went to the healthy instance');
    assert.equal(appB.hits, before, 'the DOWN instance got no request');

    appB.health = { status: 200, body: 'ok' };
    t.diagnostic(`rest: UP on agent a ${await awaitOnA(REST, 'b', 'UP')} ms after recovery`);
    await b.waitForLog((l) => l.msg === 'instance marked UP' && l.service === REST);
    await untilServedBy(REST, appB);
  });

  test('rest check: a wrong body (status 200) is a failure too, and recovers', async () => {
    appB.health = { status: 200, body: 'degraded' };
    await awaitOnA(REST, 'b', 'DOWN');
    await b.waitForLog((l) => l.msg === 'instance marked DOWN' && l.service === REST && /body does not contain "ok"/.test((l.error as { message: string }).message));
    const before = appB.hits;
    for (let i = 0; i < 10; i++) assert.equal(JSON.parse((await viaA(REST)).text).app, 'c');
    assert.equal(appB.hits, before);
    appB.health = { status: 200, body: 'ok' };
    await awaitOnA(REST, 'b', 'UP');
    await untilServedBy(REST, appB);
  });

  test('tcp check: the only api instance stops listening → DOWN on A, A answers 503 WEFT-P003; listening again → UP and served', async (t) => {
    const port = appBApi.port;
    await appBApi.close();
    t.diagnostic(`tcp: DOWN on agent a ${await awaitOnA(API, 'b', 'DOWN')} ms after the close`);
    const down = await b.waitForLog((l) => l.msg === 'instance marked DOWN' && l.service === API);
    assert.equal(down.check, 'tcp');
    const r = await viaA(API);
    assert.equal(r.status, 503);
    assert.equal(r.error, 'WEFT-P003');
    const body = JSON.parse(r.text) as { error: { code: string; cause: string; remediation: string } };
    assert.equal(body.error.code, 'WEFT-P003');
    assert.ok(body.error.cause && body.error.remediation, 'a structured error: cause and remediation');
    assert.equal(await healthOnA(REST, 'b'), 'UP', 'only the checked service is DOWN');
    // A meshlet client on A: the service is known but has no healthy endpoint (not UNKNOWN_SERVICE).
    assert.equal(await replyCode(a.clientSocket('shop', 'web'), API), ReplyCode.UNAVAILABLE);

    await appBApi.listen(port);
    t.diagnostic(`tcp: UP on agent a ${await awaitOnA(API, 'b', 'UP')} ms after listening again`);
    const back = await until('api served through agent a again', () => viaA(API), (v) => v.status === 200);
    assert.equal(JSON.parse(back.text).app, 'b-api');
    assert.equal(await replyCode(a.clientSocket('shop', 'web'), API), ReplyCode.OK);
  });
});
