// The client handshake against the real agent process: every reply code, any
// split of the request, hostile requests, the handshake timeout, and bytes sent
// after the request delivered once the stream is up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ReplyCode } from '../../src/agent/kernels.js';
import { meshlet, startAgent, type AgentProcess } from '../helpers/agent-process.js';
import { echoRoundTrip, handshake, makeStaleSocket, openClient, readReply, replyCode, request, startEcho, type EchoServer } from '../helpers/mesh-client.js';

let agent: AgentProcess;
let echo: EchoServer;
let api: EchoServer;
let client: string;

before(async () => {
  agent = await startAgent({
    config: { timeouts: { handshake: '300ms', connect: '500ms' } },
    meshlets: {
      'app.yaml': meshlet('t', 'app', {
        uses: ['echo.svc.t', 'gone.svc.t', 'refuse.svc.t', 'x.broken.t', 'x.zero.t', '*.wild.t'],
      }),
      'providers.yaml': [
        meshlet('t', 'svc', { provides: ['echo', 'gone', 'refuse'] }),
        meshlet('t', 'wild', { provides: ['api'] }),
        meshlet('t', 'broken', { provides: ['x'] }),
        meshlet('t', 'zero', { provides: ['x'], instances: [{ name: 'a', weight: 0 }] }),
        meshlet('t', 'private', { provides: ['secret'] }),
      ],
    },
  });
  client = agent.clientSocket('t', 'app');
  echo = await startEcho(agent.serverSocket('t', 'svc', 'echo'));
  api = await startEcho(agent.serverSocket('t', 'wild', 'api'));
  await makeStaleSocket(agent.serverSocket('t', 'svc', 'refuse'));
  // The broken meshlet's server/ directory replaced by a file: connect fails with ENOTDIR.
  const brokenServerDir = dirname(agent.serverSocket('t', 'broken', 'x'));
  rmSync(brokenServerDir, { recursive: true });
  writeFileSync(brokenServerDir, 'not a directory');
});

after(async () => {
  await echo?.close();
  await api?.close();
  await agent?.stop();
});

test('OK: a declared service, stream echoes', async () => {
  const r = await handshake(client, request('echo.svc.t'));
  assert.equal(r.version, 1);
  assert.equal(r.code, ReplyCode.OK);
  assert.deepEqual(await echoRoundTrip(r.socket, Buffer.from('ping'), r.extra), Buffer.from('ping'));
});

test('OK through a wildcard use (*.wild.t)', async () => {
  assert.equal(await replyCode(client, 'api.wild.t'), ReplyCode.OK);
});

test('a request split into single bytes, with bytes after it in the last write', async () => {
  const req = request('echo.svc.t');
  const chunks = [...req].map((b) => Uint8Array.of(b));
  const r = await handshake(client, chunks, 2);
  assert.equal(r.code, ReplyCode.OK);
  assert.deepEqual(await echoRoundTrip(r.socket, Buffer.from('after'), r.extra), Buffer.from('after'));
});

test('bytes sent in the same write as the request are kept and delivered', async () => {
  const r = await handshake(client, Buffer.concat([request('echo.svc.t'), Buffer.from('early bytes|')]));
  assert.equal(r.code, ReplyCode.OK);
  const back = await echoRoundTrip(r.socket, Buffer.from('late'), r.extra);
  assert.equal(back.toString(), 'early bytes|late');
});

test('UNSUPPORTED_VERSION: version byte 2 (reply still carries version 1), then the agent closes', async () => {
  const r = await handshake(client, Buffer.from([2, 10, ...Buffer.from('echo.svc.t')]));
  assert.equal(r.version, 1);
  assert.equal(r.code, ReplyCode.UNSUPPORTED_VERSION);
  r.socket.resume();
  await r.ended;
  r.socket.destroy();
});

test('MALFORMED: zero length', async () => {
  const r = await handshake(client, Buffer.from([1, 0]));
  assert.equal(r.code, ReplyCode.MALFORMED);
  r.socket.destroy();
});

