// Unit tests of the proxy's pieces: config and flags, the host resolver,
// traceparent rules, Istio import mapping, rule matching, the outlier
// detector's backoff, peak EWMA, smooth round robin.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FieldPath } from '../../src/config/fields.js';
import { AccessLog, accessLine, encodeLine, isoNow, type AccessRecord } from '../../src/proxy/access-log.js';
import { WeftError } from '../../src/errors.js';
import { RoundRobinBalancer } from '../../src/proxy/balancer.js';
import { Deadlines } from '../../src/proxy/deadlines.js';
import { applyProxyFlags, parseProxyConfig, parseServicePorts } from '../../src/proxy/config.js';
import { EndpointState, PeakEwma } from '../../src/proxy/endpoint-state.js';
import type { ProxyEndpoint } from '../../src/proxy/endpoints.js';
import { recordOutcome } from '../../src/proxy/outlier.js';
import { MeshHostResolver, splitHostPort, type ServiceDirectory } from '../../src/proxy/resolver.js';
import { checkHeaders, requestTarget } from '../../src/proxy/request-guard.js';
import { parseRulesText } from '../../src/proxy/rules/load.js';
import { RuleSet } from '../../src/proxy/rules/rule-set.js';
import { nextTrace, parseTraceparent, requestId } from '../../src/proxy/trace.js';

const at = new FieldPath('agent.yaml', 'proxy');

function directory(ids: string[]): ServiceDirectory {
  return { generation: 1, services: () => ids, has: (id) => ids.includes(id) };
}

function endpoint(key: string, weight = 100): ProxyEndpoint {
  return { key, serviceId: 's.m.n', service: 's', meshlet: 'm', namespace: 'n', instance: key, version: 'v1', agent: 'local', weight, health: 'UP', target: { kind: 'local', namespace: 'n', meshlet: 'm', instance: key, version: 'v1', socketPath: '/x' } };
}

describe('proxy config', () => {
  test('defaults: off without the section, on with it; Envoy-like limits', () => {
    const off = parseProxyConfig(undefined, at, '/base');
    assert.equal(off.enabled, false);
    const on = parseProxyConfig({ rules: { paths: ['r.yaml'] }, accessLog: 'log/access.json' }, at, '/base');
    assert.equal(on.enabled, true);
    assert.equal(on.port, 30101);
    assert.equal(on.host, '127.0.0.1');
    assert.equal(on.mode, 'per-host');
    assert.deepEqual(on.rules.paths, ['/base/r.yaml']);
    assert.equal(on.accessLog, '/base/log/access.json');
    assert.deepEqual(on.circuitBreaker, { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 });
    assert.equal(on.retries.attempts, 2);
    assert.equal(on.retries.on.connectFailure, true);
    assert.equal(on.retries.on.fiveXx, false);
    assert.equal(on.loadBalancer.kind, 'least-request');
  });

  test('errors name the field; unknown fields are errors', () => {
    assert.throws(() => parseProxyConfig({ mode: 'mesh' }, at, '/'), /proxy\.mode: expected per-host or sidecar/);
    assert.throws(() => parseProxyConfig({ prot: 1 }, at, '/'), /proxy\.prot: expected one of the fields/);
    assert.throws(() => parseProxyConfig({ healthChecks: [{ service: 'x.y' }] }, at, '/'), /healthChecks\[0\]\.service: expected a service ID/);
    assert.throws(() => parseProxyConfig({ retries: { on: ['sometimes'] } }, at, '/'), /retries\.on: expected retry conditions/);
  });

  test('--service-ports and the other flags', () => {
    assert.deepEqual([...parseServicePorts('rest:8080,grpc:9000')], [['rest', 8080], ['grpc', 9000]]);
    for (const bad of ['rest', 'rest:0', 'rest:70000', 'REST:80', 'a:1,a:2']) assert.throws(() => parseServicePorts(bad), WeftError, bad);
    const base = parseProxyConfig(undefined, at, '/');
    assert.equal(applyProxyFlags(base, {}), base, 'no flag: unchanged (and off)');
    const c = applyProxyFlags(base, { mode: 'sidecar', servicePorts: 'rest:8080', proxyPort: '0' });
    assert.deepEqual([c.enabled, c.mode, c.port, c.servicePorts.get('rest')], [true, 'sidecar', 0, 8080]);
    assert.throws(() => applyProxyFlags(base, { mode: 'both' }), /--mode/);
  });
});

