// TunnelPeers in one process over real TCP on 127.0.0.1: one session per pair
// when both sides dial at once (the same one kept on both sides, the lower
// initiator key's), relays (end-to-end: the middle hop only sees sealed bytes),
// relay fan-in limits, backoff after a failed dial, reconnect after a lost
// session, idle close, pinned keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { TunnelErrorCode } from '../../src/kernel/frame.js';
import { generateIdentity, type Identity } from '../../src/tunnel/identity.js';
import { TunnelPeers, type TunnelPeersOptions } from '../../src/tunnel/peers.js';
import { RELAY_SOURCE, relayServiceId, relayTarget } from '../../src/tunnel/relay.js';
import type { TunnelSession } from '../../src/tunnel/session.js';
import type { TunnelStream } from '../../src/tunnel/stream.js';
import { TunnelStreamError } from '../../src/tunnel/stream.js';

const SECRET = 'peers test secret';

interface Node {
  peers: TunnelPeers;
  identity: Identity;
  address: string;
}

/** A TunnelPeers whose services echo (every non-relay stream is an echo). */
async function node(name: string, o: Partial<TunnelPeersOptions> = {}): Promise<Node> {
  const identity = generateIdentity();
  const peers = new TunnelPeers({
    identity,
    psk: SECRET,
    agentId: name,
    onStream: (stream: TunnelStream) => {
      stream.pipe(stream);
    },
    backoffInitialMs: 50,
    backoffMaxMs: 200,
    ...o,
  });
  const { port } = await peers.listen('127.0.0.1', 0);
  return { peers, identity, address: `127.0.0.1:${port}` };
}

