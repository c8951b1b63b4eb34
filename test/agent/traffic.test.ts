// Traffic through the real agent: 500 concurrent byte-exact echo streams, idle
// timeout closing both ends, and hot reload (file change and SIGHUP) while a
// stream flows, including a bad file that must leave everything running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { ReplyCode } from '../../src/agent/kernels.js';
import { meshlet, startAgent, type AgentProcess } from '../helpers/agent-process.js';
import { echoRoundTrip, handshake, replyCode, request, sha256, startEcho, type EchoServer } from '../helpers/mesh-client.js';

let agent: AgentProcess;
const echoes: EchoServer[] = [];

before(async () => {
  agent = await startAgent({
    config: { limits: { maxConnections: 2000, maxPendingHandshakes: 2000 } },
    meshlets: {
      'app.yaml': meshlet('t', 'app', { uses: ['*.*.t'], idleTimeout: '1h' }),
      'svc.yaml': meshlet('t', 'svc', { provides: ['echo'] }),
      'idle.yaml': meshlet('t', 'idler', { uses: ['echo.svc.t'], idleTimeout: '300ms' }),
      'old.yaml': meshlet('t', 'old', { provides: ['echo'] }),
    },
  });
  echoes.push(await startEcho(agent.serverSocket('t', 'svc', 'echo')));
});

after(async () => {
  for (const e of echoes) await e.close();
  await agent?.stop();
});

test('500 concurrent clients, byte-exact echo (sha256)', async () => {
  const client = agent.clientSocket('t', 'app');
  const run = async (i: number) => {
    const data = randomBytes(1 + ((i * 7919) % 32768));
    const r = await handshake(client, Buffer.concat([request('echo.svc.t'), data.subarray(0, 10)]));
    assert.equal(r.code, ReplyCode.OK);
    const back = await echoRoundTrip(r.socket, data.subarray(10), r.extra);
    assert.equal(sha256(back), sha256(data), `client ${i}`);
  };
  await Promise.all(Array.from({ length: 500 }, (_, i) => run(i)));
});

test('idle timeout closes both ends and is counted', async () => {
  const server = echoes[0]!;
  const r = await handshake(agent.clientSocket('t', 'idler'), request('echo.svc.t'));
  assert.equal(r.code, ReplyCode.OK);
  r.socket.resume();
  r.socket.write('x');
  const started = performance.now();
  await once(r.socket, 'end'); // the agent closed its end (EOF on a Unix socket)
  const lasted = performance.now() - started;
  assert.ok(lasted >= 250 && lasted < 3000, `closed after ${lasted} ms (idleTimeout 300ms)`);
  // The service side of that stream is gone too.
  const deadline = Date.now() + 2000;
  while (server.open.size > 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.equal(server.open.size, 0);
  const { text } = await agent.admin('/metrics');
  assert.match(text, /weft_agent_idle_timeouts_total\{namespace="t",meshlet="idler"\} 1/);
});

/** A stream that keeps echoing; `check()` proves it still works. */
async function liveStream(): Promise<{ socket: Socket; check: (tag: string) => Promise<void>; closed: () => boolean }> {
  const r = await handshake(agent.clientSocket('t', 'app'), request('echo.svc.t'));
  assert.equal(r.code, ReplyCode.OK);
  let closed = false;
  r.socket.on('close', () => (closed = true));
  r.socket.resume();
  let buf = '';
  r.socket.setEncoding('utf8');
  r.socket.on('data', (d: string) => (buf += d));
  return {
    socket: r.socket,
    closed: () => closed,
    check: async (tag) => {
      buf = '';
      r.socket.write(tag);
      while (buf !== tag) {
        if (closed) throw new Error(`stream closed before echoing ${tag}`);
        await once(r.socket, 'data');
      }
    },
  };
}

test('hot reload while traffic flows: add, change, remove; bad file; SIGHUP', async () => {
  const stream = await liveStream();
  let flowing = true;
  const pump = (async () => {
    let n = 0;
    while (flowing) await stream.check(`tick-${n++}|`);
  })();

  // Add a meshlet.
  agent.writeMeshlet('new.yaml', meshlet('t', 'newbie', { provides: ['echo'], uses: ['echo.svc.t'] }));
  await agent.waitForLog((l) => l.msg === 'meshlets reloaded' && (l.added as string[]).includes('t/newbie'));
  assert.equal(await replyCode(agent.clientSocket('t', 'newbie'), 'echo.svc.t'), ReplyCode.OK);

  // Change one (its uses) and remove another, in one burst.
  agent.writeMeshlet('new.yaml', meshlet('t', 'newbie', { provides: ['echo'], uses: [] }));
  agent.writeMeshlet('old.yaml', '# removed\n');
  const r2 = await agent.waitForLog((l) => l.msg === 'meshlets reloaded' && (l.changed as string[]).includes('t/newbie') && (l.removed as string[]).includes('t/old'));
  assert.ok(r2);
  assert.equal(await replyCode(agent.clientSocket('t', 'newbie'), 'echo.svc.t'), ReplyCode.FORBIDDEN);
  assert.equal(await replyCode(agent.clientSocket('t', 'app'), 'echo.old.t'), ReplyCode.UNKNOWN_SERVICE);

  // A bad file: rejected with file, field and expectation; nothing changes.
  agent.writeMeshlet('bad.yaml', { ...meshlet('t', 'bad', { idleTimeout: '-1m' }) });
  const rejected = await agent.waitForLog((l) => l.msg.startsWith('meshlet reload rejected'));
  const err = rejected.error as { code: string; message: string; details: { file: string; field: string; expected: string } };
  assert.equal(err.code, 'WEFT-A001');
  assert.match(err.details.file, /bad\.yaml$/);
  assert.equal(err.details.field, 'spec.idleTimeout');
  assert.match(err.details.expected, /Go duration/);
  assert.equal(await replyCode(agent.clientSocket('t', 'newbie'), 'echo.svc.t'), ReplyCode.FORBIDDEN);

  // Fix it and reload by SIGHUP too.
  agent.writeMeshlet('bad.yaml', meshlet('t', 'bad', { idleTimeout: '1m30s', uses: ['echo.svc.t'] }));
  await agent.waitForLog((l) => l.msg === 'meshlets reloaded' && (l.added as string[]).includes('t/bad'));
  agent.child.kill('SIGHUP');
  await agent.waitForLog((l) => l.msg === 'meshlets reloaded' && l.trigger === 'SIGHUP');

  flowing = false;
  await pump;
  await stream.check('still-alive');
  assert.equal(stream.closed(), false);
  stream.socket.destroy();
});
