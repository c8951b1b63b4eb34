// Malformed and ambiguous requests, written on raw sockets: each gets a 400
// with the structured error and never reaches the upstream. Some are refused by
// Node's parser (they arrive as clientError), the rest by the proxy's guard;
// the test does not care which, only that the service sees none of them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startHarness, type Harness } from './_harness.js';

function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(bytes));
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => (out += d));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? resolve(out) : reject(e)));
    s.on('close', () => resolve(out));
    s.setTimeout(3000, () => s.destroy());
  });
}

const H = 'Host: rest.orders.shop\r\n';

const CASES: Record<string, string> = {
  'bad request line': 'GARBAGE\r\n\r\n',
  'lower-case method': 'get / HTTP/1.1\r\n' + H + '\r\n',
  'space in the target': 'GET /a b HTTP/1.1\r\n' + H + '\r\n',
  'HTTP/0.9 request line': 'GET /\r\n\r\n',
  'HTTP/2.0 in an HTTP/1 request line': 'GET / HTTP/2.0\r\n' + H + '\r\n',
  'target neither origin- nor absolute-form': 'GET foo HTTP/1.1\r\n' + H + '\r\n',
  'https:// absolute-form (use CONNECT)': 'GET https://rest.orders.shop/ HTTP/1.1\r\n' + H + '\r\n',
  'userinfo in absolute-form': 'GET http://user:pw@rest.orders.shop/ HTTP/1.1\r\n' + H + '\r\n',
  'asterisk-form': 'OPTIONS * HTTP/1.1\r\n' + H + '\r\n',
  'headers over the size limit': 'GET / HTTP/1.1\r\n' + H + 'X-Big: ' + 'a'.repeat(20_000) + '\r\n\r\n',
  'many headers over the size limit': 'GET / HTTP/1.1\r\n' + H + Array.from({ length: 800 }, (_, i) => `X-H${i}: ${'v'.repeat(20)}\r\n`).join('') + '\r\n',
  'Content-Length and Transfer-Encoding (CL.TE)': 'POST / HTTP/1.1\r\n' + H + 'Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG',
  'Transfer-Encoding and Content-Length (TE.CL)': 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n',
  'two Content-Length, same value': 'POST / HTTP/1.1\r\n' + H + 'Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd',
  'two Content-Length, different values': 'POST / HTTP/1.1\r\n' + H + 'Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde',
  'Content-Length list': 'POST / HTTP/1.1\r\n' + H + 'Content-Length: 4, 4\r\n\r\nabcd',
  'Transfer-Encoding: identity, chunked': 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n',
  'Transfer-Encoding: xchunked': 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n',
  'Transfer-Encoding twice': 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'Transfer-Encoding in HTTP/1.0': 'POST / HTTP/1.0\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'obs-fold (line folding)': 'GET / HTTP/1.1\r\n' + H + 'X-A: b\r\n  folded\r\n\r\n',
  'space before the colon': 'GET / HTTP/1.1\r\n' + H + 'Content-Length : 0\r\n\r\n',
  'bare LF line endings': 'GET / HTTP/1.1\n' + H.replace('\r\n', '\n') + '\n',
  'bare CR in a header value': 'GET / HTTP/1.1\r\n' + H + 'X-A: b\rc\r\n\r\n',
  'NUL in a header value': 'GET / HTTP/1.1\r\n' + H + 'X-A: b\u0000c\r\n\r\n',
  'two Host headers': 'GET / HTTP/1.1\r\n' + H + 'Host: other.orders.shop\r\n\r\n',
  'no Host in HTTP/1.1': 'GET / HTTP/1.1\r\n\r\n',
  'bad Host': 'GET / HTTP/1.1\r\nHost: rest.orders.shop/evil\r\n\r\n',
  'bad chunk size': 'POST / HTTP/1.1\r\n' + H + 'Transfer-Encoding: chunked\r\n\r\nzz\r\nabcd\r\n0\r\n\r\n',
  'negative Content-Length': 'POST / HTTP/1.1\r\n' + H + 'Content-Length: -1\r\n\r\n',
};

describe('malformed requests', () => {
  let h: Harness;
  let reached = 0;
  const urls: string[] = [];

  before(async () => {
    h = await startHarness();
    h.meshlet('shop', 'orders', ['rest']);
    await h.serveHttp('shop', 'orders', 'main', 'rest', (req, res) => {
      reached++;
      urls.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => res.end('reached'));
    });
  });
  after(() => h.close());

  test('a well-formed request on a raw socket reaches the upstream (control)', async () => {
    const out = await raw(h.proxyPort, 'POST /ok HTTP/1.1\r\n' + H + 'Content-Length: 4\r\nConnection: close\r\n\r\nabcd');
    assert.match(out, /^HTTP\/1.1 200/);
    assert.match(out, /reached$/);
    assert.equal(reached, 1);
  });

  for (const [name, bytes] of Object.entries(CASES)) {
    test(`${name}: 400, never reaches the upstream`, async () => {
      const before = reached;
      const out = await raw(h.proxyPort, bytes);
      assert.match(out, /^HTTP\/1.1 400 /, `got: ${JSON.stringify(out.slice(0, 120))}`);
      const body = JSON.parse(out.slice(out.indexOf('\r\n\r\n') + 4));
      assert.equal(body.error.code, 'WEFT-P001');
      assert.equal(reached, before, `the upstream saw ${urls.slice(before).join(', ')}`);
    });
  }

  test('a smuggled second request after a refused one is never parsed', async () => {
    const before = reached;
    const out = await raw(h.proxyPort, 'POST / HTTP/1.1\r\n' + H + 'Content-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n' + H + '\r\n');
    assert.equal(out.match(/HTTP\/1.1 /g)?.length, 1, 'one response, then the connection closes');
    assert.equal(reached, before);
    assert.ok(!urls.includes('GET /smuggled'));
  });

  test('bad requests are counted by reason', () => {
    const text = h.registry.render();
    for (const reason of ['parse-error', 'header-overflow', 'bad-version', 'bad-target', 'duplicate-host', 'bad-transfer-encoding', 'bad-host']) {
      assert.match(text, new RegExp(`weft_proxy_bad_requests_total\\{reason="${reason}"\\} [1-9]`), reason);
    }
  });
});
