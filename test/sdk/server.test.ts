import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as net from 'node:net';
import { once } from 'node:events';
import { createMeshServer, MeshServer, type ConnectionInfo } from '../../src/sdk/server.js';
import { MeshServerError } from '../../src/sdk/errors.js';
import { serviceSocketPath } from '../../src/sdk/paths.js';
import { makeStaleSocket } from './stale-socket.js';

let root: string;
let n = 0;
const freshPath = () => join(root, 'server', `svc-${++n}`);

async function dial(path: string): Promise<net.Socket> {
  const s = net.createConnection(path);
  await once(s, 'connect');
  return s;
}

async function serverError(p: Promise<unknown>): Promise<MeshServerError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof MeshServerError, `expected MeshServerError, got ${err}`);
    return err;
  }
  assert.fail('expected a rejection');
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'weft-sdk-server-'));
  await mkdir(join(root, 'server'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('listen', () => {
  test('root + service listens on <root>/server/<service> with mode 0660 by default', async () => {
    const server = await createMeshServer({ root, service: 'echo' });
    try {
      assert.equal(server.socketPath, join(root, 'server', 'echo'));
      const st = statSync(server.socketPath);
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o777, 0o660);
      (await dial(server.socketPath)).destroy();
    } finally {
      await server.close();
    }
    assert.equal(existsSync(join(root, 'server', 'echo')), false, 'socket file removed on close');
  });

  test('mode is configurable', async () => {
    const server = await createMeshServer({ socketPath: freshPath(), mode: 0o600 });
    try {
      assert.equal(statSync(server.socketPath).mode & 0o777, 0o600);
    } finally {
      await server.close();
    }
  });

  test('a stale socket file is removed and replaced', async () => {
    const path = freshPath();
    await makeStaleSocket(path);
    assert.ok(statSync(path).isSocket());
    const server = await createMeshServer({ socketPath: path, onConnection: (s) => s.end('fresh') });
    try {
      const s = await dial(path);
      const [data] = (await once(s, 'data')) as [Buffer];
      assert.equal(data.toString(), 'fresh');
      s.destroy();
    } finally {
      await server.close();
    }
  });

  test('a live socket is refused (SOCKET_IN_USE) and keeps working', async () => {
    const path = freshPath();
    const first = await createMeshServer({ socketPath: path, onConnection: (s) => s.end('first') });
    try {
      const err = await serverError(createMeshServer({ socketPath: path }));
      assert.equal(err.code, 'SOCKET_IN_USE');
      assert.equal(err.socketPath, path);
      const s = await dial(path);
      const [data] = (await once(s, 'data')) as [Buffer];
      assert.equal(data.toString(), 'first');
      s.destroy();
    } finally {
      await first.close();
    }
  });

  test('a file that is not a socket is refused (NOT_A_SOCKET) and left alone', async () => {
    const path = freshPath();
    writeFileSync(path, 'precious');
    const err = await serverError(createMeshServer({ socketPath: path }));
    assert.equal(err.code, 'NOT_A_SOCKET');
    assert.equal(readFileSync(path, 'utf8'), 'precious');
  });

  test('a missing directory fails with LISTEN_FAILED', async () => {
    const err = await serverError(createMeshServer({ socketPath: join(root, 'nope', 'svc') }));
    assert.equal(err.code, 'LISTEN_FAILED');
    assert.equal(typeof err.toJSON().remediation, 'string');
  });

  test('bad options are programmer errors', () => {
    assert.throws(() => new MeshServer({}), TypeError);
    assert.throws(() => new MeshServer({ socketPath: '/x', service: 'y' }), TypeError);
    assert.throws(() => new MeshServer({ root, service: 'Not_A_Label' }), TypeError);
    assert.throws(() => serviceSocketPath('../etc', root), TypeError);
  });
});

describe('connections', () => {
  test('ids are 1, 2, 3... in accept order, via onConnection, the event and connectionInfo()', async () => {
    const seen: number[] = [];
    const server = new MeshServer({
      socketPath: freshPath(),
      onConnection: (socket, info) => {
        seen.push(info.id);
        socket.end(String(info.id));
      },
    });
    const fromEvent: ConnectionInfo[] = [];
    server.on('connection', (socket: net.Socket, info: ConnectionInfo) => {
      fromEvent.push(info);
      assert.equal(server.connectionInfo(socket), info);
    });
    await server.listen();
    try {
      for (let i = 1; i <= 5; i++) {
        const s = await dial(server.socketPath);
        const [data] = (await once(s, 'data')) as [Buffer];
        assert.equal(data.toString(), String(i));
        s.destroy();
      }
      assert.deepEqual(seen, [1, 2, 3, 4, 5]);
      assert.deepEqual(fromEvent.map((i) => i.id), seen);
      assert.ok(fromEvent.every((i) => i.acceptedAt > 0));
    } finally {
      await server.close();
    }
  });
});

describe('graceful shutdown', () => {
  test('stops accepting, waits for connections to end, reports them as ended', async () => {
    const accepted: net.Socket[] = [];
    const server = await createMeshServer({ socketPath: freshPath(), onConnection: (s) => accepted.push(s) });
    const a = await dial(server.socketPath);
    const b = await dial(server.socketPath);
    while (accepted.length < 2) await once(server, 'connection');
    let draining = false;
    server.once('draining', () => (draining = true));
    const closed = server.close({ deadline: 5_000 });
    assert.equal(server.close(), closed, 'a second close() returns the same promise');
    assert.ok(draining);
    assert.equal(server.listening, false);
    // Not accepting any more: the file is gone or refuses.
    const late = net.createConnection(server.socketPath);
    const [lateErr] = (await once(late, 'error')) as [NodeJS.ErrnoException];
    assert.ok(['ENOENT', 'ECONNREFUSED'].includes(lateErr.code!), lateErr.code);
    // The open connections still work while draining.
    accepted[0]!.write('still here');
    const [data] = (await once(a, 'data')) as [Buffer];
    assert.equal(data.toString(), 'still here');
    assert.equal(server.connections, 2);
    a.end();
    b.end();
    accepted.forEach((s) => s.end());
    assert.deepEqual(await closed, { ended: 2, destroyed: 0 });
    assert.equal(server.connections, 0);
    assert.equal(existsSync(server.socketPath), false);
  });

  test('connections still open at the deadline are destroyed', async () => {
    const server = await createMeshServer({ socketPath: freshPath() });
    const stuck = await dial(server.socketPath);
    const finished = await dial(server.socketPath);
    while (server.connections < 2) await once(server, 'connection');
    const t0 = performance.now();
    const closing = server.close({ deadline: 100 });
    finished.end();
    const result = await closing;
    const elapsed = performance.now() - t0;
    assert.deepEqual(result, { ended: 1, destroyed: 1 });
    assert.ok(elapsed >= 95, `waited ${elapsed} ms`);
    await once(stuck, 'close');
  });

  test('closing an idle server resolves at once', async () => {
    const server = await createMeshServer({ socketPath: freshPath() });
    const [result] = await Promise.all([server.close({ deadline: 60_000 }), once(server, 'close')]);
    assert.deepEqual(result, { ended: 0, destroyed: 0 });
  });
});
