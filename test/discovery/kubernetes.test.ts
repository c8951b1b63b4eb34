import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WeftError } from '../../src/errors.js';
import { KubernetesDiscovery, type KubernetesDiscoveryConfig } from '../../src/discovery/kubernetes.js';
import { FakeKubeApi, makePod, status, watchLine, type WatchConnection } from './_kube-api-server.js';
import { makeTestPki, type TestPki } from './_tls.js';

let pki: TestPki;
let api: FakeKubeApi;
let dir: string;
let tokenPath: string;
let namespacePath: string;

const isCode = (code: string, check?: (e: WeftError) => void) => (e: unknown) => {
  assert.ok(e instanceof WeftError, String(e));
  assert.equal(e.code, code, e.message);
  check?.(e);
  return true;
};

/** A provider against the fake API server with in-cluster style files and env. */
function provider(config: Partial<KubernetesDiscoveryConfig> = {}, errors: WeftError[] = []): KubernetesDiscovery {
  return new KubernetesDiscovery(
    { labelSelector: 'app=weft', port: 7946, tokenPath, caPath: pki.caPath, namespacePath, timeoutMs: 2000, retryDelayMs: 5, maxRetryDelayMs: 20, ...config },
    { onError: (e) => errors.push(e), env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) } },
  );
}

function standardPods(): Record<string, unknown>[] {
  return [
    makePod({ name: 'weft-a', ip: '10.244.0.10' }),
    makePod({ name: 'weft-b', ip: '10.244.0.11' }),
    makePod({ name: 'weft-v6', ip: 'fd00:10:244::c' }),
    makePod({ name: 'weft-pending', phase: 'Pending' }),
    makePod({ name: 'weft-unready', ip: '10.244.0.12', ready: false }),
    makePod({ name: 'weft-noip', ip: undefined }),
    makePod({ name: 'weft-deleting', ip: '10.244.0.13', deleting: true }),
    makePod({ name: 'weft-done', ip: '10.244.0.14', phase: 'Succeeded' }),
    makePod({ name: 'other-app', ip: '10.244.0.15', labels: { app: 'other' } }),
    makePod({ name: 'weft-elsewhere', ip: '10.244.0.16', namespace: 'default' }),
  ];
}

before(async () => {
  pki = makeTestPki();
  api = await FakeKubeApi.start(pki);
  dir = mkdtempSync(join(tmpdir(), 'weft-k8s-'));
  tokenPath = join(dir, 'token');
  namespacePath = join(dir, 'namespace');
  writeFileSync(tokenPath, 'token-1\n');
  writeFileSync(namespacePath, 'mesh');
});
afterEach(async () => {
  await api.quiesce();
  api.pods = standardPods();
  api.token = 'token-1';
  writeFileSync(tokenPath, 'token-1\n');
  api.forbidden = false;
  api.override = undefined;
  api.expireNextContinue = false;
  api.requests.length = 0;
});
after(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(pki.dir, { recursive: true, force: true });
});

