// End to end across agent processes: `weft connect` on agent A reaches the
// server socket of a meshlet on agent B; reply codes from the far side
// (UNKNOWN_SERVICE, UNAVAILABLE) and for an unreachable peer (TUNNEL_FAILED);
// access control at the source (FORBIDDEN); 1,000 concurrent streams
// byte-exact; a relay through a third agent when the direct path is refused;
// `weft id`.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ReplyCode } from '../../src/agent/kernels.js';
import { CLI, makeTempDir } from '../helpers/agent-process.js';
import { echoRoundTrip, handshake, replyCode, request, sha256, startEcho } from '../helpers/mesh-client.js';
import { clientMeshlets, providerMeshlets, startTunnelAgent, stopAllTunnelAgents } from '../helpers/tunnel-agents.js';
import { metricValue } from '../helpers/metrics.js';

after(stopAllTunnelAgents);

/** A loopback port nobody listens on (connect → ECONNREFUSED). */
async function refusingPort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('weft connect on A reaches a meshlet server socket on B; reply codes across agents', async () => {
  const b = await startTunnelAgent({ name: 'b', meshlets: providerMeshlets() });
  const echo = await startEcho(b.serverSocket('t', 'svc', 'echo'));
  const dead = await refusingPort();
  const a = await startTunnelAgent({
    name: 'a',
    meshlets: clientMeshlets(),
    peers: [
      // B serves echo and sink (sink: declared, nothing listening); B does not serve nope.svc.t whatever A believes.
      { name: 'b', address: b.tunnel, publicKey: b.publicKey, services: ['echo.svc.t', 'sink.svc.t', 'nope.svc.t', 'echo.other.t'] },
      { name: 'gone', address: `127.0.0.1:${dead}`, services: ['down.svc.t'] },
    ],
  });

  const child = spawn(process.execPath, [CLI, 'connect', 'echo.svc.t', '--config', a.configFile], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stdin.end('hello across agents\n');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
  assert.equal(Buffer.concat(out).toString(), 'hello across agents\n');
  assert.equal(echo.accepted, 1, "B's server socket took the connection");

  const client = a.clientSocket('t', 'app');
  assert.equal(await replyCode(client, 'nope.svc.t'), ReplyCode.UNKNOWN_SERVICE);
  assert.equal(await replyCode(client, 'sink.svc.t'), ReplyCode.UNAVAILABLE);
  assert.equal(await replyCode(client, 'down.svc.t'), ReplyCode.TUNNEL_FAILED);
  assert.equal(await replyCode(client, 'echo.other.t'), ReplyCode.FORBIDDEN, 'uses is enforced at the source agent');
  assert.equal(await replyCode(client, 'unlisted.svc.t'), ReplyCode.UNKNOWN_SERVICE);

  const bm = (await b.admin('/metrics')).text;
  assert.equal(metricValue(bm, 'weft_tunnel_streams_refused_total', { code: 'UNKNOWN_SERVICE' }), 1);
  assert.equal(metricValue(bm, 'weft_tunnel_streams_refused_total', { code: 'UNAVAILABLE' }), 1);
  assert.equal(metricValue(bm, 'weft_tunnel_streams_total', { direction: 'in' }), 1);
  const services = (await a.admin('/services')).body.services as { id: string; endpoints: { kind: string; peer?: string }[] }[];
  assert.deepEqual(services.find((s) => s.id === 'echo.svc.t')?.endpoints.map((e) => [e.kind, e.peer]), [['remote', 'b']]);
  const peers = (await a.admin('/peers')).body.peers as Record<string, any>[];
  const pb = peers.find((p) => p.name === 'b')!;
  assert.equal(pb.state, 'connected');
  assert.equal(pb.path, 'direct');
  assert.ok(pb.bytesSent > 0 && pb.bytesReceived > 0 && pb.recordsSent > 0);
  assert.equal(pb.streamsOpened, 3);
  const pg = peers.find((p) => p.name === 'gone')!;
  // Between retries the peer waits in backoff; once the wait is over and no stream asks for it, it is idle.
  assert.ok(['backoff', 'idle'].includes(pg.state), `unreachable peer state ${pg.state}`);
  assert.match(pg.lastError.message, /ECONNREFUSED/);
  await echo.close();
  await Promise.all([a.stop(), b.stop()]);
});

test('1,000 concurrent streams across agents arrive byte-exact', async () => {
  // 1,000 opens at once on a loaded 2-core machine can outlast the 2 s default connect
  // timeout; this test is about bytes and one shared session, not about that timeout.
  const config = { timeouts: { connect: '30s' } };
  const b = await startTunnelAgent({ name: 'b', meshlets: providerMeshlets(), config });
  const echo = await startEcho(b.serverSocket('t', 'svc', 'echo'));
  let a: Awaited<ReturnType<typeof startTunnelAgent>> | undefined;
  try {
    a = await startTunnelAgent({ name: 'a', meshlets: clientMeshlets(), config, peers: [{ name: 'b', address: b.tunnel, services: ['echo.svc.t'] }] });
    const client = a.clientSocket('t', 'app');
    const results = await Promise.all(
      Array.from({ length: 1000 }, async () => {
        const data = randomBytes(4096 + Math.floor(Math.random() * 8192));
        const r = await handshake(client, request('echo.svc.t'));
        assert.equal(r.code, ReplyCode.OK);
        const back = await echoRoundTrip(r.socket, data, r.extra);
        r.socket.destroy();
        return sha256(back) === sha256(data);
      }),
    );
    assert.equal(results.filter(Boolean).length, 1000);
    assert.equal(echo.accepted, 1000);
    const pb = (await a.admin('/peers')).body.peers[0];
    assert.equal(pb.sessions, 1, 'one session carried them all');
    assert.equal(pb.streamsOpened, 1000);
  } finally {
    await echo.close();
    await Promise.all([a?.stop(), b.stop()]);
  }
});

test('relay: A reaches C through B when the direct path to C is refused', async () => {
  const c = await startTunnelAgent({ name: 'c', meshlets: providerMeshlets() });
  const echo = await startEcho(c.serverSocket('t', 'svc', 'echo'));
  const b = await startTunnelAgent({ name: 'b', peers: [{ name: 'c', address: c.tunnel, publicKey: c.publicKey }] });
  const blocked = await refusingPort();
  const a = await startTunnelAgent({
    name: 'a',
    meshlets: clientMeshlets(),
    peers: [
      { name: 'b', address: b.tunnel },
      { name: 'c', address: `127.0.0.1:${blocked}`, publicKey: c.publicKey, services: ['echo.svc.t'] },
    ],
    routes: { c: 'b' },
  });
  const r = await handshake(a.clientSocket('t', 'app'), request('echo.svc.t'));
  assert.equal(r.code, ReplyCode.OK);
  const data = randomBytes(1 << 20);
  assert.equal(sha256(await echoRoundTrip(r.socket, data, r.extra)), sha256(data));
  r.socket.destroy();
  const pc = ((await a.admin('/peers')).body.peers as Record<string, any>[]).find((p) => p.name === 'c')!;
  assert.equal(pc.path, 'via b');
  assert.equal(pc.key, c.publicKey);
  const bv = (await b.admin('/peers')).body;
  assert.equal(bv.relay.total, 1);
  const cv = (await c.admin('/peers')).body.peers as Record<string, any>[];
  assert.equal(cv.find((p) => p.key === a.publicKey)?.path, 'relayed-in via b');
  assert.equal(echo.accepted, 1);
  await echo.close();
  await Promise.all([a.stop(), b.stop(), c.stop()]);
});

test('weft id prints the public key, creating the identity file 0600 on first use', () => {
  const dir = makeTempDir();
  const file = join(dir, 'keys', 'identity.json');
  const first = spawnSync(process.execPath, [CLI, 'id', '--identity', file], { encoding: 'utf8' });
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /^[A-Za-z0-9+/]{43}=\n$/);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const again = spawnSync(process.execPath, [CLI, 'id', '--identity', file], { encoding: 'utf8' });
  assert.equal(again.stdout, first.stdout, 'the same key on later runs');
  const hex = spawnSync(process.execPath, [CLI, 'id', '--identity', file, '--hex'], { encoding: 'utf8' });
  assert.equal(Buffer.from(hex.stdout.trim(), 'hex').toString('base64') + '\n', first.stdout);
});