describe('destination resolver', () => {
  const r = new MeshHostResolver({
    directory: directory(['rest.orders.shop', 'grpc.orders.shop', 'web.front.shop', 'reviews.reviews.bookinfo', 'api.solo.shop', 'ratings.ratings.bookinfo', 'cart.cart.shop', 'cart.other.shop']),
    servicePorts: new Map([['rest', 8080], ['grpc', 9000]]),
  });
  const ok = (host: string, port: number | undefined, ns: string) => {
    const x = r.resolve(host, port, ns);
    return x.ok ? x.serviceId : `${x.reason}${x.candidates.length ? ` ${x.candidates.join(' ')}` : ''}`;
  };

  test('full IDs, short names by port, single-service meshlets, service names, Kubernetes names', () => {
    assert.equal(ok('rest.orders.shop', undefined, 'x'), 'rest.orders.shop');
    assert.equal(ok('orders', 8080, 'shop'), 'rest.orders.shop');
    assert.equal(ok('orders', 9000, 'shop'), 'grpc.orders.shop');
    assert.equal(ok('orders.shop', 9000, 'default'), 'grpc.orders.shop');
    assert.equal(ok('orders', undefined, 'shop'), 'ambiguous grpc.orders.shop rest.orders.shop');
    assert.equal(ok('orders', 1234, 'shop'), 'ambiguous grpc.orders.shop rest.orders.shop');
    assert.equal(ok('front', undefined, 'shop'), 'web.front.shop');
    assert.equal(ok('solo', 80, 'shop'), 'api.solo.shop');
    assert.equal(ok('reviews', 9080, 'bookinfo'), 'reviews.reviews.bookinfo');
    assert.equal(ok('reviews.bookinfo.svc.cluster.local', 9080, 'x'), 'reviews.reviews.bookinfo');
    assert.equal(ok('ratings.bookinfo.svc', undefined, 'x'), 'ratings.ratings.bookinfo');
    assert.equal(ok('cart', undefined, 'shop'), 'cart.cart.shop', 'the meshlet cart before the service cart of another meshlet');
    assert.equal(ok('web', undefined, 'shop'), 'web.front.shop', 'a unique service name in the namespace');
  });

  test('not mesh names and unknown services', () => {
    assert.equal(ok('10.0.0.1', 80, 'shop'), 'not-mesh');
    assert.equal(ok('example.com.evil.org', 80, 'shop'), 'not-mesh');
    assert.equal(ok('UPPER_case', 80, 'shop'), 'not-mesh');
    assert.equal(ok('nope.orders.shop', 80, 'shop'), 'unknown');
    assert.equal(ok('ghost', undefined, 'shop'), 'unknown');
  });

  test('splitHostPort', () => {
    assert.deepEqual(splitHostPort('Orders:8080'), { host: 'orders', port: 8080 });
    assert.deepEqual(splitHostPort('orders'), { host: 'orders', port: undefined });
    assert.deepEqual(splitHostPort('[::1]:443'), { host: '[::1]', port: 443 });
    for (const bad of ['orders:', 'orders:0', 'orders:99999', 'orders:8o', ':80', '[::1']) assert.equal(splitHostPort(bad), null, bad);
  });
});

