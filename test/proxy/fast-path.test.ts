// The HTTP/1.1 fast path end to end on raw sockets: keep-alive on both sides,
// pipelining, Content-Length and chunked responses relayed, bodies without
// framing, the stale keep-alive race, the same upstream request as the full
// path, and the hand-over to the full path (node:http + guard) of requests the
// strict parser declines — including a smuggling attempt after a good request
// on the same connection.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { startHarness, until, type Harness } from './_harness.js';

const H = 'Host: rest.orders.shop\r\n';

/** A raw client: writes bytes, collects what comes back until `done(text)` holds or the socket closes. */
class RawClient {
  readonly socket: Socket;
  text = '';
  closed = false;
  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setEncoding('latin1');
    this.socket.on('data', (d: string) => (this.text += d));
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => undefined);
  }
  async send(bytes: string, done: (text: string) => boolean): Promise<string> {
    const from = this.text.length;
    this.socket.write(bytes);
    await until(() => done(this.text.slice(from)) || this.closed, 5000, 'response');
    return this.text.slice(from);
  }
}

/** Responses in `text`, by counting complete Content-Length or chunked messages. */
function responses(text: string): { status: number; headers: Record<string, string>; body: string }[] {
  const out: { status: number; headers: Record<string, string>; body: string }[] = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return out;
    const lines = rest.slice(0, end).split('\r\n');
    const status = Number(lines[0]!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    let body = rest.slice(end + 4);
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (body.length < n) return out;
      rest = body.slice(n);
      body = body.slice(0, n);
    } else if (headers['transfer-encoding'] === 'chunked') {
      const e = body.indexOf('0\r\n\r\n');
      if (e < 0) return out;
      rest = body.slice(e + 5);
      body = body.slice(0, e + 5);
    } else rest = '';
    out.push({ status, headers, body });
  }
}

const fallbacks = (h: Harness) => Number(/weft_proxy_fast_path_fallbacks_total (\d+)/.exec(h.registry.render())?.[1] ?? 0);

