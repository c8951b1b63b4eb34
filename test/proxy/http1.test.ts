// HTTP/1.1 through the sidecar proxy with real clients: curl with http_proxy
// (absolute-form, keep-alive), undici's ProxyAgent, origin-form with Host;
// name resolution (full IDs, short names through --service-ports, Kubernetes
// names); trace and request-id headers; hop-by-hop headers; access log and
// metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { promisify } from 'node:util';
import { ProxyAgent, request as undiciRequest } from 'undici';
import { HTTP1_PATHS, startHarness, until, type Harness } from './_harness.js';

const run = promisify(execFile);

function curl(h: Harness, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('curl', ['-sS', ...args], { env: { ...process.env, http_proxy: h.proxyUrl, HTTP_PROXY: h.proxyUrl, no_proxy: '', NO_PROXY: '' } });
}

for (const { label, fastPath } of HTTP1_PATHS) describe(`HTTP/1.1 proxy (${label})`, () => {
  let h: Harness;
  const seen: Array<{ url: string; headers: Record<string, unknown>; remotePort: number | undefined; body: string }> = [];

  before(async () => {
    h = await startHarness({ proxy: { fastPath, namespace: 'shop', servicePorts: { rest: 8080, admin: 9090 } } });
    h.meshlet('shop', 'orders', ['rest', 'admin']);
    h.meshlet('shop', 'billing', ['billing']);
    const echo = (svc: string) => (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        seen.push({ url: req.url!, headers: req.headers, remotePort: undefined, body });
        res.setHeader('x-served-by', svc);
        res.setHeader('connection', 'keep-alive, x-secret-hop');
        res.setHeader('x-secret-hop', 'must not pass');
        res.end(JSON.stringify({ svc, url: req.url, host: req.headers.host, body }));
      });
    };
    await h.serveHttp('shop', 'orders', 'main', 'rest', echo('rest.orders.shop'));
    await h.serveHttp('shop', 'orders', 'main', 'admin', echo('admin.orders.shop'));
    await h.serveHttp('shop', 'billing', 'main', 'billing', echo('billing.billing.shop'));
  });
  after(() => h.close());

  test('curl with http_proxy: full service ID, keep-alive over one connection', async () => {
    const { stdout, stderr } = await curl(h, ['-v', 'http://rest.orders.shop/a?x=1', 'http://rest.orders.shop/b']);
    const bodies = stdout.match(/\{[^}]*\}/g)!.map((b) => JSON.parse(b));
    assert.deepEqual(bodies.map((b) => [b.svc, b.url, b.host]), [
      ['rest.orders.shop', '/a?x=1', 'rest.orders.shop'],
      ['rest.orders.shop', '/b', 'rest.orders.shop'],
    ]);
    assert.match(stderr, /Re-using existing connection/);
  });

  test('short names: the port picks the service through --service-ports; Kubernetes names; a single-service meshlet', async () => {
    const a = JSON.parse((await curl(h, ['http://orders:8080/x'])).stdout);
    assert.equal(a.svc, 'rest.orders.shop');
    const b = JSON.parse((await curl(h, ['http://orders:9090/y'])).stdout);
    assert.equal(b.svc, 'admin.orders.shop');
    const c = JSON.parse((await curl(h, ['http://orders.shop.svc.cluster.local:8080/z'])).stdout);
    assert.equal(c.svc, 'rest.orders.shop');
    const d = JSON.parse((await curl(h, ['http://billing/'])).stdout);
    assert.equal(d.svc, 'billing.billing.shop');
    // Two services and no port: ambiguous, with the candidates listed.
    const amb = await curl(h, ['-i', 'http://orders/']);
    assert.match(amb.stdout, /^HTTP\/1.1 404/);
    assert.match(amb.stdout, /x-weft-error: WEFT-P002/);
    const err = JSON.parse(amb.stdout.slice(amb.stdout.indexOf('{'))).error;
    assert.deepEqual(err.details.candidates, ['admin.orders.shop', 'rest.orders.shop']);
    const unknown = await curl(h, ['-i', 'http://nope.orders.shop/']);
    assert.match(unknown.stdout, /^HTTP\/1.1 404/);
    const notMesh = await curl(h, ['-i', 'http://10.1.2.3/']);
    assert.match(notMesh.stdout, /"reason":"not-mesh"/);
  });

  test('undici ProxyAgent (absolute-form, proxyTunnel: false): POST body, keep-alive, response headers without hop-by-hop ones', async () => {
    const dispatcher = new ProxyAgent({ uri: h.proxyUrl, proxyTunnel: false });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await undiciRequest(`http://rest.orders.shop/post/${i}`, { dispatcher, method: 'POST', body: `payload-${i}`, headers: { 'content-type': 'text/plain' } });
        const body = (await r.body.json()) as { body: string; url: string };
        assert.equal(r.statusCode, 200);
        assert.equal(body.body, `payload-${i}`);
        assert.equal(r.headers['x-served-by'], 'rest.orders.shop');
        assert.equal(r.headers['x-secret-hop'], undefined, 'a header named in Connection is hop-by-hop');
        assert.match(String(r.headers['x-request-id']), /^[0-9a-f-]{36}$/);
      }
    } finally {
      await dispatcher.close();
    }
  });

  test('undici ProxyAgent (default: a CONNECT tunnel per origin) reaches the service through the tunnel', async () => {
    const dispatcher = new ProxyAgent(h.proxyUrl);
    try {
      for (let i = 0; i < 3; i++) {
        const r = await undiciRequest(`http://billing.billing.shop:80/tunneled/${i}`, { dispatcher });
        assert.equal(((await r.body.json()) as { url: string }).url, `/tunneled/${i}`);
      }
    } finally {
      await dispatcher.close();
    }
    const tunnelLines = () => h.access.filter((l) => l.protocol === 'connect' && l.service === 'billing.billing.shop');
    await until(() => tunnelLines().length > 0, 5000, 'the tunnel access-log line');
    const tunnels = tunnelLines();
    assert.ok(tunnels.length >= 1 && tunnels.length <= 3, `three requests over ${tunnels.length} tunnel(s)`);
    assert.equal(tunnels[0]!.status, 200);
    assert.ok((tunnels[0]!.bytesOut as number) > 0);
  });

  test('origin-form with Host (a client that talks to the proxy as a server), chunked body', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: h.proxyPort, path: '/chunked', method: 'PUT', headers: { host: 'billing.billing.shop', 'transfer-encoding': 'chunked' } }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve(b));
      });
      req.on('error', reject);
      req.write('part1-');
      req.end('part2');
    });
    assert.deepEqual(JSON.parse(body), { svc: 'billing.billing.shop', url: '/chunked', host: 'billing.billing.shop', body: 'part1-part2' });
  });

  test('traceparent: a valid one keeps its trace id and gets a new span id; a missing one starts a trace; x-request-id kept', async () => {
    seen.length = 0;
    const incoming = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await curl(h, ['-H', `traceparent: ${incoming}`, '-H', 'x-request-id: req-123', 'http://rest.orders.shop/t1']);
    await curl(h, ['http://rest.orders.shop/t2']);
    await curl(h, ['-H', 'traceparent: 00-00000000000000000000000000000000-b7ad6b7169203331-01', 'http://rest.orders.shop/t3']);
    const [t1, t2, t3] = seen.map((s) => String(s.headers.traceparent));
    const m1 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(t1!)!;
    assert.equal(m1[1], '0af7651916cd43dd8448eb211c80319c');
    assert.notEqual(m1[2], 'b7ad6b7169203331');
    assert.equal(seen[0]!.headers['x-request-id'], 'req-123');
    assert.match(t2!, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    assert.match(String(seen[1]!.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.doesNotMatch(t3!, /^00-0{32}/, 'an all-zero trace id is invalid: a new trace starts');
    assert.equal(seen[0]!.headers['x-forwarded-proto'], 'http');
    assert.equal(seen[0]!.headers['proxy-connection'], undefined);
    await until(() => h.access.some((l) => l.path === '/t1'), 3000, 'the /t1 access-log line');
    const log = h.access.find((l) => l.path === '/t1')!;
    assert.equal(log.traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.equal(log.requestId, 'req-123');
    assert.equal(`00-${log.traceId}-${log.spanId}-01`, t1);
  });

  test('access log lines and Prometheus metrics per route and upstream', async () => {
    await curl(h, ['http://rest.orders.shop/metrics-probe']);
    // Lines are written in batches (16 KiB, or 50 ms after the first).
    await until(() => h.access.some((l) => l.path === '/metrics-probe'), 3000, 'the access-log line');
    const line = h.access.find((l) => l.path === '/metrics-probe')!;
    assert.equal(line.msg, 'access');
    assert.equal(line.status, 200);
    assert.equal(line.service, 'rest.orders.shop');
    assert.equal(line.route, 'default');
    assert.equal(line.endpoint, 'local/main');
    assert.equal(line.attempts, 1);
    assert.ok(typeof line.durationMs === 'number' && typeof line.upstreamMs === 'number');
    const text = h.registry.render();
    assert.match(text, /weft_proxy_requests_total\{route="default",service="rest.orders.shop",code_class="2xx"\} \d+/);
    assert.match(text, /weft_proxy_request_duration_seconds_bucket\{route="default",service="rest.orders.shop",le="0.001"\}/);
    assert.match(text, /weft_proxy_upstream_requests_total\{service="rest.orders.shop",endpoint="local\/main",version="main",code_class="2xx"\} \d+/);
    assert.match(text, /weft_proxy_requests_total\{route="default",service="billing.billing.shop",code_class="2xx"\} \d+/);
  });

  test('an instance whose socket is missing: 503 after the connect-failure retries, then ejection', async () => {
    h.meshlet('shop', 'ghost', ['web'], [{ name: 'a', version: 'v1' }]);
    const r = await curl(h, ['-i', 'http://web.ghost.shop/']);
    assert.match(r.stdout, /^HTTP\/1.1 503/);
    assert.match(r.stdout, /x-weft-error: WEFT-P00[35]/);
  });
});
