import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as net from 'node:net';
import { once } from 'node:events';
import { connect } from '../../src/sdk/client.js';
import { MeshConnectError, CONNECT_ERRORS } from '../../src/sdk/errors.js';
import { ReplyCode, encodeHandshakeRequest } from '../../src/sdk/handshake.js';
import { clientSocketPath, MESHLET_DIR_ENV } from '../../src/sdk/paths.js';
import { makeStaleSocket } from './stale-socket.js';
import { SPEC_REPLY_CODES, startResponder, type Responder } from './responder.js';

let dir: string;
let n = 0;
const sock = (name: string) => join(dir, `${name}-${++n}.sock`);

/** An echo server on a server socket, standing for the destination service. */
async function echoServer(path: string): Promise<net.Server> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(path, r));
  return server;
}

async function rejection(p: Promise<unknown>): Promise<MeshConnectError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof MeshConnectError, `expected MeshConnectError, got ${err}`);
    return err;
  }
  assert.fail('expected a rejection');
}

/** Reads until `length` bytes arrived. */
async function readBytes(s: net.Socket, length: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  for await (const chunk of s) {
    chunks.push(chunk as Buffer);
    got += (chunk as Buffer).length;
    if (got >= length) break;
  }
  return Buffer.concat(chunks);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-sdk-client-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('reply codes', () => {
  test('the SDK table is the architecture table', () => {
    assert.deepEqual({ ...ReplyCode }, { ...SPEC_REPLY_CODES });
  });

  test('encodeHandshakeRequest is [1, N, ...id]', () => {
    assert.deepEqual([...encodeHandshakeRequest('a.b.c')], [1, 5, 0x61, 0x2e, 0x62, 0x2e, 0x63]);
    assert.throws(() => encodeHandshakeRequest('a.b'), TypeError);
  });

  test('every non-OK reply code rejects with its name and number', async () => {
    const codes = Object.entries(SPEC_REPLY_CODES).filter(([name]) => name !== 'OK');
    const responder = await startResponder({
      socketPath: sock('codes'),
      forceReply: (id) => SPEC_REPLY_CODES[id.split('.')[0]!.toUpperCase().replace(/-/g, '_') as keyof typeof SPEC_REPLY_CODES],
    });
    try {
      for (const [name, code] of codes) {
        const id = `${name.toLowerCase().replace(/_/g, '-')}.m.ns`;
        const err = await rejection(connect(id, { socketPath: responder.socketPath }));
        assert.equal(err.code, name);
        assert.equal(err.replyCode, code);
        assert.equal(err.serviceId, id);
        assert.equal(err.probableCause, CONNECT_ERRORS[err.code].cause);
        assert.equal((err.toJSON().details as { replyCode: number }).replyCode, code);
      }
      assert.equal(responder.requests.length, codes.length);
    } finally {
      await responder.close();
    }
  });

  test('a reply split across chunks is read whole (errors and OK)', async () => {
    const target = sock('echo');
    const echo = await echoServer(target);
    const responder = await startResponder({
      socketPath: sock('split'),
      splitReply: true,
      services: { 'echo.m.ns': target },
      forceReply: (id) => (id === 'busy.m.ns' ? SPEC_REPLY_CODES.OVERLOADED : undefined),
    });
    try {
      const err = await rejection(connect('busy.m.ns', { socketPath: responder.socketPath }));
      assert.equal(err.code, 'OVERLOADED');
      const s = await connect('echo.m.ns', { socketPath: responder.socketPath });
      s.write('ping');
      assert.equal((await readBytes(s, 4)).toString(), 'ping');
      s.destroy();
    } finally {
      await responder.close();
      echo.close();
    }
  });
});

describe('bytes after the reply', () => {
  for (const splitReply of [false, true]) {
    test(`are kept when they arrive with the reply (split=${splitReply}): data listener, pipe, async iterator`, async () => {
      const target = sock('echo');
      const echo = await echoServer(target);
      const greeting = Buffer.from('hello from the service, sent with the reply');
      const responder = await startResponder({
        socketPath: sock('after'),
        services: { 'echo.m.ns': target },
        afterOk: greeting,
        splitReply,
      });
      try {
        // 'data' listener attached after the await
        const a = await connect('echo.m.ns', { socketPath: responder.socketPath });
        const got: Buffer[] = [];
        a.on('data', (c: Buffer) => got.push(c));
        a.write('!');
        while (Buffer.concat(got).length < greeting.length + 1) await once(a, 'data');
        assert.equal(Buffer.concat(got).toString(), `${greeting}!`);
        a.destroy();

        // pipe into another stream
        const b = await connect('echo.m.ns', { socketPath: responder.socketPath });
        const sink = new (await import('node:stream')).PassThrough();
        b.pipe(sink);
        assert.equal((await readBytes(sink as unknown as net.Socket, greeting.length)).subarray(0, greeting.length).toString(), greeting.toString());
        b.destroy();

        // async iteration
        const c = await connect('echo.m.ns', { socketPath: responder.socketPath });
        assert.equal((await readBytes(c, greeting.length)).toString(), greeting.toString());
        c.destroy();
      } finally {
        await responder.close();
        echo.close();
      }
    });
  }

  test('bytes the client writes at once after resolving reach the service in order (1 MiB echo)', async () => {
    const target = sock('echo');
    const echo = await echoServer(target);
    const responder = await startResponder({ socketPath: sock('bulk'), services: { 'echo.m.ns': target } });
    try {
      const s = await connect('echo.m.ns', { socketPath: responder.socketPath });
      const payload = Buffer.alloc(1 << 20);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + (i >> 8)) & 0xff;
      s.end(payload);
      const back = await readBytes(s, payload.length);
      assert.ok(back.equals(payload));
    } finally {
      await responder.close();
      echo.close();
    }
  });
});

