// Local health checks and the gossip catalog, with two in-process agents
// (the gossip wiring between agent processes is not in main yet): two
// ServiceCatalog instances over the in-memory gossip cluster, agent A's proxy
// health-checks its local instance and reports to its catalog, agent B's proxy
// reaches A's endpoint through a stand-in tunnel (an in-memory Duplex that is
// not a socket, through the same Upstream interface a real tunnel will use).
// A failing check marks the instance DOWN in A's catalog, gossip carries it to
// B, and B stops sending; recovery brings it back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Duplex } from 'node:stream';
import { Pool } from 'undici';
import { ServiceCatalog } from '../../src/gossip/catalog.js';
import type { MeshEndpoint, MeshUpstream } from '../../src/proxy/index.js';
import { ManualClock, TestCluster } from '../gossip/_memory-transport.js';
import { startHarness, until, type Harness } from './_harness.js';

/** A tunnel stand-in: a plain Duplex relaying to a connection on the far side (no socket methods). */
class MemoryTunnelStream extends Duplex {
  constructor(private readonly far: import('node:net').Socket) {
    super({ allowHalfOpen: true });
    far.on('data', (d: Buffer) => {
      if (!this.push(d)) far.pause();
    });
    far.on('end', () => this.push(null));
    far.on('close', () => this.destroy());
    far.on('error', (e) => this.destroy(e));
  }
  override _read(): void {
    this.far.resume();
  }
  override _write(c: Buffer, _e: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.far.write(c, cb);
  }
  override _final(cb: () => void): void {
    this.far.end();
    cb();
  }
  override _destroy(e: Error | null, cb: (e?: Error | null) => void): void {
    this.far.destroy();
    cb(e);
  }
}

