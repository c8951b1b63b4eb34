// gRPC-shaped traffic through the proxy with node:http2 on both ends (a
// minimal gRPC client and server: length-prefixed messages, te: trailers,
// grpc-status in trailers), since @grpc/grpc-js is not a dependency yet:
//   - h2c with prior knowledge to the proxy port (sniffed on the same port as HTTP/1);
//   - CONNECT, then h2c over the tunnel, which is what grpc-js does behind http_proxy;
//   - errors the proxy makes itself answer gRPC requests with grpc-status.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as h2connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHarness, until, type Harness } from './_harness.js';

const run = promisify(execFile);

/** A gRPC message frame: compressed flag 0, u32 length, bytes. */
function frame(payload: string): Buffer {
  const b = Buffer.from(payload);
  const out = Buffer.alloc(5 + b.length);
  out.writeUInt32BE(b.length, 1);
  b.copy(out, 5);
  return out;
}

function unframe(buf: Buffer): string[] {
  const out: string[] = [];
  for (let off = 0; off + 5 <= buf.length; ) {
    const n = buf.readUInt32BE(off + 1);
    out.push(buf.subarray(off + 5, off + 5 + n).toString());
    off += 5 + n;
  }
  return out;
}

interface GrpcResult {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  messages: string[];
}

/** A unary-or-streaming call: sends the messages, half-closes, collects the reply. */
function call(session: ClientHttp2Session, authority: string, path: string, messages: string[], extra: Record<string, string> = {}): Promise<GrpcResult> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':method': 'POST', ':path': path, ':authority': authority, 'content-type': 'application/grpc', te: 'trailers', ...extra });
    let headers: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    s.on('response', (h) => (headers = h));
    s.on('trailers', (t) => (trailers = t));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve({ headers, trailers, messages: unframe(Buffer.concat(chunks)) }));
    s.on('error', reject);
    for (const m of messages) s.write(frame(m));
    s.end();
  });
}

describe('h2c and gRPC through the proxy', () => {
  let h: Harness;
  const seenHeaders: IncomingHttpHeaders[] = [];

  before(async () => {
    h = await startHarness({ proxy: { namespace: 'rpc', servicePorts: { grpc: 9000 } } });
    h.meshlet('rpc', 'greeter', ['grpc'], [{ name: 'g1', version: 'v1' }]);
    const server = await h.serveH2('rpc', 'greeter', 'g1', 'grpc');
    server.on('stream', (stream, headers) => {
      seenHeaders.push(headers);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const msgs = unframe(Buffer.concat(chunks));
        if (headers[':path'] === '/greeter.Greeter/Fail') {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'not found' }, { endStream: true });
          return;
        }
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'OK', 'x-count': String(msgs.length) }));
        for (const m of msgs) stream.write(frame(`hello ${m}`));
        stream.end();
      });
    });
  });
  after(() => h.close());

  test('h2c prior knowledge on the proxy port: streaming messages, trailers relayed, trace headers added', async () => {
    const session = h2connect(h.proxyUrl);
    try {
      const r = await call(session, 'greeter:9000', '/greeter.Greeter/SayHello', ['ann', 'bob', 'cy']);
      assert.equal(r.headers[':status'], 200);
      assert.deepEqual(r.messages, ['hello ann', 'hello bob', 'hello cy']);
      assert.equal(r.trailers['grpc-status'], '0');
      assert.equal(r.trailers['x-count'], '3');
      // Several calls multiplexed on the one client session.
      const many = await Promise.all(Array.from({ length: 20 }, (_, i) => call(session, 'grpc.greeter.rpc', '/greeter.Greeter/SayHello', [`n${i}`])));
      assert.deepEqual(many.map((m) => m.messages[0]), Array.from({ length: 20 }, (_, i) => `hello n${i}`));
      const seen = seenHeaders.at(-1)!;
      assert.equal(seen.te, 'trailers');
      assert.match(String(seen.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      assert.equal(seen[':authority'], 'grpc.greeter.rpc');
    } finally {
      session.close();
    }
  });

  test('a trailers-only answer (grpc-status 5) stays a trailers-only answer', async () => {
    const session = h2connect(h.proxyUrl);
    try {
      const r = await call(session, 'greeter:9000', '/greeter.Greeter/Fail', ['x']);
      assert.equal(r.headers['grpc-status'], '5');
      assert.equal(r.headers['grpc-message'], 'not found');
      assert.deepEqual(r.messages, []);
    } finally {
      session.close();
    }
  });

  test('errors made by the proxy answer gRPC in gRPC terms (UNIMPLEMENTED for an unknown service)', async () => {
    const session = h2connect(h.proxyUrl);
    try {
      const r = await call(session, 'nope.greeter.rpc', '/x.Y/Z', ['x']);
      assert.equal(r.headers[':status'], 200);
      assert.equal(r.headers['grpc-status'], '12');
      assert.equal(r.headers['x-weft-error'], 'WEFT-P002');
    } finally {
      session.close();
    }
  });

  test('CONNECT then h2c over the tunnel (what grpc-js does with http_proxy)', async () => {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: h.proxyPort, method: 'CONNECT', path: 'greeter:9000', headers: { host: 'greeter:9000' } });
      req.on('connect', (res, sock, head) => {
        // Bytes after the 200 (the server's SETTINGS may come in the same packet) belong to the tunnel.
        if (head.length) sock.unshift(head);
        if (res.statusCode === 200) resolve(sock);
        else reject(new Error(`CONNECT ${res.statusCode}`));
      });
      req.on('error', reject);
      req.end();
    });
    const session = h2connect('http://greeter:9000', { createConnection: () => socket });
    try {
      const r = await call(session, 'greeter:9000', '/greeter.Greeter/SayHello', ['tunnel']);
      assert.deepEqual(r.messages, ['hello tunnel']);
      assert.equal(r.trailers['grpc-status'], '0');
    } finally {
      session.close();
    }
    await until(() => h.access.some((l) => l.protocol === 'connect' && l.status === 200 && l.service === 'grpc.greeter.rpc'), 3000, 'the tunnel log line');
  });

  test('CONNECT refusals: unknown service 404, bad target 400, as HTTP responses before the tunnel', async () => {
    const connectStatus = (target: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: h.proxyPort, method: 'CONNECT', path: target });
        req.on('connect', (res, sock) => {
          sock.destroy();
          resolve(res.statusCode!);
        });
        req.on('response', (res) => resolve(res.statusCode!));
        req.on('error', reject);
        req.end();
      });
    assert.equal(await connectStatus('missing.greeter.rpc:443'), 404);
    assert.equal(await connectStatus('no-port-here'), 400);
  });

  test('curl --http2-prior-knowledge through the proxy port', async () => {
    // curl speaks h2c to the proxy itself; --connect-to keeps :authority greeter:9000.
    const body = join(h.dir, 'req.bin');
    writeFileSync(body, frame('curl'));
    const { stdout } = await run('curl', ['-sS', '--http2-prior-knowledge', '--connect-to', `greeter:9000:127.0.0.1:${h.proxyPort}`, '-H', 'content-type: application/grpc', '-H', 'te: trailers', '--data-binary', `@${body}`, '-o', '-', '-w', ' %{http_version} %{http_code}', 'http://greeter:9000/greeter.Greeter/SayHello'], {
      encoding: 'latin1',
    });
    assert.ok(stdout.includes('hello curl'), stdout);
    assert.match(stdout, / 2 200$/);
  });
});