describe('local failures', () => {
  test('an invalid service ID is rejected before any socket is opened', async () => {
    const path = sock('never');
    let accepted = 0;
    const server = net.createServer((s) => {
      accepted++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(path, r));
    try {
      for (const bad of ['', 'a.b', 'a.b.c.d', 'A.b.c', '-a.b.c', 'a-.b.c', 'a..c', 'a_b.c.d', `${'a'.repeat(64)}.b.c`, 'a.b.c.', 'é.b.c']) {
        const err = await rejection(connect(bad, { socketPath: path }));
        assert.equal(err.code, 'INVALID_SERVICE_ID', bad);
        assert.equal(err.replyCode, undefined);
      }
      assert.equal(accepted, 0);
    } finally {
      server.close();
    }
  });

  test('no listener on the path: SOCKET_ERROR (missing file and refused)', async () => {
    const missing = await rejection(connect('a.b.c', { socketPath: join(dir, 'nothing-here.sock') }));
    assert.equal(missing.code, 'SOCKET_ERROR');
    assert.equal((missing.cause as NodeJS.ErrnoException).code, 'ENOENT');

    // A socket file left behind by a listener that is gone refuses connections.
    const path = sock('stale');
    await makeStaleSocket(path);
    const refused = await rejection(connect('a.b.c', { socketPath: path }));
    assert.equal(refused.code, 'SOCKET_ERROR');
    assert.equal((refused.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  });

  test('a listener that never replies: HANDSHAKE_TIMEOUT, and the request was sent', async () => {
    const responder = await startResponder({ socketPath: sock('silent'), silent: true });
    try {
      const t0 = performance.now();
      const err = await rejection(connect('a.b.c', { socketPath: responder.socketPath, handshakeTimeout: 50 }));
      assert.equal(err.code, 'HANDSHAKE_TIMEOUT');
      assert.ok(performance.now() - t0 >= 45);
      assert.deepEqual(responder.requests, ['a.b.c']);
    } finally {
      await responder.close();
    }
  });

  test('not connected within connectTimeout: CONNECT_TIMEOUT (event loop stalled past the deadline)', async () => {
    // A Unix socket connect on Linux completes or fails at once (a full backlog is EAGAIN),
    // so the deadline is reached by blocking this thread until it has passed. Started from
    // a setImmediate callback so the next loop turn runs timers before polling sockets.
    const responder = await startResponder({ socketPath: sock('stall'), silent: true });
    try {
      await new Promise((r) => setImmediate(r));
      const p = connect('a.b.c', { socketPath: responder.socketPath, connectTimeout: 20 });
      const until = performance.now() + 40;
      while (performance.now() < until);
      const err = await rejection(p);
      assert.equal(err.code, 'CONNECT_TIMEOUT');
    } finally {
      await responder.close();
    }
  });

  test('garbage replies: BAD_REPLY (wrong version, unknown code, truncated, closed before replying)', async () => {
    const cases: [Buffer, number | undefined][] = [
      [Buffer.from([2, 0]), 0],
      [Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'), 84],
      [Buffer.from([1, 8]), 8],
      [Buffer.from([1, 254]), 254],
      [Buffer.from([1]), undefined],
      [Buffer.alloc(0), undefined],
    ];
    for (const [raw, replyCode] of cases) {
      const responder = await startResponder({ socketPath: sock('garbage'), rawReply: raw });
      try {
        const err = await rejection(connect('a.b.c', { socketPath: responder.socketPath }));
        assert.equal(err.code, 'BAD_REPLY', raw.toString('hex'));
        assert.equal(err.replyCode, replyCode, raw.toString('hex'));
      } finally {
        await responder.close();
      }
    }
  });

  test('an AbortSignal cancels the attempt; an already-aborted one never connects', async () => {
    const responder = await startResponder({ socketPath: sock('abort'), silent: true });
    try {
      const ac = new AbortController();
      const p = connect('a.b.c', { socketPath: responder.socketPath, signal: ac.signal });
      setImmediate(() => ac.abort(new Error('user gave up')));
      const err = await rejection(p);
      assert.equal(err.code, 'ABORTED');
      assert.equal((err.cause as Error).message, 'user gave up');

      const before = responder.requests.length;
      const err2 = await rejection(connect('a.b.c', { socketPath: responder.socketPath, signal: AbortSignal.abort() }));
      assert.equal(err2.code, 'ABORTED');
      assert.equal(responder.requests.length, before);
    } finally {
      await responder.close();
    }
  });

  test('bad timeouts reject with TypeError', async () => {
    await assert.rejects(connect('a.b.c', { socketPath: '/nonexistent', connectTimeout: 0 }), TypeError);
    await assert.rejects(connect('a.b.c', { socketPath: '/nonexistent', handshakeTimeout: -1 }), TypeError);
  });

  test('the default socket path comes from WEFT_MESHLET_DIR', async () => {
    const saved = process.env[MESHLET_DIR_ENV];
    process.env[MESHLET_DIR_ENV] = join(dir, 'meshlet-env');
    try {
      assert.equal(clientSocketPath(), join(dir, 'meshlet-env', 'client', 'meshless'));
      const err = await rejection(connect('a.b.c'));
      assert.equal(err.socketPath, join(dir, 'meshlet-env', 'client', 'meshless'));
      assert.equal(err.code, 'SOCKET_ERROR');
    } finally {
      if (saved === undefined) delete process.env[MESHLET_DIR_ENV];
      else process.env[MESHLET_DIR_ENV] = saved;
    }
    delete process.env[MESHLET_DIR_ENV];
    assert.equal(clientSocketPath(), '/meshlet/client/meshless');
    if (saved !== undefined) process.env[MESHLET_DIR_ENV] = saved;
  });
});

describe('the responder follows the spec (so the lead can trust these tests)', () => {
  let responder: Responder;
  before(async () => {
    responder = await startResponder({ socketPath: sock('spec'), handshakeTimeoutMs: 100 });
  });
  after(() => responder.close());

  async function raw(bytes: Buffer): Promise<Buffer> {
    const s = net.createConnection(responder.socketPath);
    s.end(bytes);
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  test('version, zero length, bad ID, timeout, unknown service', async () => {
    assert.deepEqual([...(await raw(Buffer.from([2, 5, 97])))], [1, 1]);
    assert.deepEqual([...(await raw(Buffer.from([1, 0])))], [1, 2]);
    assert.deepEqual([...(await raw(Buffer.from([1, 3, 0x61, 0x2e, 0x62])))], [1, 2]);
    const s = net.createConnection(responder.socketPath);
    s.write(Buffer.from([1, 5, 0x61]));
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    assert.deepEqual([...Buffer.concat(chunks)], [1, 2]);
    assert.deepEqual([...(await raw(encodeHandshakeRequest('x.y.z')))], [1, 3]);
  });
});