test('MALFORMED: garbage ID', async () => {
  const r = await handshake(client, Buffer.from([1, 9, ...Buffer.from('\u0000\xff..A_b!#')]));
  assert.equal(r.code, ReplyCode.MALFORMED);
  r.socket.destroy();
});

test('MALFORMED: a 255-byte ID (cannot be three DNS labels); the longest valid ID is UNKNOWN_SERVICE', async () => {
  const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(127)}`;
  assert.equal(long.length, 255);
  assert.equal(await replyCode(client, long), ReplyCode.MALFORMED);
  const longestValid = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}`;
  assert.equal(await replyCode(client, longestValid), ReplyCode.UNKNOWN_SERVICE);
});

test('MALFORMED: a client that sends nothing gets the reply at the handshake timeout', async () => {
  const socket = await openClient(client);
  const started = performance.now();
  const r = await readReply(socket);
  const waited = performance.now() - started;
  assert.equal(r.code, ReplyCode.MALFORMED);
  assert.ok(waited >= 250, `replied after ${waited} ms, before the 300ms timeout`);
  socket.destroy();
});

test('MALFORMED: half a request then silence; and half a request then EOF', async () => {
  const r1 = await handshake(client, Buffer.from([1, 10, 0x65, 0x63]));
  assert.equal(r1.code, ReplyCode.MALFORMED);
  r1.socket.destroy();
  const socket = await openClient(client);
  const replyP = readReply(socket);
  socket.end(Buffer.from([1, 10, 0x65]));
  assert.equal((await replyP).code, ReplyCode.MALFORMED);
  socket.destroy();
});

test('UNKNOWN_SERVICE: a well-formed ID nobody provides', async () => {
  assert.equal(await replyCode(client, 'nope.svc.t'), ReplyCode.UNKNOWN_SERVICE);
});

test('FORBIDDEN: a service that exists but the meshlet did not declare', async () => {
  assert.equal(await replyCode(client, 'secret.private.t'), ReplyCode.FORBIDDEN);
});

test('UNAVAILABLE: the server socket is missing; and no instance has weight', async () => {
  assert.equal(await replyCode(client, 'gone.svc.t'), ReplyCode.UNAVAILABLE);
  assert.equal(await replyCode(client, 'x.zero.t'), ReplyCode.UNAVAILABLE);
});

test('TUNNEL_FAILED: the server socket exists but refuses', async () => {
  assert.equal(await replyCode(client, 'refuse.svc.t'), ReplyCode.TUNNEL_FAILED);
});

test('INTERNAL: an unclassified connect failure, logged as a structured error', async () => {
  assert.equal(await replyCode(client, 'x.broken.t'), ReplyCode.INTERNAL);
  const line = await agent.waitForLog((l) => (l.error as { code?: string } | undefined)?.code === 'WEFT-A007');
  const err = line.error as Record<string, any>;
  assert.equal(err.severity, 'error');
  assert.ok(err.cause && err.remediation);
  assert.equal(err.details.errno, 'ENOTDIR');
});

test('handshakes are counted by reply code in /metrics', async () => {
  const { text } = await agent.admin('/metrics');
  for (const code of ['OK', 'MALFORMED', 'UNSUPPORTED_VERSION', 'UNKNOWN_SERVICE', 'FORBIDDEN', 'UNAVAILABLE', 'TUNNEL_FAILED', 'INTERNAL']) {
    assert.match(text, new RegExp(`weft_agent_handshakes_total\\{code="${code}"\\} [1-9]`), code);
  }
  assert.match(text, /weft_agent_handshake_duration_seconds_count\{code="OK"\} [1-9]/);
  assert.match(text, /weft_agent_connect_duration_seconds_count\{result="ok"\} [1-9]/);
  assert.match(text, /weft_agent_bytes_total\{service="echo.svc.t",version="main",direction="up"\} [1-9]/);
});

test('the meshlet client socket has mode 0660', async () => {
  assert.equal(statSync(client).mode & 0o777, 0o660);
});