describe('health checks mark instances DOWN in the gossip catalog', () => {
  const clock = new ManualClock();
  const cluster = new TestCluster(['agent-a', 'agent-b'], { seed: 3 });
  const catalogA = new ServiceCatalog({ mux: cluster.node('agent-a').mux, clock });
  const catalogB = new ServiceCatalog({ mux: cluster.node('agent-b').mux, clock });
  let a: Harness;
  let b: Harness;
  let healthy = true;
  const tunnelsOpened: string[] = [];
  let poolA: Pool;
  let poolB: Pool;

  before(async () => {
    a = await startHarness({
      proxy: {
        namespace: 'shop',
        healthChecks: [{ service: 'stock.inv.shop', type: 'rest', path: '/healthz', interval: '40ms', timeout: '500ms', expectStatus: 200, expectBody: 'ok', unhealthyThreshold: 2, healthyThreshold: 1 }],
      },
      deps: { healthReporter: catalogA, catalog: catalogA },
      start: false,
    });
    a.meshlet('shop', 'inv', ['stock'], [{ name: 'i1', version: 'v1' }]);
    await a.serveHttp('shop', 'inv', 'i1', 'stock', (req, res) => {
      if (req.url === '/healthz') {
        res.statusCode = healthy ? 200 : 500;
        return void res.end(healthy ? 'ok' : 'broken');
      }
      res.end('stock from a/i1');
    });
    catalogA.publish({ serviceId: 'stock.inv.shop', meshlet: 'inv', instance: 'i1', version: 'v1', weight: 100, health: 'UP' });
    cluster.settle();
    // Agent B: the tunnel stand-in reaches agent A's instance socket.
    const tunnel: MeshUpstream = {
      open: (endpoint: MeshEndpoint, serviceId: string) =>
        new Promise((resolve, reject) => {
          if (endpoint.kind !== 'remote' || endpoint.agentId !== 'agent-a') return reject(new Error('no such agent'));
          tunnelsOpened.push(`${endpoint.agentId}/${endpoint.instance}/${serviceId}`);
          const far = connect(a.socketPath('shop', endpoint.meshlet, endpoint.instance, serviceId.split('.')[0]!));
          far.once('connect', () => resolve(new MemoryTunnelStream(far)));
          far.once('error', reject);
        }),
    };
    b = await startHarness({ proxy: { namespace: 'shop' }, deps: { catalog: catalogB, remote: tunnel } });
    await a.proxy.start();
    poolA = new Pool(a.proxyUrl);
    poolB = new Pool(b.proxyUrl);
  });
  after(async () => {
    await poolA.close();
    await poolB.close();
    await a.close();
    await b.close();
  });

  const viaB = async () => {
    const r = await poolB.request({ path: 'http://stock.inv.shop/items', method: 'GET' });
    return { status: r.statusCode, body: await r.body.text(), error: r.headers['x-weft-error'] };
  };

  test("agent B reaches agent A's endpoint through the tunnel Upstream (any Duplex)", async () => {
    const r = await viaB();
    assert.deepEqual([r.status, r.body], [200, 'stock from a/i1']);
    assert.deepEqual(tunnelsOpened, ['agent-a/i1/stock.inv.shop']);
    await until(() => b.access.some((l) => l.endpoint === 'agent-a/i1'), 2000, 'the access-log line');
    // Keep-alive over the tunnel stream: a second request opens no second tunnel.
    assert.equal((await viaB()).status, 200);
    assert.equal(tunnelsOpened.length, 1);
  });

  test('a failing check marks the instance DOWN in A (proxy and catalog), gossip tells B, B stops sending', async () => {
    healthy = false;
    await until(() => a.logs.some((l) => l.msg === 'instance marked DOWN'), 3000, 'the DOWN mark');
    const down = a.logs.find((l) => l.msg === 'instance marked DOWN')!;
    assert.equal((down.error as { code: string }).code, 'WEFT-P011');
    assert.match((down.error as { message: string }).message, /status 500/, 'failed for the status the check saw');
    assert.equal(down.reported, true, 'the catalog took the mark');
    assert.equal(catalogA.endpoints('stock.inv.shop')[0]!.health, 'DOWN');
    const local = await poolA.request({ path: 'http://stock.inv.shop/x', method: 'GET' });
    assert.equal(local.statusCode, 503, 'A skips its own DOWN instance');
    assert.equal(local.headers['x-weft-error'], 'WEFT-P003');
    await local.body.text();
    cluster.settle();
    assert.equal(catalogB.endpoints('stock.inv.shop')[0]!.health, 'DOWN');
    const r = await viaB();
    assert.equal(r.status, 503);
    assert.equal(r.error, 'WEFT-P003');
    assert.match(a.registry.render(), /weft_proxy_health\{service="stock.inv.shop",instance="i1"\} 0/);
  });

  test('recovery marks it UP again everywhere', async () => {
    healthy = true;
    await until(() => a.logs.some((l) => l.msg === 'instance marked UP'), 3000, 'the UP mark');
    cluster.settle();
    assert.equal(catalogB.endpoints('stock.inv.shop')[0]!.health, 'UP');
    assert.equal((await viaB()).status, 200);
    assert.match(a.registry.render(), /weft_proxy_health_checks_total\{service="stock.inv.shop",instance="i1",result="fail"\} [2-9]/);
  });

  test('a tcp check against a dead socket marks DOWN too', async () => {
    const spec = { service: 'stock.inv.shop', instance: 'i1', type: 'tcp' as const, port: 1, host: '127.0.0.1', path: '/', intervalMs: 1000, timeoutMs: 300, expectStatus: [{ min: 200, max: 299 }], expectBody: undefined, unhealthyThreshold: 1, healthyThreshold: 1 };
    const { HealthChecker } = await import('../../src/proxy/health-check.js');
    const { LocalHealth } = await import('../../src/proxy/endpoints.js');
    const marks: string[] = [];
    const health = new LocalHealth();
    const checker = new HealthChecker({
      specs: [spec],
      directory: a.proxy.directory,
      delivery: a.proxy.delivery,
      health,
      reporter: { setHealth: (s, i, h) => marks.push(`${s}/${i}=${h}`) },
      metrics: a.proxy.metrics,
      log: a.proxy.log,
      source: a.proxy.identity,
    });
    await checker.runOnce(spec);
    checker.close();
    assert.deepEqual(marks, ['stock.inv.shop/i1=DOWN']);
    assert.equal(health.get('stock.inv.shop', 'i1'), 'DOWN');
  });
});