describe('request guard', () => {
  const req = (url: string, rawHeaders: string[], httpVersion = '1.1') => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toLowerCase()] ??= rawHeaders[i + 1]!;
    return { url, rawHeaders, headers, httpVersion } as unknown as import('node:http').IncomingMessage;
  };
  test('targets', () => {
    assert.deepEqual(requestTarget(req('http://orders:8080/a?b', [])), { authority: 'orders:8080', path: '/a?b', absoluteForm: true });
    assert.deepEqual(requestTarget(req('http://orders?q', [])), { authority: 'orders', path: '/?q', absoluteForm: true });
    assert.deepEqual(requestTarget(req('/x', ['Host', 'orders'])), { authority: 'orders', path: '/x', absoluteForm: false });
    assert.equal(requestTarget(req('/x', [])), 'missing-host');
    assert.equal(requestTarget(req('HTTPS://x/', [])), 'bad-target');
    assert.equal(requestTarget(req('http://a@b/', [])), 'bad-target');
  });
  test('framing', () => {
    assert.equal(checkHeaders(req('/', ['Host', 'a', 'TRANSFER-ENCODING', 'Chunked'])), undefined);
    assert.equal(checkHeaders(req('/', ['Host', 'a', 'Transfer-Encoding', 'gzip, chunked'])), 'bad-transfer-encoding');
    assert.equal(checkHeaders(req('/', ['Host', 'a', 'HOST', 'b'])), 'duplicate-host');
    assert.equal(checkHeaders(req('/', ['Host', 'a'], '0.9')), 'bad-version');
  });
});