describe('HTTP/1.1 fast path', () => {
  let h: Harness;
  let upstreamConnections = 0;
  const upstreamSockets = new Set<Socket>();
  const seen: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[] = [];

  before(async () => {
    h = await startHarness({ proxy: { timeouts: { upstreamIdle: '30s' } } });
    h.meshlet('shop', 'orders', ['rest']);
    const server = await h.serveHttp('shop', 'orders', 'main', 'rest', (req, res) => {
      let body = '';
      req.setEncoding('latin1');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        const u = req.url!;
        if (u === '/chunked') {
          res.write('part one;');
          setTimeout(() => res.end('part two'), 5);
        } else if (u === '/no-content') {
          res.statusCode = 204;
          res.end();
        } else if (u === '/http10') {
          // An HTTP/1.0 answer with its own x-request-id and a header it names in Connection.
          res.socket!.write('HTTP/1.0 200 Fine\r\nX-Request-Id: upstream-id\r\nConnection: X-Old-Hop\r\nX-Old-Hop: 1\r\nContent-Length: 6\r\nX-After: yes\r\n\r\nold ok');
        } else if (u === '/until-close') {
          // No Content-Length, no chunking: the body ends when the connection does.
          res.socket!.write('HTTP/1.1 200 OK\r\nX-Raw: 1\r\n\r\nraw body to the end');
          res.socket!.destroySoon();
        } else {
          res.setHeader('content-type', 'text/plain');
          res.setHeader('connection', 'X-Up-Hop');
          res.setHeader('x-up-hop', 'drop me');
          res.end(`ok ${req.method} ${u}`);
        }
      });
    });
    server.on('connection', (sock: Socket) => {
      upstreamConnections++;
      upstreamSockets.add(sock);
      sock.on('close', () => upstreamSockets.delete(sock));
    });
  });
  after(() => h.close());

  test('keep-alive on both sides: many requests, one client and one upstream connection; nothing falls back', async () => {
    const before = upstreamConnections;
    const c = new RawClient(h.proxyPort);
    for (let i = 0; i < 20; i++) {
      const out = await c.send(`GET /k${i} HTTP/1.1\r\n${H}\r\n`, (t) => responses(t).length === 1);
      const [r] = responses(out);
      assert.equal(r!.status, 200);
      assert.equal(r!.body, `ok GET /k${i}`);
      assert.match(r!.headers['x-request-id']!, /^[0-9a-f-]{36}$/);
      assert.equal(r!.headers['x-up-hop'], undefined, 'a header the upstream named in Connection is dropped');
      assert.equal(r!.headers.connection, undefined);
    }
    c.socket.destroy();
    assert.equal(upstreamConnections - before, 1);
    assert.equal(fallbacks(h), 0);
  });

  test('pipelined requests are answered in order', async () => {
    const c = new RawClient(h.proxyPort);
    const out = await c.send(`GET /p1 HTTP/1.1\r\n${H}\r\nPOST /p2 HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabcGET /p3 HTTP/1.1\r\n${H}\r\n`, (t) => responses(t).length === 3);
    assert.deepEqual(responses(out).map((r) => r.body), ['ok GET /p1', 'ok POST /p2', 'ok GET /p3']);
    assert.equal(seen.find((s) => s.url === '/p2')?.body, 'abc');
    c.socket.destroy();
  });

  test('chunked, empty and close-delimited responses; Connection: close is honoured', async () => {
    const c = new RawClient(h.proxyPort);
    const [a] = responses(await c.send(`GET /chunked HTTP/1.1\r\n${H}\r\n`, (t) => responses(t).length === 1));
    assert.equal(a!.headers['transfer-encoding'], 'chunked');
    assert.match(a!.body, /part one;[\s\S]*part two[\s\S]*0\r\n\r\n$/);
    const [b] = responses(await c.send(`GET /no-content HTTP/1.1\r\n${H}\r\n`, (t) => responses(t).length === 1));
    assert.equal(b!.status, 204);
    const [d] = responses(await c.send(`HEAD /k HTTP/1.1\r\n${H}\r\n`, (t) => t.includes('\r\n\r\n')));
    assert.equal(d!.status, 200);
    const last = await c.send(`GET /until-close HTTP/1.1\r\n${H}\r\n`, () => false);
    assert.ok(c.closed);
    assert.match(last, /^HTTP\/1.1 200 OK\r\n/);
    assert.match(last, /connection: close\r\n/);
    assert.match(last, /raw body to the end$/);
    const c2 = new RawClient(h.proxyPort);
    const closing = await c2.send(`GET /bye HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, () => false);
    assert.ok(c2.closed);
    assert.match(closing, /connection: close\r\n/);
    assert.match(closing, /ok GET \/bye$/);
  });

  test('response heads are rewritten: HTTP/1.0 answered as HTTP/1.1, the proxy\'s x-request-id only, Connection-named headers out', async () => {
    const c = new RawClient(h.proxyPort);
    const out = await c.send(`GET /http10 HTTP/1.1\r\n${H}X-Request-Id: client-id\r\n\r\n`, (t) => responses(t).length === 1);
    assert.match(out, /^HTTP\/1\.1 200 Fine\r\n/);
    const [r] = responses(out);
    assert.equal(r!.body, 'old ok');
    assert.equal(r!.headers['x-request-id'], 'client-id');
    assert.equal(out.match(/x-request-id/gi)!.length, 1);
    assert.equal(r!.headers['x-old-hop'], undefined);
    assert.equal(r!.headers['x-after'], 'yes');
    // The client connection stays open for the next request (the upstream one is not reused: HTTP/1.0 without keep-alive).
    const [again] = responses(await c.send(`GET /k-after HTTP/1.1\r\n${H}\r\n`, (t) => responses(t).length === 1));
    assert.equal(again!.body, 'ok GET /k-after');
    c.socket.destroy();
  });

  test('the upstream request is the same as the full path sends (hop-by-hop out, trace and forwarding headers in)', async () => {
    const req = (path: string) =>
      `POST http://rest.orders.shop${path} HTTP/1.1\r\n${H}Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic eA==\r\nTE: trailers\r\n` +
      `X-Forwarded-For: 10.0.0.1\r\nX-Request-Id: req-123\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nX-Custom: v\r\nX-Forwarded-Port: 8443\r\nX-Custom: again\r\nContent-Length: 2\r\n\r\nhi`;
    const c = new RawClient(h.proxyPort);
    await c.send(req('/same-fast'), (t) => responses(t).length === 1);
    c.socket.destroy();
    const full = await startHarness({ proxy: { fastPath: false } });
    try {
      full.meshlet('shop', 'orders', ['rest']);
      const got: IncomingHttpHeaders[] = [];
      await full.serveHttp('shop', 'orders', 'main', 'rest', (r, res) => {
        got.push(r.headers);
        r.resume();
        r.on('end', () => res.end('x'));
      });
      const c2 = new RawClient(full.proxyPort);
      await c2.send(req('/same-full'), (t) => responses(t).length === 1);
      c2.socket.destroy();
      const fast = seen.find((s) => s.url === '/same-fast')!;
      assert.equal(fast.body, 'hi');
      const norm = (x: IncomingHttpHeaders) => {
        const { traceparent, connection, ...rest } = x;
        void connection;
        return { ...rest, traceparent: String(traceparent).replace(/-[0-9a-f]{16}-/, '-SPAN-') };
      };
      assert.deepEqual(norm(fast.headers), norm(got[0]!));
      assert.equal(fast.headers['x-hop'], undefined);
      assert.equal(fast.headers['keep-alive'], undefined);
      assert.equal(fast.headers['proxy-authorization'], undefined);
      assert.equal(fast.headers['x-request-id'], 'req-123');
      assert.equal(fast.headers['x-forwarded-for'], '10.0.0.1, 127.0.0.1');
      assert.equal(fast.headers['x-forwarded-port'], '8443');
      assert.equal(fast.headers['x-custom'], 'v, again');
      assert.match(String(fast.headers.traceparent), /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    } finally {
      await full.close();
    }
  });

  test('declined requests go to the full path on the same connection: chunked body, then a smuggling attempt gets 400 and never reaches the upstream', async () => {
    const before = fallbacks(h);
    const n = seen.length;
    const c = new RawClient(h.proxyPort);
    const [a] = responses(await c.send(`GET /first HTTP/1.1\r\n${H}\r\n`, (t) => responses(t).length === 1));
    assert.equal(a!.body, 'ok GET /first');
    const [b] = responses(await c.send(`POST /chunked-in HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, (t) => responses(t).length === 1));
    assert.equal(b!.body, 'ok POST /chunked-in');
    assert.equal(seen.at(-1)!.body, 'abc');
    const smuggle = await c.send(`POST /smuggle HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /evil HTTP/1.1\r\n${H}\r\n`, (t) => responses(t).length === 1);
    assert.match(smuggle, /^HTTP\/1.1 400 /);
    assert.match(smuggle, /WEFT-P001/);
    await until(() => c.closed, 3000, 'close after 400');
    assert.deepEqual(seen.slice(n).map((s) => s.url), ['/first', '/chunked-in']);
    assert.equal(fallbacks(h), before + 1);
  });

  test('HTTP/1.0 and Expect: 100-continue take the full path and still work', async () => {
    const c = new RawClient(h.proxyPort);
    const out = await c.send(`GET /old HTTP/1.0\r\n${H}\r\n`, () => false);
    assert.match(out, /^HTTP\/1.1 200 /);
    assert.match(out, /ok GET \/old$/);
    const c2 = new RawClient(h.proxyPort);
    const cont = await c2.send(`POST /cont HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 2\r\n\r\n`, (t) => t.includes('100 Continue'));
    assert.match(cont, /100 Continue/);
    const [r] = responses((await c2.send('hi', (t) => responses(t).length >= 1)).replace(/^[\s\S]*?(?=HTTP\/1.1 200)/, ''));
    assert.equal(r!.body, 'ok POST /cont');
    c2.socket.destroy();
  });

  test('a pooled connection the upstream closed while idle: the next request still gets its answer', async () => {
    const c = new RawClient(h.proxyPort);
    await c.send(`GET /warm HTTP/1.1\r\n${H}\r\n`, (t) => responses(t).length === 1);
    // The upstream closes its side of every keep-alive connection (as its idle timer would) just as the next request goes out.
    const n = upstreamConnections;
    assert.ok(upstreamSockets.size > 0);
    for (const s of upstreamSockets) s.destroy();
    const [r] = responses(await c.send(`GET /after-idle HTTP/1.1\r\n${H}\r\n`, (t) => responses(t).length === 1));
    assert.equal(r!.status, 200);
    assert.equal(r!.body, 'ok GET /after-idle');
    assert.ok(upstreamConnections > n, 'a new upstream connection carried it');
    c.socket.destroy();
  });

  test('a request that ends mid-head waits; a request larger than the retry buffer takes the full path', async () => {
    const c = new RawClient(h.proxyPort);
    c.socket.write(`GET /slow-head HTTP/1.1\r\nHo`);
    await new Promise((r) => setTimeout(r, 20));
    const [r] = responses(await c.send(`st: rest.orders.shop\r\n\r\n`, (t) => responses(t).length === 1));
    assert.equal(r!.body, 'ok GET /slow-head');
    // One byte at a time (a slow or hostile sender): still one request, body whole.
    const slow = `PUT /trickle HTTP/1.1\r\n${H}Content-Length: 1000\r\n\r\n${'t'.repeat(1000)}`;
    c.socket.setNoDelay(true);
    const from = c.text.length;
    for (const ch of slow) {
      c.socket.write(ch);
      await new Promise((r) => setImmediate(r));
    }
    await until(() => responses(c.text.slice(from)).length === 1, 5000, 'trickled response');
    assert.equal(responses(c.text.slice(from))[0]!.body, 'ok PUT /trickle');
    assert.equal(seen.at(-1)!.body, 't'.repeat(1000));
    const big = 'z'.repeat(70 * 1024);
    const before = fallbacks(h);
    const [b] = responses(await c.send(`POST /big HTTP/1.1\r\n${H}Content-Length: ${big.length}\r\n\r\n${big}`, (t) => responses(t).length === 1));
    assert.equal(b!.body, 'ok POST /big');
    assert.equal(seen.at(-1)!.body.length, big.length);
    assert.equal(fallbacks(h), before + 1);
    c.socket.destroy();
  });

  test('shutdown: idle connections close at once, a busy one after its response (with connection: close)', async () => {
    const g = await startHarness();
    try {
      g.meshlet('shop', 'orders', ['rest']);
      await g.serveHttp('shop', 'orders', 'main', 'rest', (req, res) => {
        req.resume();
        if (req.url === '/slow') setTimeout(() => res.end('slow done'), 300);
        else res.end('quick');
      });
      const idle = new RawClient(g.proxyPort);
      await idle.send(`GET /quick HTTP/1.1\r\n${H}\r\n`, (t) => responses(t).length === 1);
      const busy = new RawClient(g.proxyPort);
      busy.socket.write(`GET /slow HTTP/1.1\r\n${H}\r\n`);
      await until(() => g.proxy.fastConnections.size === 2 && g.access.length >= 1, 3000, 'two connections');
      await new Promise((r) => setTimeout(r, 50));
      const closing = g.proxy.close(5000);
      await until(() => idle.closed, 1000, 'idle connection closed');
      assert.equal(busy.closed, false);
      await until(() => busy.closed, 3000, 'busy connection closed after its response');
      const [r] = responses(busy.text);
      assert.equal(r!.body, 'slow done');
      assert.equal(r!.headers.connection, 'close');
      await closing;
    } finally {
      await g.close().catch(() => undefined);
    }
  });

  test('a head that does not arrive whole within the headers timeout gets 408 and the connection closes', async () => {
    const g = await startHarness({ proxy: { timeouts: { headers: '200ms' } } });
    try {
      const c = new RawClient(g.proxyPort);
      const out = await c.send(`GET /never HTTP/1.1\r\nHo`, () => false);
      assert.ok(c.closed);
      assert.match(out, /^HTTP\/1.1 408 /);
    } finally {
      await g.close();
    }
  });
});
