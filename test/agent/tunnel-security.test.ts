// Tunnel security between real agent processes: a peer with the wrong cluster
// secret is refused and leaves nothing behind on the responder (no session,
// no socket, no handshake in progress, the failure counted by cause); a record
// altered or replayed in transit (a TCP tap between the agents) closes the
// session with a structured error, and the client's stream is reset.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { ReplyCode } from '../../src/agent/kernels.js';
import { handshake, request, startEcho } from '../helpers/mesh-client.js';
import { CLUSTER_SECRET, clientMeshlets, providerMeshlets, startTunnelAgent, stopAllTunnelAgents, type TunnelAgent } from '../helpers/tunnel-agents.js';
import { metricValue } from '../helpers/metrics.js';
import { startTap, type TapHook } from '../tunnel/_tap.js';

/** One admin GET on a fresh connection that closes afterwards (so it leaves no keep-alive socket behind). */
function freshGet(agent: TunnelAgent, path: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = http.get(agent.adminUrl + path, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(JSON.parse(body)));
    });
    req.on('error', reject);
  });
}

after(stopAllTunnelAgents);

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 3_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a peer with the wrong cluster secret is refused and leaves nothing behind', async () => {
  const b = await startTunnelAgent({ name: 'b', meshlets: providerMeshlets() });
  const echo = await startEcho(b.serverSocket('t', 'svc', 'echo'));
  const before = (await freshGet(b, '/debug/memory')).activeResources as Record<string, number>;
  const a = await startTunnelAgent({
    name: 'a',
    secret: 'not the cluster secret',
    meshlets: clientMeshlets(),
    peers: [{ name: 'b', address: b.tunnel, services: ['echo.svc.t'] }],
  });
  const r = await handshake(a.clientSocket('t', 'app'), request('echo.svc.t'));
  assert.equal(r.code, ReplyCode.TUNNEL_FAILED);
  r.socket.destroy();
  assert.equal(echo.accepted, 0, 'nothing reached the service');

  // The responder: the failure counted by cause, no session, no socket, no handshake, no new timer.
  const after = await until(
    () => freshGet(b, '/debug/memory'),
    (v) => (v.activeResources.TCPSocketWrap ?? 0) <= (before.TCPSocketWrap ?? 0),
  );
  assert.equal(after.activeResources.TCPSocketWrap ?? 0, before.TCPSocketWrap ?? 0, 'no socket left open');
  assert.equal(after.activeResources.Timeout ?? 0, before.Timeout ?? 0, 'no timer left running');
  const peers = await freshGet(b, '/peers');
  assert.deepEqual(peers.resources, { pendingHandshakes: 0, sockets: 0, sessions: 0, handshakesInProgress: 0 });
  assert.deepEqual(peers.peers, [], 'the refused agent is not a peer');
  assert.equal(peers.handshakes.failed.auth, 1);
  assert.equal(peers.handshakes.completed, 0);
  const metrics = (await b.admin('/metrics')).text;
  assert.equal(metricValue(metrics, 'weft_tunnel_handshake_failures_total', { cause: 'auth' }), 1);
  assert.equal(metricValue(metrics, 'weft_tunnel_sessions_active', { path: 'direct' }), 0);
  const refusedLog = await b.waitForLog((l) => l.msg === 'tunnel handshake refused');
  assert.equal((refusedLog.error as { code: string }).code, 'WEFT-T001');
  assert.ok(!JSON.stringify(b.logs).includes(CLUSTER_SECRET) && !b.stderr().includes(CLUSTER_SECRET), 'the secret is never logged');
  assert.ok(!JSON.stringify(a.logs).includes('not the cluster secret'), 'the secret is never logged');

  // The initiator sees the peer unreachable, with the cause: in backoff, or idle once the
  // wait is over and no stream asks for it (a loaded machine can take that long; as tunnel-e2e).
  const view = (await a.admin('/peers')).body.peers[0];
  assert.ok(['backoff', 'idle'].includes(view.state), `refused peer state ${view.state}`);
  assert.equal(view.lastError.code, 'WEFT-T015');
  await echo.close();
  await Promise.all([a.stop(), b.stop()]);
});

async function tapped(hook: TapHook): Promise<{ a: TunnelAgent; b: TunnelAgent; close: () => void }> {
  const b = await startTunnelAgent({ name: 'b', meshlets: providerMeshlets() });
  const [host, port] = b.tunnel.split(':');
  assert.equal(host, '127.0.0.1');
  const tap = await startTap(Number(port), hook);
  const a = await startTunnelAgent({
    name: 'a',
    meshlets: clientMeshlets(),
    peers: [{ name: 'b', address: `127.0.0.1:${tap.port}`, services: ['echo.svc.t'] }],
  });
  return { a, b, close: () => tap.close() };
}

/** Streams data to the echo service until the stream breaks; resolves with how it ended. */
async function streamUntilBroken(a: TunnelAgent): Promise<{ ended: boolean; error?: string }> {
  const r = await handshake(a.clientSocket('t', 'app'), request('echo.svc.t'));
  assert.equal(r.code, ReplyCode.OK);
  const sock = r.socket;
  let ended = false;
  let error: string | undefined;
  sock.on('end', () => (ended = true));
  sock.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
  sock.resume();
  const closed = new Promise<void>((res) => sock.once('close', () => res()));
  const block = randomBytes(32 << 10);
  while (!sock.destroyed) {
    if (!sock.write(block)) await Promise.race([new Promise((res) => sock.once('drain', res)), closed]);
  }
  await closed;
  return { ended, ...(error ? { error } : {}) };
}

for (const [what, hook, failing] of [
  // Record 3 with one ciphertext bit flipped: its tag fails.
  ['a tampered record', (u) => (u.dir === 'c2s' && u.kind === 'record' && u.index === 3 ? Buffer.from(u.bytes.map((x, i) => (i === 20 ? x ^ 1 : x))) : undefined), 3],
  // Record 3 sent twice: the copy arrives as record 4, whose nonce differs, so its tag fails.
  ['a replayed record', (u) => (u.dir === 'c2s' && u.kind === 'record' && u.index === 3 ? [u.bytes, u.bytes] : undefined), 4],
] as [string, TapHook, number][]) {
  test(`${what} closes the session with a structured error; the client's stream is reset`, async () => {
    const echoes: { close(): Promise<void> }[] = [];
    const { a, b, close } = await tapped(hook);
    echoes.push(await startEcho(b.serverSocket('t', 'svc', 'echo')));
    try {
      const outcome = await streamUntilBroken(a);
      // A Unix socket has no RST: the client learns of the abort as an error on its
      // next write (EPIPE) or read (ECONNRESET); depending on timing an EOF may come
      // first, so what must always be there is the error.
      assert.ok(outcome.error, `the client sees an error, not just an end (ended=${outcome.ended})`);
      const line = await b.waitForLog((l) => l.msg === 'tunnel session closed');
      const err = line.error as { code: string; message: string; cause: string; remediation: string; details: Record<string, unknown> };
      assert.equal(err.code, 'WEFT-T005');
      assert.match(err.message, new RegExp(`record ${failing} failed authentication`));
      assert.ok(err.cause && err.remediation);
      assert.equal(err.details.record, failing);
    } finally {
      // Even when an assertion fails, so no agent keeps the test file alive.
      close();
      for (const e of echoes) await e.close();
      await Promise.all([a.stop(), b.stop()]);
    }
  });
}