/** Polls `cond` on the event loop (state changes follow socket events, not timers). */
async function until(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function echo(session: TunnelSession, data: Buffer): Promise<Buffer> {
  const s = await session.openStream('echo.svc.t', 'app.t');
  const parts: Buffer[] = [];
  s.on('data', (c: Buffer) => parts.push(c));
  s.end(data);
  await once(s, 'end');
  return Buffer.concat(parts);
}

test('simultaneous dials settle on one session, the same on both sides (lower initiator key wins)', async () => {
  for (let round = 0; round < 4; round++) {
    const a = await node('a');
    const b = await node('b');
    a.peers.setPeers([{ name: 'b', address: b.address }]);
    b.peers.setPeers([{ name: 'a', address: a.address }]);
    const [sa, sb] = await Promise.all([a.peers.session('b'), b.peers.session('a')]);
    assert.ok(sa && sb);
    // Both dials complete (two connections on each side), then the loser closes on both sides.
    const settled = (n: Node) => n.peers.totals().sessions === 2 && n.peers.totals().active === 1;
    await until(() => settled(a) && settled(b), 'duplicates closed');
    const [ka, kb] = [await a.peers.session('b'), await b.peers.session('a')];
    assert.deepEqual(Buffer.from(ka.handshakeHash), Buffer.from(kb.handshakeHash), 'both sides kept the same connection');
    const initiatorKey = ka.role === 'initiator' ? a.identity.publicKey : b.identity.publicKey;
    const lower = Buffer.compare(a.identity.publicKey, b.identity.publicKey) < 0 ? a.identity.publicKey : b.identity.publicKey;
    assert.deepEqual(Buffer.from(initiatorKey), Buffer.from(lower));
    assert.deepEqual(await echo(ka, Buffer.from('one session')), Buffer.from('one session'));
    await Promise.all([a.peers.close(), b.peers.close()]);
  }
});

test('relay: A reaches C through B; B splices sealed bytes it cannot read', async () => {
  const c = await node('c');
  const b = await node('b');
  const a = await node('a');
  // The middle hop must know the target's key (config, an earlier session, or gossip member metadata).
  b.peers.setPeers([{ name: 'c', address: c.address, publicKey: c.peers.id }]);
  a.peers.setPeers([{ name: 'b', address: b.address }, { name: 'c', publicKey: c.peers.id, via: 'b' }]);
  const seenAtB: Buffer[] = [];
  b.peers.on('relay', (r: { inbound: TunnelStream; outbound: TunnelStream }) => {
    r.inbound.on('data', (x: Buffer) => seenAtB.push(x));
    r.outbound.on('data', (x: Buffer) => seenAtB.push(x));
  });
  const session = await a.peers.session('c');
  assert.equal(session.peerId, c.peers.id, 'the nested session is with C itself');
  const marker = Buffer.from('PLAINTEXT-MARKER-'.repeat(64));
  const payload = Buffer.concat([marker, randomBytes(256 << 10), marker]);
  assert.deepEqual(await echo(session, payload), payload);
  const atB = Buffer.concat(seenAtB);
  assert.ok(atB.length > 2 * payload.length, `B relayed ${atB.length} bytes`);
  assert.equal(atB.indexOf(Buffer.from('PLAINTEXT-MARKER-')), -1, 'B never sees the plaintext');
  assert.equal(a.peers.peers().find((p) => p.name === 'c')?.path, 'via b');
  assert.match(String(c.peers.peers().find((p) => p.key === a.peers.id)?.path), /^relayed-in via /);
  assert.equal(b.peers.relayTotal, 1);
  await Promise.all([a.peers.close(), b.peers.close(), c.peers.close()]);
  assert.equal(b.peers.relayActive, 0);
});

test('relay fan-in is bounded per session and in total; unknown targets are refused', async () => {
  const c = await node('c');
  const b = await node('b', { relay: { maxStreams: 10, maxStreamsPerSession: 1 } });
  const a = await node('a');
  b.peers.setPeers([{ name: 'c', address: c.address, publicKey: c.peers.id }]);
  a.peers.setPeers([{ name: 'b', address: b.address }]);
  const ab = await a.peers.session('b');
  const first = await ab.openStream(relayServiceId(c.peers.id), RELAY_SOURCE);
  await assert.rejects(ab.openStream(relayServiceId(c.peers.id), RELAY_SOURCE), (e: TunnelStreamError) => e.rstCode === TunnelErrorCode.STREAM_REFUSED);
  await assert.rejects(ab.openStream(relayServiceId(generateIdentity().publicKey), RELAY_SOURCE), (e: TunnelStreamError) => e.rstCode === TunnelErrorCode.STREAM_REFUSED);
  first.destroy();
  await until(() => b.peers.relayActive === 0, 'relay slot released');
  await assert.rejects(ab.openStream(relayServiceId(generateIdentity().publicKey), RELAY_SOURCE), (e: TunnelStreamError) => e.rstCode === TunnelErrorCode.UNKNOWN_SERVICE);
  assert.equal(b.peers.relayRefused, 3);
  assert.equal(relayTarget(relayServiceId(c.peers.id)), c.peers.id);
  assert.equal(relayTarget('echo.svc.t'), null);
  await Promise.all([a.peers.close(), b.peers.close(), c.peers.close()]);
});

test('a failed dial puts the peer in backoff; a lost session is re-dialled; idle sessions close', async () => {
  const dead = net.createServer();
  dead.listen(0, '127.0.0.1');
  await once(dead, 'listening');
  const deadPort = (dead.address() as net.AddressInfo).port;
  dead.close();
  const b = await node('b');
  const a = await node('a', { idleCloseMs: 150 });
  a.peers.setPeers([{ name: 'x', address: `127.0.0.1:${deadPort}` }, { name: 'b', address: b.address }]);
  await assert.rejects(a.peers.session('x'), (e: Error & { code?: string }) => e.code === 'WEFT-T015' && /ECONNREFUSED/.test(JSON.stringify((e as any).details)));
  await assert.rejects(a.peers.session('x'), /backoff/);
  assert.equal(a.peers.peers().find((p) => p.name === 'x')?.state, 'backoff');
  await assert.rejects(a.peers.session('nobody'), /no tunnel peer/);

  // Lost to an error (B resets it): A dials again by itself.
  const s1 = await a.peers.session('b');
  await until(() => b.peers.totals().active === 1, 'B has the session');
  const reconnected = once(a.peers, 'session');
  (await b.peers.session(a.peers.id)).destroy();
  await s1.whenClosed();
  const [, s2] = (await reconnected) as [string, TunnelSession];
  assert.notEqual(s2, s1);
  assert.equal(a.peers.peers().find((p) => p.name === 'b')?.sessions, 2);

  // No streams for idleCloseMs: closed gracefully, and dialled again on demand.
  await s2.whenClosed();
  assert.equal(s2.error, null, 'idle close is graceful');
  assert.equal(a.peers.peers().find((p) => p.name === 'b')?.state, 'idle');
  const s3 = await a.peers.session('b');
  assert.deepEqual(await echo(s3, Buffer.from('again')), Buffer.from('again'));
  await Promise.all([a.peers.close(), b.peers.close()]);
});

test('a configured public key pins the dial', async () => {
  const b = await node('b');
  const a = await node('a');
  a.peers.setPeers([{ name: 'b', address: b.address, publicKey: Buffer.from(generateIdentity().publicKey).toString('base64') }]);
  await assert.rejects(a.peers.session('b'), (e: any) => e.code === 'WEFT-T015' && e.details.cause === 'WEFT-T004');
  assert.equal(a.peers.totals().active, 0);
  await Promise.all([a.peers.close(), b.peers.close()]);
  await until(() => a.peers.resources().sockets === 0 && b.peers.resources().sockets === 0, 'sockets closed');
  assert.deepEqual(a.peers.resources(), { pendingHandshakes: 0, sockets: 0, sessions: 0 });
  assert.deepEqual(b.peers.resources(), { pendingHandshakes: 0, sockets: 0, sessions: 0 });
});