describe('KubernetesDiscovery: list', () => {
  test('in-cluster defaults: ready running pods of the namespace and selector only', async () => {
    api.pods = standardPods();
    const list = await provider().discover();
    assert.deepEqual(list.sort(), ['10.244.0.10:7946', '10.244.0.11:7946', '[fd00:10:244::c]:7946']);
    const [req] = api.listRequests();
    assert.equal(req!.path, '/api/v1/namespaces/mesh/pods', 'namespace from the namespace file');
    assert.equal(req!.authorization, 'Bearer token-1', 'token from the token file, trimmed');
    assert.equal(req!.query.get('labelSelector'), 'app=weft');
    assert.equal(req!.query.get('limit'), '500');
  });

  test('explicit namespace, apiServer and a selector with several terms', async () => {
    api.pods = standardPods();
    const list = await provider({ namespace: 'default', apiServer: `${api.url}/`, labelSelector: 'app=weft,tier!=canary' }).discover();
    assert.deepEqual(list, ['10.244.0.16:7946']);
    assert.equal(api.requests[0]!.query.get('labelSelector'), 'app=weft,tier!=canary');
  });

  test('portName picks the named container port; pods without it are skipped', async () => {
    api.pods = [
      makePod({ name: 'weft-a', ip: '10.244.0.10', ports: [{ name: 'metrics', containerPort: 9090 }, { name: 'gossip', containerPort: 7000 }] }),
      makePod({ name: 'weft-b', ip: '10.244.0.11', ports: [{ containerPort: 7946 }] }),
    ];
    assert.deepEqual(await provider({ port: undefined, portName: 'gossip' }).discover(), ['10.244.0.10:7000']);
  });

  test('pages through limit/continue', async () => {
    api.pods = Array.from({ length: 7 }, (_, i) => makePod({ name: `weft-${i}`, ip: `10.244.1.${i}` }));
    const list = await provider({ pageSize: 3 }).discover();
    assert.equal(list.length, 7);
    const reqs = api.listRequests();
    assert.equal(reqs.length, 3);
    assert.deepEqual(reqs.map((r) => r.query.get('limit')), ['3', '3', '3']);
    assert.equal(reqs[0]!.query.get('continue'), null);
    assert.ok(reqs[1]!.query.get('continue') && reqs[2]!.query.get('continue') !== reqs[1]!.query.get('continue'));
  });

  test('an expired continue token restarts the list from the beginning', async () => {
    api.pods = Array.from({ length: 5 }, (_, i) => makePod({ name: `weft-${i}`, ip: `10.244.1.${i}` }));
    api.expireNextContinue = true;
    assert.equal((await provider({ pageSize: 2 }).discover()).length, 5);
    const reqs = api.listRequests();
    assert.deepEqual(reqs.map((r) => r.query.has('continue')), [false, true, false, true, true]);
  });

  test('the token is re-read on every request (projected tokens rotate)', async () => {
    api.pods = standardPods();
    const p = provider();
    await p.discover();
    api.token = 'token-2';
    writeFileSync(tokenPath, 'token-2');
    await p.discover();
    assert.deepEqual(api.requests.map((r) => r.authorization), ['Bearer token-1', 'Bearer token-2']);
  });

  test('401 and 403 are WEFT-D008 with the Status reason and message', async () => {
    api.token = 'another-token';
    await assert.rejects(provider().discover(), isCode('WEFT-D008', (e) => assert.deepEqual([e.details.status, e.details.reason], [401, 'Unauthorized'])));
    api.token = 'token-1';
    api.forbidden = true;
    await assert.rejects(
      provider().discover(),
      isCode('WEFT-D008', (e) => {
        assert.equal(e.details.status, 403);
        assert.match(String(e.details.message), /cannot list resource "pods"/);
      }),
    );
  });

  test('other statuses are WEFT-D009', async () => {
    api.override = (_req, res) => {
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end('<html>oops</html>');
      return true;
    };
    await assert.rejects(provider().discover(), isCode('WEFT-D009', (e) => assert.equal(e.details.status, 500)));
  });

  test('missing in-cluster configuration is WEFT-D007, before any request', async () => {
    const noEnv = new KubernetesDiscovery({ labelSelector: 'app=weft', port: 1, tokenPath, caPath: pki.caPath, namespacePath }, { env: {} });
    await assert.rejects(noEnv.discover(), isCode('WEFT-D007', (e) => assert.match(e.message, /KUBERNETES_SERVICE_HOST/)));
    await assert.rejects(provider({ tokenPath: join(dir, 'absent') }).discover(), isCode('WEFT-D007', (e) => assert.match(e.message, /token file/)));
    await assert.rejects(provider({ caPath: join(dir, 'absent') }).discover(), isCode('WEFT-D007', (e) => assert.match(e.message, /CA file/)));
    await assert.rejects(provider({ namespacePath: join(dir, 'absent') }).discover(), isCode('WEFT-D007'));
    writeFileSync(join(dir, 'bad-ns'), 'Not/A/Namespace');
    await assert.rejects(provider({ namespacePath: join(dir, 'bad-ns') }).discover(), isCode('WEFT-D007'));
    writeFileSync(join(dir, 'empty-token'), '\n');
    await assert.rejects(provider({ tokenPath: join(dir, 'empty-token') }).discover(), isCode('WEFT-D007'));
    assert.equal(api.requests.length, 0);
  });

  test('a server certificate from another CA is refused (WEFT-D009), the token never sent', async () => {
    const other = makeTestPki('another CA');
    try {
      await assert.rejects(provider({ caPath: other.caPath }).discover(), isCode('WEFT-D009'));
      assert.equal(api.requests.length, 0);
    } finally {
      rmSync(other.dir, { recursive: true, force: true });
    }
  });

  test('hostile bodies: too large (declared or streamed), malformed, wrong shape', async () => {
    const serve = (body: string | Buffer, headers: Record<string, string | number> = {}) => {
      api.override = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', ...headers });
        res.end(body);
        return true;
      };
    };
    serve('{"kind":"PodList","items":[]}'.padEnd(5000, ' '), { 'content-length': 5000 });
    await assert.rejects(provider({ maxResponseBytes: 4096 }).discover(), isCode('WEFT-D011'));
    // Chunked, no length: the cap applies while reading; the server's rest is never read.
    api.override = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 64 && res.write(chunk)) sent++;
        if (sent < 64 && !res.destroyed) res.once('drain', pump);
        else res.end();
      };
      pump();
      return true;
    };
    await assert.rejects(provider({ maxResponseBytes: 100_000 }).discover(), isCode('WEFT-D011'));
    serve('{"kind":"PodList","items":[{"metadata":');
    await assert.rejects(provider().discover(), isCode('WEFT-D010', (e) => assert.match(e.message, /not JSON/)));
    serve('{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}');
    await assert.rejects(provider().discover(), isCode('WEFT-D010', (e) => assert.match(e.message, /SecretList/)));
    serve('{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":{}}');
    await assert.rejects(provider().discover(), isCode('WEFT-D010'));
    serve('[1,2,3]');
    await assert.rejects(provider().discover(), isCode('WEFT-D010'));
    serve('{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}');
    await assert.rejects(provider().discover(), isCode('WEFT-D010', (e) => assert.match(e.message, /resourceVersion/)));
  });

  test('items of the wrong shape are skipped, never a crash', async () => {
    const good = makePod({ name: 'weft-ok', ip: '10.244.0.10' });
    const weird: unknown[] = [
      null,
      42,
      'pod',
      [],
      { metadata: null },
      { metadata: { uid: 'x' }, status: { phase: 'Running', podIP: 10, conditions: [{ type: 'Ready', status: 'True' }] } },
      { metadata: { uid: 'y' }, status: { phase: 'Running', podIP: 'evil.example', conditions: [{ type: 'Ready', status: 'True' }] } },
      { metadata: { uid: 'z' }, status: { phase: 'Running', podIP: '10.0.0.1', conditions: 'Ready' } },
      { metadata: { uid: 'w' }, status: { phase: 'Running', podIP: '10.0.0.2', conditions: [null, { type: 'Ready', status: true }] } },
      { metadata: { name: 'named-only' }, status: { phase: 'Running', podIP: '10.0.0.3', conditions: [{ type: 'Ready', status: 'True' }] } },
    ];
    api.override = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [...weird, good] }));
      return true;
    };
    assert.deepEqual((await provider().discover()).sort(), ['10.0.0.3:7946', '10.244.0.10:7946']);
  });

  test('a server that repeats the same continue token is WEFT-D010, not a loop', async () => {
    api.override = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1', continue: 'same' }, items: [] }));
      return true;
    };
    await assert.rejects(provider().discover(), isCode('WEFT-D010', (e) => assert.match(e.message, /continue token/)));
    assert.equal(api.requests.length, 2);
  });

  test('a server that never answers times out (WEFT-D009) after timeoutMs', async () => {
    api.override = () => true;
    const t0 = performance.now();
    await assert.rejects(provider({ timeoutMs: 150 }).discover(), isCode('WEFT-D009', (e) => assert.equal(e.details.reason, 'timeout')));
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 140 && elapsed < 2000, `${elapsed} ms`);
  });

  test('a connection closed mid-body is WEFT-D009', async () => {
    api.override = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 });
      res.write('{"kind":"PodList",');
      setImmediate(() => res.destroy());
      return true;
    };
    await assert.rejects(provider().discover(), isCode('WEFT-D009'));
  });

  test('abort rejects with the signal reason', async () => {
    api.override = () => true;
    const ac = new AbortController();
    const pending = provider({ timeoutMs: 5000 }).discover(ac.signal);
    setTimeout(() => ac.abort(new Error('stop now')), 20);
    await assert.rejects(pending, /stop now/);
  });
});

