// Route rules obeyed end to end: weighted version split within statistical
// bounds, header/path/method matches, route timeouts, retries (5xx and per-try
// timeout) with the attempt count, fault injection (abort share, delay), live
// reload of the rules file (a bad file keeps the running rules), and Istio's
// bookinfo VirtualService/DestinationRule YAML imported and obeyed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { HTTP1_PATHS, startHarness, until, type Harness } from './_harness.js';

const BOOKINFO = fileURLToPath(new URL('../../../examples/proxy/bookinfo-reviews.yaml', import.meta.url));

/** Sends `n` requests through the proxy (absolute-form) with bounded concurrency; returns the bodies and statuses. */
async function burst(pool: Pool, url: string, n: number, headers: Record<string, string> = {}, concurrency = 16): Promise<Array<{ status: number; body: string; ms: number }>> {
  const out: Array<{ status: number; body: string; ms: number }> = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const t0 = performance.now();
      const r = await pool.request({ path: url, method: 'GET', headers });
      out.push({ status: r.statusCode, body: await r.body.text(), ms: performance.now() - t0 });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

function count<T>(xs: T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

/** |observed - n p| within 5 binomial standard deviations (a false failure about once in 3.5 million runs). */
function assertBinomial(observed: number, n: number, p: number, what: string): void {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(observed - n * p) <= 5 * sd, `${what}: ${observed} of ${n}, expected ${n * p} ± ${Math.round(5 * sd)}`);
}

for (const { label, fastPath } of HTTP1_PATHS) describe(`route rules (${label})`, () => {
  let h: Harness;
  let pool: Pool;
  let rulesDir: string;
  let rulesFile: string;
  const calls = new Map<string, number>();

  const writeRules = (yaml: string) => writeFileSync(rulesFile, yaml);

  before(async () => {
    rulesDir = mkdtempSync(join(tmpdir(), 'weft-rules-'));
    rulesFile = join(rulesDir, 'routes.yaml');
    writeRules(`
apiVersion: weft.dev/v1alpha1
kind: Route
metadata: { name: reviews, namespace: bookinfo }
spec:
  hosts: [reviews]
  http:
    - name: beta
      match:
        - headers: { x-beta: { exact: "1" } }
        - path: { prefix: /beta/ }
      destinations: [{ version: v3 }]
    - name: posts
      match: [{ method: POST }]
      destinations: [{ version: v2 }]
    - name: slow
      match: [{ path: { prefix: /slow } }]
      destinations: [{ version: v1 }]
      timeout: 150ms
      retries: { attempts: 0 }
    - name: flaky
      match: [{ path: { prefix: /flaky } }]
      destinations: [{ version: v1 }]
      retries: { attempts: 3, on: [5xx] }
    - name: hang-once
      match: [{ path: { prefix: /hang-once } }]
      destinations: [{ version: v1 }]
      timeout: 3s
      retries: { attempts: 2, perTryTimeout: 100ms, on: [reset] }
    - name: no-retry
      match: [{ path: { prefix: /no-retry } }]
      destinations: [{ version: v1 }]
      retries: { attempts: 0 }
    - name: faulty
      match: [{ path: { prefix: /fault/abort } }]
      destinations: [{ version: v1 }]
      fault: { abort: { percent: 30, status: 418 } }
    - name: delayed
      match: [{ path: { prefix: /fault/delay } }]
      destinations: [{ version: v1 }]
      fault: { delay: { percent: 100, duration: 80ms } }
    - name: rewrite
      match: [{ path: { prefix: /old/ } }]
      destinations: [{ version: v1 }]
      rewrite: { path: /new/ }
      headers: { request: { set: { x-added: yes } }, response: { set: { x-resp: set } } }
    - name: split
      destinations: [{ version: v1, weight: 80 }, { version: v2, weight: 20 }]
`);
    h = await startHarness({ proxy: { fastPath, namespace: 'bookinfo', rules: { paths: [rulesFile], debounce: '20ms' }, outlierDetection: { consecutive5xx: 0 } } });
    h.meshlet('bookinfo', 'reviews', ['http'], [
      { name: 'a', version: 'v1' },
      { name: 'b', version: 'v2' },
      { name: 'c', version: 'v3' },
    ]);
    h.meshlet('bookinfo', 'ratings', ['http'], [{ name: 'r1', version: 'v1' }]);
    for (const [inst, version] of [['a', 'v1'], ['b', 'v2'], ['c', 'v3']] as const) {
      await h.serveHttp('bookinfo', 'reviews', inst, 'http', (req, res) => {
        const path = req.url!;
        const n = (calls.get(path) ?? 0) + 1;
        calls.set(path, n);
        req.resume();
        if (path.startsWith('/slow')) return void setTimeout(() => res.end(version), 1000);
        if (path.startsWith('/flaky') && n <= 2) {
          res.statusCode = 503;
          return void res.end('try again');
        }
        if (path.startsWith('/no-retry')) {
          res.statusCode = 503;
          return void res.end('no');
        }
        if (path.startsWith('/hang-once') && n === 1) return; // never answers: the per-try timeout cuts it
        res.setHeader('x-seen-path', path);
        res.setHeader('x-seen-added', String(req.headers['x-added'] ?? ''));
        res.end(version);
      });
    }
    await h.serveHttp('bookinfo', 'ratings', 'r1', 'http', (req, res) => res.end('ratings-v1'));
    pool = new Pool(h.proxyUrl, { connections: 16 });
  });
  after(async () => {
    await pool.close();
    await h.close();
    rmSync(rulesDir, { recursive: true, force: true });
  });

  test('weighted split 80/20 over 2000 requests, within 5 standard deviations', async () => {
    const rs = await burst(pool, 'http://reviews/split', 2000);
    const c = count(rs.map((r) => r.body));
    assert.equal(rs.filter((r) => r.status !== 200).length, 0);
    assertBinomial(c.get('v1') ?? 0, 2000, 0.8, 'v1');
    assert.equal((c.get('v1') ?? 0) + (c.get('v2') ?? 0), 2000, 'v3 gets nothing');
    const text = h.registry.render();
    assert.match(text, /weft_proxy_requests_total\{route="bookinfo\/reviews\/split",service="http.reviews.bookinfo",code_class="2xx"\} 2000/);
  });

  test('matches: header OR path prefix → v3; method POST → v2', async () => {
    const byHeader = await burst(pool, 'http://reviews/x', 20, { 'x-beta': '1' }, 4);
    assert.deepEqual([...count(byHeader.map((r) => r.body)).keys()], ['v3']);
    const byPath = await burst(pool, 'http://reviews/beta/x', 20, {}, 4);
    assert.deepEqual([...count(byPath.map((r) => r.body)).keys()], ['v3']);
    const r = await pool.request({ path: 'http://reviews/anything', method: 'POST', body: 'x' });
    assert.equal(await r.body.text(), 'v2');
  });

  test('route timeout: 504 with the structured error, the slow upstream does not hold the client', async () => {
    const t0 = performance.now();
    const r = await pool.request({ path: 'http://reviews/slow', method: 'GET' });
    const ms = performance.now() - t0;
    assert.equal(r.statusCode, 504);
    assert.equal(r.headers['x-weft-error'], 'WEFT-P006');
    assert.equal(((await r.body.json()) as { error: { code: string } }).error.code, 'WEFT-P006');
    assert.ok(ms >= 140 && ms < 900, `answered after ${ms} ms`);
  });

  test('retries on 5xx: two 503s then 200, three attempts in the access log', async () => {
    const r = await pool.request({ path: 'http://reviews/flaky', method: 'GET' });
    assert.equal(r.statusCode, 200);
    assert.equal(await r.body.text(), 'v1');
    assert.equal(calls.get('/flaky'), 3);
    await until(() => h.access.some((l) => l.path === '/flaky'));
    const line = h.access.find((l) => l.path === '/flaky')!;
    assert.equal(line.attempts, 3);
    assert.match(h.registry.render(), /weft_proxy_retries_total\{service="http.reviews.bookinfo"\} [2-9]/);
    const no = await pool.request({ path: 'http://reviews/no-retry', method: 'GET' });
    assert.equal(no.statusCode, 503);
    assert.equal(await no.body.text(), 'no', "the upstream's own 503 passes through when not retried");
    assert.equal(calls.get('/no-retry'), 1);
  });

  test('per-try timeout: the first attempt hangs, the retry answers', async () => {
    const t0 = performance.now();
    const r = await pool.request({ path: 'http://reviews/hang-once', method: 'GET' });
    assert.equal(r.statusCode, 200);
    assert.equal(await r.body.text(), 'v1');
    assert.ok(performance.now() - t0 < 1500);
    assert.equal(calls.get('/hang-once'), 2);
  });

  test('fault injection: abort 30 % with 418 (within bounds over 600 requests); delay 80 ms', async () => {
    const rs = await burst(pool, 'http://reviews/fault/abort', 600);
    const aborted = rs.filter((r) => r.status === 418).length;
    assertBinomial(aborted, 600, 0.3, 'aborted');
    assert.equal(rs.filter((r) => r.status !== 418 && r.status !== 200).length, 0);
    const delayed = await burst(pool, 'http://reviews/fault/delay', 5, {}, 5);
    for (const d of delayed) assert.ok(d.ms >= 75, `delayed only ${d.ms} ms`);
    assert.match(h.registry.render(), /weft_proxy_faults_total\{route="bookinfo\/reviews\/faulty",kind="abort"\} \d+/);
  });

  test('path rewrite and header edits', async () => {
    const r = await pool.request({ path: 'http://reviews/old/thing?q=1', method: 'GET' });
    assert.equal(r.headers['x-seen-path'], '/new/thing?q=1');
    assert.equal(r.headers['x-seen-added'], 'yes');
    assert.equal(r.headers['x-resp'], 'set');
    await r.body.text();
  });

  test('rules reload live on file change; a bad file keeps the running rules', async () => {
    const reloads = () => h.logs.filter((l) => l.msg === 'proxy rules reloaded').length;
    const n = reloads();
    writeRules(`
apiVersion: weft.dev/v1alpha1
kind: Route
metadata: { name: reviews, namespace: bookinfo }
spec:
  hosts: [http.reviews.bookinfo]
  http:
    - destinations: [{ version: v3 }]
`);
    await until(() => reloads() > n, 5000, 'the reload');
    const rs = await burst(pool, 'http://reviews/after-reload', 30, {}, 4);
    assert.deepEqual([...count(rs.map((r) => r.body)).keys()], ['v3']);
    writeRules('apiVersion: weft.dev/v1alpha1\nkind: Route\nmetadata: { name: broken }\nspec: { hosts: [], http: [] }\n');
    await until(() => h.logs.some((l) => l.msg === 'proxy rules rejected; running rules unchanged'), 5000, 'the rejection');
    const rejected = h.logs.find((l) => l.msg === 'proxy rules rejected; running rules unchanged')!;
    assert.equal((rejected.error as { code: string }).code, 'WEFT-P009');
    assert.match((rejected.error as { message: string }).message, /spec\.hosts: expected at least one host/);
    const still = await burst(pool, 'http://reviews/still', 10, {}, 2);
    assert.deepEqual([...count(still.map((r) => r.body)).keys()], ['v3']);
  });

  test("Istio bookinfo YAML imported and obeyed: jason → v2, others 50/50 v1/v3, ratings delay for jason", async () => {
    const reloads = () => h.logs.filter((l) => l.msg === 'proxy rules reloaded').length;
    const n = reloads();
    copyFileSync(BOOKINFO, rulesFile);
    await until(() => reloads() > n, 5000, 'the reload');
    const jason = await burst(pool, 'http://reviews/reviews/0', 40, { 'end-user': 'jason' }, 4);
    assert.deepEqual([...count(jason.map((r) => r.body)).keys()], ['v2']);
    const others = await burst(pool, 'http://reviews/reviews/0', 400, { 'end-user': 'someone' });
    const c = count(others.map((r) => r.body));
    assert.equal(c.get('v2'), undefined);
    assertBinomial(c.get('v1') ?? 0, 400, 0.5, 'v1');
    const [slow] = await burst(pool, 'http://ratings/ratings/0', 1, { 'end-user': 'jason' }, 1);
    assert.ok(slow!.ms >= 190, `jason's ratings request took ${slow!.ms} ms`);
    assert.equal(slow!.body, 'ratings-v1');
    const [fast] = await burst(pool, 'http://ratings/ratings/0', 1, {}, 1);
    assert.ok(fast!.ms < 150);
    // The DestinationRule's policy applies to the subset clusters.
    const view = h.proxy.clustersView() as Array<{ cluster: string; lb: { kind: string }; breaker: { maxConnections: number; maxPendingRequests: number; maxRequests: number } }>;
    const v1 = view.find((c) => c.cluster === 'http.reviews.bookinfo|subset=v1')!;
    assert.equal(v1.lb.kind, 'least-request');
    assert.deepEqual([v1.breaker.maxConnections, v1.breaker.maxPendingRequests, v1.breaker.maxRequests], [100, 100, 1000]);
  });
});
