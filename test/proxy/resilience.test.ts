// Resilience end to end: an endpoint answering 503s is ejected, readmitted
// after its ejection time, ejected again for longer (backoff); circuit-breaker
// limits answer 503 with the structured error; the load balancers (round
// robin, least-request with peak EWMA, Maglev consistent hashing); cluster
// rate limits per route answer 429.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { HTTP1_PATHS, startHarness, until, type Harness } from './_harness.js';

interface ClusterView {
  cluster: string;
  active: number;
  pending: number;
  endpoints: Array<{ key: string; ejected: boolean; ejectedForMs: number; eligible: boolean }>;
}

async function get(pool: Pool, url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; error: string | undefined }> {
  const r = await pool.request({ path: url, method: 'GET', headers });
  const body = await r.body.text();
  return { status: r.statusCode, body, error: r.headers['x-weft-error'] as string | undefined };
}

for (const { label, fastPath } of HTTP1_PATHS) describe(`resilience (${label})`, () => {
  let h: Harness;
  let pool: Pool;
  let dir: string;
  let failing = true;
  let failingB = false;
  const held: ServerResponse[] = [];
  const heldSeen = { n: 0 };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-res-'));
    const rules = join(dir, 'rules.yaml');
    writeFileSync(
      rules,
      `
apiVersion: weft.dev/v1alpha1
kind: Destination
metadata: { name: api, namespace: t }
spec:
  host: api.api.t
  loadBalancer: round-robin
  outlierDetection: { consecutive5xx: 3, interval: 10s, baseEjectionTime: 300ms, maxEjectionPercent: 50 }
---
apiVersion: weft.dev/v1alpha1
kind: Route
metadata: { name: api, namespace: t }
spec:
  hosts: [api.api.t]
  http: [{ destinations: [{ host: api.api.t }], retries: { attempts: 0 } }]
---
apiVersion: weft.dev/v1alpha1
kind: Destination
metadata: { name: hold, namespace: t }
spec:
  host: hold.hold.t
  circuitBreaker: { maxConnections: 1, maxPendingRequests: 1, maxRequests: 100 }
  subsets:
    - name: narrow
      labels: { version: main }
      circuitBreaker: { maxConnections: 100, maxPendingRequests: 100, maxRequests: 2 }
---
apiVersion: weft.dev/v1alpha1
kind: Route
metadata: { name: hold, namespace: t }
spec:
  hosts: [hold.hold.t]
  http:
    - match: [{ path: { prefix: /narrow } }]
      destinations: [{ subset: narrow }]
    - destinations: [{ host: hold.hold.t }]
---
apiVersion: weft.dev/v1alpha1
kind: Destination
metadata: { name: lb, namespace: t }
spec:
  host: rr.lb.t
  loadBalancer: round-robin
---
apiVersion: weft.dev/v1alpha1
kind: Destination
metadata: { name: lr, namespace: t }
spec:
  host: lr.lb.t
  loadBalancer: least-request
---
apiVersion: weft.dev/v1alpha1
kind: Destination
metadata: { name: mg, namespace: t }
spec:
  host: mg.lb.t
  loadBalancer: { consistentHash: { header: x-user } }
  outlierDetection: { consecutive5xx: 0 }
---
apiVersion: weft.dev/v1alpha1
kind: Route
metadata: { name: limited, namespace: t }
spec:
  hosts: [rr.lb.t]
  http:
    - name: per-route
      match: [{ path: { prefix: /limited } }]
      destinations: [{ host: rr.lb.t }]
      rateLimit: { requests: 20, window: 10s }
    - name: per-user
      match: [{ path: { prefix: /per-user } }]
      destinations: [{ host: rr.lb.t }]
      rateLimit: { requests: 5, window: 10s, key: "header:x-user" }
    - destinations: [{ host: rr.lb.t }]
`,
    );
    h = await startHarness({ proxy: { fastPath, namespace: 't', rules: { paths: [rules], watch: false } } });
    h.meshlet('t', 'api', ['api'], [
      { name: 'a', version: 'v1' },
      { name: 'b', version: 'v1' },
      { name: 'c', version: 'v1' },
    ]);
    for (const inst of ['a', 'b']) {
      await h.serveHttp('t', 'api', inst, 'api', (_q, res) => {
        if (failingB && inst === 'b') res.statusCode = 503;
        res.end(inst);
      });
    }
    await h.serveHttp('t', 'api', 'c', 'api', (_q, res) => {
      if (failing) res.statusCode = 503;
      res.end('c');
    });
    h.meshlet('t', 'hold', ['hold']);
    await h.serveHttp('t', 'hold', 'main', 'hold', (req, res) => {
      heldSeen.n++;
      req.resume();
      held.push(res);
    });
    h.meshlet('t', 'lb', ['rr', 'lr', 'mg'], [
      { name: 'x', version: 'v1' },
      { name: 'y', version: 'v1' },
      { name: 'z', version: 'v1' },
    ]);
    for (const inst of ['x', 'y', 'z']) {
      await h.serveHttp('t', 'lb', inst, 'rr', (_q, res) => res.end(inst));
      await h.serveHttp('t', 'lb', inst, 'mg', (_q, res) => res.end(inst));
      // least-request: z is slow, so it should get little of the traffic.
      await h.serveHttp('t', 'lb', inst, 'lr', (_q, res) => (inst === 'z' ? setTimeout(() => res.end(inst), 40) : res.end(inst)));
    }
    pool = new Pool(h.proxyUrl, { connections: 8 });
  });
  after(async () => {
    for (const r of held) r.end();
    await pool.close();
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const apiView = () => (h.proxy.clustersView() as ClusterView[]).find((c) => c.cluster === 'api.api.t|')!;
  const cState = () => apiView().endpoints.find((e) => e.key === 'local/c')!;

  test('an endpoint answering 503s is ejected, readmitted after the ejection time, ejected again for longer', async () => {
    const first: string[] = [];
    for (let i = 0; i < 12; i++) first.push((await get(pool, 'http://api.api.t/')).body);
    assert.equal(first.filter((b) => b === 'c').length, 3, 'round robin: c gets every third request until its third 503');
    assert.ok(cState().ejected, 'c is ejected');
    const during: string[] = [];
    for (let i = 0; i < 10; i++) during.push((await get(pool, 'http://api.api.t/')).body);
    assert.ok(!during.includes('c'), 'no traffic while ejected');
    assert.match(h.registry.render(), /weft_proxy_outlier_ejections_total\{service="api.api.t",endpoint="local\/c"\} 1/);
    failing = false;
    await until(() => !cState().ejected && cState().eligible, 10_000, 'readmission');
    const afterward: string[] = [];
    for (let i = 0; i < 9; i++) afterward.push((await get(pool, 'http://api.api.t/')).body);
    assert.equal(afterward.filter((b) => b === 'c').length, 3, 'readmitted: c back in the rotation');
    failing = true;
    for (let i = 0; i < 12 && !cState().ejected; i++) await get(pool, 'http://api.api.t/');
    assert.ok(cState().ejected);
    assert.ok(cState().ejectedForMs > 350, `second ejection lasts base × 2 (${cState().ejectedForMs} ms left)`);
    failing = false;
  });

  test('max ejection percent: with 50 %, a second failing endpoint is not ejected while one is out', async () => {
    // c is ejected now (previous test); make b fail too: b must stay in (2 of 3 would be 67 %).
    await until(() => !cState().ejected, 3000, 'c back');
    failing = true;
    failingB = true;
    const seen: string[] = [];
    for (let i = 0; i < 30; i++) seen.push((await get(pool, 'http://api.api.t/')).body);
    const ejected = apiView().endpoints.filter((e) => e.ejected).map((e) => e.key);
    assert.equal(ejected.length, 1, `ejected: ${ejected.join(', ')}`);
    assert.ok(seen.slice(-10).includes('b') || seen.slice(-10).includes('c'), 'the failing endpoint that was not ejected still gets traffic');
    failing = false;
    failingB = false;
  });

  test('circuit breaking: maxConnections 1 + maxPendingRequests 1 → the third concurrent request gets 503', async () => {
    const p1 = get(pool, 'http://hold.hold.t/one');
    await until(() => heldSeen.n === 1, 3000, 'the first request upstream');
    const p2 = get(pool, 'http://hold.hold.t/two');
    await until(() => ((h.proxy.clustersView() as ClusterView[]).find((c) => c.cluster === 'hold.hold.t|')?.pending ?? 0) === 1, 3000, 'the second request pending');
    const third = await get(pool, 'http://hold.hold.t/three');
    assert.equal(third.status, 503);
    assert.equal(third.error, 'WEFT-P004');
    assert.equal(JSON.parse(third.body).error.details.limit, 'maxPendingRequests');
    held.shift()!.end('1');
    await until(() => heldSeen.n === 2, 3000, 'the pending request upstream after the first finished');
    held.shift()!.end('2');
    assert.deepEqual([(await p1).body, (await p2).body], ['1', '2']);
    assert.match(h.registry.render(), /weft_proxy_circuit_open_total\{service="hold.hold.t",limit="maxPendingRequests"\} 1/);
  });

  test('circuit breaking: maxRequests 2 on a subset cluster', async () => {
    const start = heldSeen.n;
    const a = get(pool, 'http://hold.hold.t/narrow/1');
    const b = get(pool, 'http://hold.hold.t/narrow/2');
    await until(() => heldSeen.n === start + 2, 3000, 'two requests upstream');
    const c = await get(pool, 'http://hold.hold.t/narrow/3');
    assert.equal(c.status, 503);
    assert.equal(JSON.parse(c.body).error.details.limit, 'maxRequests');
    for (const r of held.splice(0)) r.end('ok');
    assert.deepEqual([(await a).status, (await b).status], [200, 200]);
  });

  test('round robin: an even rotation', async () => {
    const bodies: string[] = [];
    for (let i = 0; i < 30; i++) bodies.push((await get(pool, 'http://rr.lb.t/')).body);
    for (const inst of ['x', 'y', 'z']) assert.equal(bodies.filter((b) => b === inst).length, 10, inst);
  });

  test('least-request (P2C on peak EWMA): the slow endpoint gets the least traffic', async () => {
    const bodies: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (next++ < 240) bodies.push((await get(pool, 'http://lr.lb.t/')).body);
      }),
    );
    const z = bodies.filter((b) => b === 'z').length;
    const x = bodies.filter((b) => b === 'x').length;
    const y = bodies.filter((b) => b === 'y').length;
    assert.ok(z < bodies.length / 6, `slow z got ${z} of ${bodies.length} (x ${x}, y ${y})`);
  });

  test('consistent hashing (Maglev kernel) on a header: a user sticks to one endpoint; users spread', async () => {
    const home = new Map<string, string>();
    for (let u = 0; u < 40; u++) {
      for (let k = 0; k < 4; k++) {
        const b = (await get(pool, 'http://mg.lb.t/', { 'x-user': `user-${u}` })).body;
        if (!home.has(`user-${u}`)) home.set(`user-${u}`, b);
        assert.equal(b, home.get(`user-${u}`), `user-${u} moved`);
      }
    }
    const spread = new Set(home.values());
    assert.equal(spread.size, 3, 'all three endpoints have users');
    // Take y out (health DOWN): y's users move; Maglev keeps most others where they were.
    h.proxy.health.set('mg.lb.t', 'y', 'DOWN');
    let stayed = 0;
    let others = 0;
    for (const [user, was] of home) {
      const now = (await get(pool, 'http://mg.lb.t/', { 'x-user': user })).body;
      assert.notEqual(now, 'y');
      if (was !== 'y') {
        others++;
        if (now === was) stayed++;
      }
    }
    assert.ok(stayed >= others * 0.75, `${stayed} of ${others} users of the remaining endpoints stayed`);
    // Back to the same endpoint set: the same table, every user home again.
    h.proxy.health.set('mg.lb.t', 'y', 'UP');
    for (const [user, was] of home) assert.equal((await get(pool, 'http://mg.lb.t/', { 'x-user': user })).body, was);
  });

  test('rate limit per route (cluster limiter): 20 per window, then 429 with the structured error', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await get(pool, 'http://rr.lb.t/limited')).status);
    assert.equal(statuses.filter((s) => s === 200).length, 20);
    assert.equal(statuses.filter((s) => s === 429).length, 10);
    const r = await get(pool, 'http://rr.lb.t/limited');
    assert.equal(r.error, 'WEFT-P007');
    const perUser = async (user: string) => {
      const s: number[] = [];
      for (let i = 0; i < 8; i++) s.push((await get(pool, 'http://rr.lb.t/per-user', { 'x-user': user })).status);
      return s.filter((x) => x === 200).length;
    };
    assert.deepEqual([await perUser('ann'), await perUser('bob')], [5, 5]);
    assert.match(h.registry.render(), /weft_proxy_rate_limited_total\{route="t\/limited\/per-route"\} 11/);
  });
});