describe('KubernetesDiscovery: watch', () => {
  /** Starts a watch; returns helpers to await lists and watch connections. */
  function startWatch(config: Partial<KubernetesDiscoveryConfig> = {}) {
    const errors: WeftError[] = [];
    const lists: string[][] = [];
    let wake: (() => void) | undefined;
    const ac = new AbortController();
    const done = provider(config, errors).watch((l) => {
      lists.push([...l].sort());
      wake?.();
    }, ac.signal);
    return {
      errors,
      lists,
      ac,
      done,
      async list(n: number): Promise<string[]> {
        while (lists.length < n) await new Promise<void>((r) => (wake = r));
        return lists[n - 1]!;
      },
      async errorCount(n: number): Promise<void> {
        while (errors.length < n) await new Promise((r) => setTimeout(r, 2));
      },
    };
  }

  test('list, then follow ADDED / MODIFIED / DELETED / BOOKMARK events split across chunks', async () => {
    api.pods = [makePod({ name: 'weft-a', ip: '10.244.0.10', resourceVersion: '4000' })];
    api.resourceVersion = '5000';
    const w = startWatch();
    assert.deepEqual(await w.list(1), ['10.244.0.10:7946']);
    const conn = await api.nextWatch();
    assert.equal(conn.query.get('watch'), 'true');
    assert.equal(conn.query.get('resourceVersion'), '5000');
    assert.equal(conn.query.get('allowWatchBookmarks'), 'true');
    assert.equal(conn.query.get('labelSelector'), 'app=weft');
    assert.equal(conn.query.get('timeoutSeconds'), '300');

    const b = makePod({ name: 'weft-b', ip: '10.244.0.11', resourceVersion: '5001' });
    const added = watchLine('ADDED', b);
    conn.send(added.slice(0, 17));
    conn.send(added.slice(17, 400));
    conn.send(added.slice(400));
    assert.deepEqual(await w.list(2), ['10.244.0.10:7946', '10.244.0.11:7946']);

    // Two events, the second one cut in the middle: lists are reported once per received chunk.
    const notReady = makePod({ name: 'weft-b', ip: '10.244.0.11', ready: false, resourceVersion: '5002' });
    (notReady.metadata as Record<string, unknown>).uid = (b.metadata as Record<string, unknown>).uid;
    const c = makePod({ name: 'weft-c', ip: '10.244.0.12', resourceVersion: '5003' });
    const two = watchLine('MODIFIED', notReady) + watchLine('ADDED', c);
    conn.send(two.slice(0, -30));
    assert.deepEqual(await w.list(3), ['10.244.0.10:7946']);
    conn.send(two.slice(-30));
    assert.deepEqual(await w.list(4), ['10.244.0.10:7946', '10.244.0.12:7946']);

    const gone = api.pods[0]!;
    conn.send(watchLine('DELETED', gone));
    assert.deepEqual(await w.list(5), ['10.244.0.12:7946']);

    conn.send(watchLine('BOOKMARK', { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '5100' } }));
    // The server ends the watch (its timeoutSeconds): the next watch resumes from the bookmark.
    conn.end();
    const again = await api.nextWatch();
    assert.equal(again.query.get('resourceVersion'), '5100');
    assert.deepEqual(w.errors.map((e) => e.message), []);
    assert.equal(api.listRequests().length, 1, 'no re-list after a normal end');
    w.ac.abort();
    await w.done;
    await again.closed;
  });

  test('a stream of events cut at random byte positions gives the same final list (seeded)', async () => {
    api.pods = [];
    const w = startWatch();
    assert.deepEqual(await w.list(1), []);
    const conn = await api.nextWatch();
    const pods = Array.from({ length: 12 }, (_, i) => makePod({ name: `weft-${i}`, ip: `10.244.3.${i}`, resourceVersion: String(6000 + i) }));
    let stream = pods.map((p) => watchLine('ADDED', p)).join('');
    stream += [1, 4, 7].map((i) => watchLine('DELETED', pods[i])).join('');
    const expected = pods.length - 3;
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const bytes = Buffer.from(stream);
    for (let at = 0; at < bytes.length; ) {
      const n = 1 + Math.floor(rand() * 700);
      conn.send(bytes.subarray(at, at + n));
      at += n;
    }
    const want = pods.map((_, i) => i).filter((i) => ![1, 4, 7].includes(i)).map((i) => `10.244.3.${i}:7946`).sort();
    assert.equal(want.length, expected);
    while (JSON.stringify(w.lists.at(-1)) !== JSON.stringify(want)) await w.list(w.lists.length + 1);
    assert.deepEqual(w.errors, []);
    w.ac.abort();
    await w.done;
  });

  test('ERROR 410 Expired in the stream: reported as WEFT-D012, then a fresh list and watch', async () => {
    api.pods = [makePod({ name: 'weft-a', ip: '10.244.0.10' })];
    const w = startWatch();
    await w.list(1);
    const conn = await api.nextWatch();
    api.pods.push(makePod({ name: 'weft-b', ip: '10.244.0.11' }));
    api.resourceVersion = '7000';
    conn.send(watchLine('ERROR', status(410, 'Expired', 'too old resource version: 5000 (6999)')));
    assert.deepEqual(await w.list(2), ['10.244.0.10:7946', '10.244.0.11:7946']);
    assert.deepEqual(w.errors.map((e) => e.code), ['WEFT-D012']);
    const next = await api.nextWatch();
    assert.equal(next.query.get('resourceVersion'), '7000');
    assert.equal(api.listRequests().length, 2);
    w.ac.abort();
    await w.done;
  });

  test('410 as the HTTP status of the watch request also re-lists', async () => {
    api.pods = [makePod({ name: 'weft-a', ip: '10.244.0.10' })];
    let watches = 0;
    api.override = (_req, res, url) => {
      if (url.searchParams.get('watch') !== 'true' || watches++ > 0) return false;
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status(410, 'Gone', 'too old resource version')));
      return true;
    };
    const w = startWatch();
    await w.list(1);
    await api.nextWatch();
    assert.deepEqual(w.errors.map((e) => e.code), ['WEFT-D012']);
    assert.equal(api.listRequests().length, 2);
    w.ac.abort();
    await w.done;
  });

  test('malformed and oversized events: reported, then a fresh list; the last list is kept meanwhile', async () => {
    api.pods = [makePod({ name: 'weft-a', ip: '10.244.0.10' })];
    const w = startWatch({ maxEventBytes: 4096 });
    await w.list(1);
    let conn: WatchConnection = await api.nextWatch();
    conn.send('{"type":"ADDED","object":{"metadata":\n');
    await w.errorCount(1);
    assert.equal(w.errors[0]!.code, 'WEFT-D010');
    conn = await api.nextWatch();
    assert.equal(api.listRequests().length, 2);

    conn.send(`{"type":"ADDED","object":{"padding":"${'x'.repeat(3000)}`);
    conn.send(`${'y'.repeat(3000)}"}}\n`);
    await w.errorCount(2);
    assert.equal(w.errors[1]!.code, 'WEFT-D011');
    conn = await api.nextWatch();

    conn.send(watchLine('SOMETHING', { metadata: {} }));
    await w.errorCount(3);
    assert.equal(w.errors[2]!.code, 'WEFT-D010');
    conn = await api.nextWatch();

    conn.send(watchLine('ERROR', status(500, 'InternalError', 'etcd is sad')));
    await w.errorCount(4);
    assert.deepEqual([w.errors[3]!.code, w.errors[3]!.details.status], ['WEFT-D009', 500]);
    conn = await api.nextWatch();
    assert.equal(w.lists.length, 1, 'the address list never flapped to empty');
    w.ac.abort();
    await w.done;
  });

  test('a dropped connection resumes from the last resourceVersion without re-listing', async () => {
    api.pods = [makePod({ name: 'weft-a', ip: '10.244.0.10' })];
    const w = startWatch();
    await w.list(1);
    const conn = await api.nextWatch();
    conn.send(watchLine('BOOKMARK', { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '6000' } }));
    conn.send(watchLine('ADDED', makePod({ name: 'weft-b', ip: '10.244.0.11', resourceVersion: '6001' })));
    await w.list(2);
    // The next watch attempt is cut too; the one after that gets through.
    let cut = 0;
    api.override = (_req, res, url) => {
      if (url.searchParams.get('watch') !== 'true' || cut++ > 0) return false;
      res.destroy();
      return true;
    };
    conn.send('{"type":"MODIFIED","obj');
    conn.destroy();
    const resumed = await api.nextWatch();
    assert.equal(resumed.query.get('resourceVersion'), '6001');
    assert.equal(api.listRequests().length, 1);
    assert.equal(w.errors.length, 2);
    assert.ok(w.errors.every((e) => e.code === 'WEFT-D009'), w.errors.map((e) => e.message).join('; '));
    w.ac.abort();
    await w.done;
  });

  test('403 while watching is WEFT-D008 and retried with backoff', async () => {
    api.pods = [makePod({ name: 'weft-a', ip: '10.244.0.10' })];
    const w = startWatch();
    await w.list(1);
    const conn = await api.nextWatch();
    api.forbidden = true;
    conn.end();
    await w.errorCount(2);
    assert.ok(w.errors.every((e) => e.code === 'WEFT-D008'));
    api.forbidden = false;
    await api.nextWatch();
    w.ac.abort();
    await w.done;
  });

  test('abort ends the watch and closes the stream', async () => {
    api.pods = [makePod({ name: 'weft-a', ip: '10.244.0.10' })];
    const w = startWatch();
    await w.list(1);
    const conn = await api.nextWatch();
    w.ac.abort();
    await w.done;
    await conn.closed;
    assert.deepEqual(w.errors, []);
  });
});