describe('trace context', () => {
  test('W3C traceparent validation', () => {
    assert.deepEqual(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'), { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentId: '00f067aa0ba902b7', flags: '01' });
    assert.ok(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future'), 'a later version may carry more fields');
    for (const bad of [
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
    ]) {
      assert.equal(parseTraceparent(bad), undefined, bad);
    }
    const t = nextTrace('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00');
    assert.equal(t.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(t.parentId, '00f067aa0ba902b7');
    assert.equal(t.traceparent, `00-4bf92f3577b34da6a3ce929d0e0e4736-${t.spanId}-00`, 'flags kept (not sampled stays not sampled)');
    const ids = new Set(Array.from({ length: 1000 }, () => nextTrace(undefined).spanId));
    assert.equal(ids.size, 1000);
    assert.equal(requestId('abc-1'), 'abc-1');
    assert.match(requestId('bad id with spaces'), /^[0-9a-f-]{36}$/);
  });
});

describe('access log', () => {
  const base: AccessRecord = {
    time: '2026-01-02T03:04:05.006Z', msg: 'access', protocol: 'http/1.1', method: 'GET', authority: 'rest.orders.shop', path: '/a?x=1', status: 200, durationMs: 1.25,
    service: 'rest.orders.shop', route: 'default', endpoint: 'local/main', version: 'v1', attempts: 1, upstreamMs: 0.5, bytesIn: 0, bytesOut: 109,
    requestId: 'r-1', traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', client: '127.0.0.1', error: undefined, flags: undefined,
  };

  test('a line is exactly JSON.stringify of the record: key order, left-out undefined fields, escapes, numbers', () => {
    const cases: AccessRecord[] = [
      base,
      { ...base, service: undefined, route: undefined, endpoint: undefined, version: undefined, upstreamMs: undefined, requestId: undefined, traceId: undefined, spanId: undefined, client: undefined, error: 'WEFT-P002', flags: 'delayed' },
      { ...base, path: '/q"uote\\back\u0001ctl\u007f\u00e9\u2028', authority: 'h\u00ffst', requestId: 'id-"\\', error: 'lone \ud800 surrogate' },
      { ...base, durationMs: 0, upstreamMs: -0, bytesOut: 1e21, attempts: 0.1 + 0.2, status: NaN },
    ];
    for (const r of cases) {
      assert.equal(accessLine(r), `${JSON.stringify(r)}\n`);
      const b = Buffer.alloc(4096, 0xee);
      const end = encodeLine(r, b, 7);
      assert.equal(b.subarray(7, end).toString('utf8'), `${JSON.stringify(r)}\n`, 'encoded bytes');
      assert.equal(b[6], 0xee);
      assert.equal(b[end], 0xee);
    }
  });

  test('isoNow is Date#toISOString of now', () => {
    for (let i = 0; i < 50; i++) {
      const before = Date.now();
      const s = isoNow();
      const after = Date.now();
      assert.match(s, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      const t = Date.parse(s);
      assert.ok(t >= before && t <= after, `${s} within [${before}, ${after}]`);
      assert.equal(new Date(t).toISOString(), s);
    }
  });
});

describe('access log file', () => {
  test('a file that cannot be opened is a structured error, not a raw ENOENT', () => {
    assert.throws(
      () => new AccessLog('/nonexistent-weft-dir/access.json'),
      (e: unknown) => e instanceof WeftError && e.code === 'WEFT-P013' && /nonexistent-weft-dir/.test(e.message),
    );
  });
});

describe('request deadlines', () => {
  test('expire in arming order, not before their time; cancelled ones never; lengths independent', async () => {
    const dl = new Deadlines();
    try {
      const fired: string[] = [];
      const at = new Map<string, number>();
      let done: () => void = () => undefined;
      const all = new Promise<void>((r) => (done = r));
      const target = (name: string) => ({
        expire() {
          fired.push(name);
          at.set(name, performance.now());
          if (fired.length === 3) done();
        },
      });
      const t0 = performance.now();
      dl.arm(40, target('a'), t0);
      const b = dl.arm(40, target('b'), t0);
      dl.arm(40, target('c'), t0);
      dl.arm(10, target('short'), t0);
      b.cancel();
      await all;
      assert.deepEqual(fired, ['short', 'a', 'c']);
      assert.ok(at.get('a')! >= t0 + 40 && at.get('short')! >= t0 + 10);
    } finally {
      dl.close();
    }
  });

  test('a slow request behind thousands of cancelled quick ones still expires', async () => {
    const dl = new Deadlines();
    try {
      let expired = 0;
      const slow = new Promise<void>((resolve) => dl.arm(30, { expire: () => resolve() }, performance.now()));
      for (let i = 0; i < 5000; i++) dl.arm(30, { expire: () => expired++ }, performance.now()).cancel();
      const late = new Promise<void>((resolve) => dl.arm(30, { expire: () => resolve() }, performance.now()));
      await slow;
      await late;
      assert.equal(expired, 0);
    } finally {
      dl.close();
    }
  });
});

describe('Istio import', () => {
  test('VirtualService + DestinationRule: matches, weights, retries, fault, timeouts, policies; ignored fields listed', () => {
    const loaded = parseRulesText(
      `
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: reviews, namespace: bookinfo }
spec:
  hosts: [reviews]
  http:
  - name: jason
    match:
    - headers: { end-user: { exact: jason } }
      uri: { prefix: /api }
      method: { exact: GET }
    - withoutHeaders: { x-canary: {} }
      uri: { regex: "/v[0-9]+/.*" }
    route:
    - destination: { host: reviews, subset: v2 }
    retries: { attempts: 3, perTryTimeout: 2s, retryOn: "gateway-error,connect-failure,unavailable,cancelled" }
    fault: { abort: { percentage: { value: 0.1 }, httpStatus: 400 }, delay: { percent: 10, fixedDelay: 5s } }
    timeout: 10s
    mirror: { host: reviews, subset: v3 }
  - route:
    - destination: { host: reviews, subset: v1 }
      weight: 75
    - destination: { host: reviews, subset: v3 }
      weight: 25
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews.bookinfo.svc.cluster.local
  trafficPolicy:
    loadBalancer: { consistentHash: { httpHeaderName: x-user } }
    connectionPool: { tcp: { maxConnections: 10, connectTimeout: 1s }, http: { http1MaxPendingRequests: 5, maxRetries: 2 } }
    outlierDetection: { consecutiveErrors: 7, baseEjectionTime: 1m }
    tls: { mode: ISTIO_MUTUAL }
  subsets:
  - name: v1
    labels: { version: v1 }
    trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } }
`,
      'rules.yaml',
      'default',
    );
    const [vs] = loaded.routes;
    const [dr] = loaded.destinations;
    assert.equal(vs!.key, 'bookinfo/reviews');
    const [jason, rest] = vs!.http;
    assert.equal(jason!.name, 'bookinfo/reviews/jason');
    assert.equal(jason!.match[0]!.headers[0]!.name, 'end-user');
    assert.deepEqual(jason!.match[1]!.headers[0], { name: 'x-canary', match: undefined, invert: true });
    assert.equal(jason!.match[1]!.path!.kind, 'regex');
    assert.deepEqual(jason!.destinations, [{ host: 'reviews', subset: 'v2', version: undefined, weight: 100 }]);
    assert.equal(jason!.retries!.attempts, 3);
    assert.equal(jason!.retries!.perTryTimeoutMs, 2000);
    assert.ok(jason!.retries!.on.gatewayError && jason!.retries!.on.connectFailure && jason!.retries!.on.statusCodes.has(503));
    assert.deepEqual(jason!.fault, { delay: { fraction: 0.1, ms: 5000 }, abort: { fraction: 0.001, status: 400 } });
    assert.equal(jason!.timeoutMs, 10_000);
    assert.deepEqual(rest!.destinations.map((d) => [d.subset, d.weight]), [['v1', 75], ['v3', 25]]);
    assert.deepEqual(dr!.policy.lb, { kind: 'consistent-hash', on: { kind: 'header', name: 'x-user' } });
    assert.deepEqual(dr!.policy.breaker, { maxConnections: 10, maxPendingRequests: 5, maxRetries: 2 });
    assert.deepEqual(dr!.policy.outlier, { consecutive5xx: 0, consecutiveGatewayErrors: 7, intervalMs: 10_000, baseEjectionMs: 60_000, maxEjectionPercent: 10 });
    assert.deepEqual(dr!.subsets[0]!.policy.lb, { kind: 'round-robin' });
    assert.deepEqual([...loaded.ignored].sort(), [
      'rules.yaml (document 1): spec.http[0].mirror',
      'rules.yaml (document 2): spec.trafficPolicy.connectionPool.tcp.connectTimeout',
      'rules.yaml (document 2): spec.trafficPolicy.tls',
    ]);
  });

  test('what cannot be imported is an error naming the field', () => {
    const vs = (http: string) => `apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata: { name: x }\nspec:\n  hosts: [x]\n  http:\n${http}`;
    assert.throws(() => parseRulesText(vs('  - redirect: { uri: /y }\n'), 'f.yaml', 'd'), /WEFT-P009.*spec\.http\[0\]: expected a route with `route` destinations/);
    assert.throws(() => parseRulesText(vs('  - route: [{ destination: { host: x }, weight: 0 }]\n'), 'f.yaml', 'd'), /weight above 0/);
    assert.throws(
      () => parseRulesText('apiVersion: networking.istio.io/v1beta1\nkind: DestinationRule\nmetadata: { name: x }\nspec: { host: x, subsets: [{ name: a, labels: { app: x } }] }\n', 'f.yaml', 'd'),
      /subsets\[0\]\.labels\.app: expected a label weft endpoints have/,
    );
    assert.throws(() => parseRulesText('apiVersion: v1\nkind: Service\n', 'f.yaml', 'd'), /WEFT-P009.*kind/);
  });

  test('rule selection: first match wins; hosts resolve in the rule namespace', () => {
    const loaded = parseRulesText(
      `apiVersion: weft.dev/v1alpha1
kind: Route
metadata: { name: r, namespace: shop }
spec:
  hosts: [orders:8080]
  http:
    - name: a
      match: [{ headers: { x-a: { prefix: "1" } }, method: GET }]
      destinations: [{ version: v2 }]
    - name: b
      match: [{ path: { exact: /exact } }, { port: 9000 }]
      destinations: [{ version: v1 }]
`,
      'r.yaml',
      'default',
    );
    const resolver = new MeshHostResolver({ directory: directory(['rest.orders.shop', 'grpc.orders.shop']), servicePorts: new Map([['rest', 8080]]) });
    const rules = new RuleSet(loaded.routes, loaded.destinations, resolver, directory(['rest.orders.shop', 'grpc.orders.shop']));
    const pick = (method: string, path: string, headers: Record<string, string>, port?: number) => rules.select('rest.orders.shop', { method, path, headers, port })?.name;
    assert.equal(pick('GET', '/', { 'x-a': '12' }), 'shop/r/a');
    assert.equal(pick('POST', '/', { 'x-a': '12' }), undefined);
    assert.equal(pick('POST', '/exact', {}), 'shop/r/b');
    assert.equal(pick('POST', '/exact/no', {}), undefined);
    assert.equal(pick('POST', '/', {}, 9000), 'shop/r/b');
    assert.equal(rules.select('grpc.orders.shop', { method: 'GET', path: '/', headers: { 'x-a': '1' }, port: undefined }), undefined, 'orders:8080 is rest, not grpc');
  });
});

describe('outlier detection and balancing', () => {
  const policy = { consecutive5xx: 3, consecutiveGatewayErrors: 0, intervalMs: 1000, baseEjectionMs: 100, maxEjectionPercent: 100 };

  test('consecutive 5xx eject with backoff; a success resets the count; the multiplier decays per healthy interval', () => {
    const st = new EndpointState(endpoint('a'), 10_000, 30, 0);
    const peers = [st, new EndpointState(endpoint('b'), 10_000, 30, 0)];
    const fail = (now: number) => recordOutcome(st, { kind: 'status', status: 503 }, policy, peers, now);
    assert.equal(fail(0), false);
    assert.equal(fail(0), false);
    recordOutcome(st, { kind: 'status', status: 200 }, policy, peers, 0);
    assert.equal(fail(1), false);
    assert.equal(fail(1), false);
    assert.equal(fail(1), true);
    assert.equal(st.ejectedUntil, 101);
    for (let i = 0; i < 3; i++) fail(200);
    assert.equal(st.ejectedUntil, 400, 'second ejection: base × 2');
    // Healthy for 2 intervals after the second ejection ended: the multiplier drops from 2 to 0, then 1.
    for (let i = 0; i < 3; i++) fail(2500);
    assert.equal(st.ejectedUntil, 2600);
  });

  test('gateway errors and local failures; max ejection percent allows one', () => {
    const p = { ...policy, consecutive5xx: 0, consecutiveGatewayErrors: 2, maxEjectionPercent: 10 };
    const a = new EndpointState(endpoint('a'), 10_000, 30, 0);
    const b = new EndpointState(endpoint('b'), 10_000, 30, 0);
    assert.equal(recordOutcome(a, { kind: 'status', status: 500 }, p, [a, b], 0), false);
    assert.equal(recordOutcome(a, { kind: 'status', status: 500 }, p, [a, b], 0), false, '500 is not a gateway error');
    recordOutcome(a, { kind: 'local-failure' }, p, [a, b], 0);
    assert.equal(recordOutcome(a, { kind: 'status', status: 504 }, p, [a, b], 0), true, 'one may always be ejected');
    recordOutcome(b, { kind: 'status', status: 502 }, p, [a, b], 0);
    assert.equal(recordOutcome(b, { kind: 'status', status: 502 }, p, [a, b], 0), false, 'a second would be 100 % > 10 %');
  });

  test('peak EWMA: jumps up at once, decays slowly', () => {
    const e = new PeakEwma(1000, 10, 0);
    e.observe(100, 0);
    assert.equal(e.cost(0), 100);
    e.observe(10, 100);
    assert.ok(e.cost(100) > 85 && e.cost(100) < 100);
    assert.ok(e.cost(5000) < 1, 'idle decays toward 0 so the endpoint gets tried again');
  });

  test('peak EWMA: the first sample replaces the guess; a new endpoint starts at its measured peers\' mean', () => {
    const e = new PeakEwma(10_000, 30, 0);
    assert.equal(e.measured, false);
    e.observe(1, 0);
    assert.equal(e.measured, true);
    assert.equal(e.cost(0), 1, 'not blended with the 30 ms guess');
    const a = new EndpointState(endpoint('a'), 10_000, 30, 0);
    const b = new EndpointState(endpoint('b'), 10_000, 30, 0);
    const fresh = new EndpointState(endpoint('c'), 10_000, 30, 0);
    assert.equal(EndpointState.startingRttMs([a, b], 30, 0), 30, 'nobody measured: the default');
    a.ewma.observe(1, 0);
    b.ewma.observe(3, 0);
    assert.equal(EndpointState.startingRttMs([a, b, fresh], 30, 0), 2, 'unmeasured peers do not count');
  });

  test('smooth weighted round robin interleaves by weight', () => {
    const rr = new RoundRobinBalancer();
    const list = [new EndpointState(endpoint('a', 5), 1, 1, 0), new EndpointState(endpoint('b', 1), 1, 1, 0), new EndpointState(endpoint('c', 1), 1, 1, 0)];
    const seq = Array.from({ length: 7 }, () => rr.pick(list, undefined, undefined, 0)!.ep.key).join('');
    assert.equal(seq, 'aabacaa');
  });
});
