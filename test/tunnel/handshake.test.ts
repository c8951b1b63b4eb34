import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  connectTunnel, generateIdentity, handshakeStats, tunnelResources, formatPublicKey, TUNNEL_PROTOCOL_VERSION,
  type TunnelSession,
} from '../../src/tunnel/index.js';
import { preamble } from '../../src/tunnel/handshake.js';
import { listen, dial, makePair, SECRET } from './_pair.js';

/** Waits until the in-process counts return to what they were (handshakes, sessions). */
async function settled(before: Record<string, number>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const now = tunnelResources();
    if (now.handshake === before.handshake && now.session === before.session) return;
    await sleep(5);
  }
  assert.deepEqual(tunnelResources(), before);
}

function timeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

test('handshake: both sides learn each other\'s key and settings', async () => {
  const p = await makePair({ client: { agentId: 'agent-a', initialStreamWindow: 65536 }, server: { agentId: 'agent-b', maxFrameSize: 32768 } });
  assert.equal(p.client.peerId, p.serverIdentity.id);
  assert.equal(p.server.peerId, p.clientIdentity.id);
  assert.equal(p.client.peerSettings.agentId, 'agent-b');
  assert.equal(p.server.peerSettings.agentId, 'agent-a');
  assert.equal(p.client.peerSettings.maxFrameSize, 32768);
  assert.equal(p.server.peerSettings.initialStreamWindow, 65536);
  assert.deepEqual(p.client.handshakeHash, p.server.handshakeHash);
  assert.ok((await p.client.ping()) >= 0);
  p.client.destroy();
  await p.server.whenClosed();
  await p.close();
});

test('wrong cluster secret: refused, and the responder keeps nothing (socket, timers, state)', async () => {
  const before = tunnelResources();
  const stats0 = handshakeStats();
  const timers0 = timeouts();
  const l = await listen({ identity: generateIdentity(), psk: 'the real secret', handshakeTimeoutMs: 200 });
  const sock = await dial(l.port);
  const received: Buffer[] = [];
  sock.on('data', (d) => received.push(d));
  const client = connectTunnel(sock, { identity: generateIdentity(), psk: 'a wrong secret', handshakeTimeoutMs: 5000 });
  const serverErr = (await l.sessions.next()).value as Error;
  assert.equal((serverErr as any).code, 'WEFT-T001');
  assert.equal((serverErr as any).details.cause, 'auth');
  // The initiator only sees the connection closed: it learned nothing, not even the responder's key.
  await assert.rejects(client, (e: any) => e.code === 'WEFT-T003' && e.details.cause === 'closed');
  assert.equal(received.length, 0, 'the responder sent no byte');
  assert.equal(l.sockets.size, 0, 'server-side socket closed');
  await settled(before);
  assert.equal(timeouts(), timers0, 'no timer left behind');
  const stats1 = handshakeStats();
  assert.equal(stats1.failed.auth, stats0.failed.auth + 1);
  l.server.close();
});

test('pinning: a listed key passes, any other is refused (WEFT-T004) either way', async () => {
  const a = generateIdentity();
  const b = generateIdentity();
  // Both pin each other: OK. Keys may be given as bytes, base64 or hex.
  const ok = await makePair({
    client: { identity: a, pinnedKeys: [b.publicKey] },
    server: { identity: b, pinnedKeys: [formatPublicKey(a.publicKey, 'hex')] },
  });
  assert.equal(ok.client.peerId, b.id);
  ok.client.destroy();
  await ok.server.whenClosed();
  await ok.close();

  const before = tunnelResources();
  // The responder refuses an initiator it does not know (after msg3; sends nothing back).
  const l = await listen({ identity: b, pinnedKeys: [generateIdentity().id] });
  const c1 = connectTunnel(await dial(l.port), { identity: a, psk: SECRET });
  const e1 = (await l.sessions.next()).value as any;
  assert.equal(e1.code, 'WEFT-T004');
  assert.equal(e1.details.peerKey, a.id);
  // The initiator believed it was done; its session dies as the socket closes.
  const s1 = await c1.catch((e) => e);
  if (!(s1 instanceof Error)) await (s1 as TunnelSession).whenClosed();
  l.server.close();

  // The initiator refuses a responder it does not know (before msg3).
  const l2 = await listen({ identity: b });
  const c2 = connectTunnel(await dial(l2.port), { identity: a, psk: SECRET, pinnedKeys: [generateIdentity().publicKey] });
  await assert.rejects(c2, (e: any) => e.code === 'WEFT-T004' && e.details.peerKey === b.id);
  const e2 = (await l2.sessions.next()).value as any;
  assert.equal(e2.code, 'WEFT-T003');
  l2.server.close();
  await settled(before);
});

test('handshake timeout: a silent peer is dropped and its socket freed (WEFT-T002)', async () => {
  const before = tunnelResources();
  const l = await listen({ identity: generateIdentity(), handshakeTimeoutMs: 100 });
  const sock = await dial(l.port);
  sock.on('error', () => {});
  sock.write(preamble().subarray(0, 5)); // a few bytes, then silence
  const e = (await l.sessions.next()).value as any;
  assert.equal(e.code, 'WEFT-T002');
  if (!sock.destroyed) await new Promise((r) => sock.once('close', r));
  await settled(before);
  l.server.close();
});

test('hostile bytes before the handshake: structured errors, bounded reads, no crash', async () => {
  const before = tunnelResources();
  const l = await listen({ identity: generateIdentity(), handshakeTimeoutMs: 2000 });
  const cases: { name: string; bytes: Buffer; end?: boolean; expect: [string, string] }[] = [
    { name: 'garbage', bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), expect: ['WEFT-T003', 'malformed'] },
    { name: 'other version', bytes: Buffer.from([0x57, 0x45, 0x46, 0x54, TUNNEL_PROTOCOL_VERSION + 1, 1, 0, 0]), expect: ['WEFT-T003', 'version'] },
    { name: 'oversized length', bytes: Buffer.concat([preamble(), Buffer.from([0xff, 0xff])]), expect: ['WEFT-T003', 'malformed'] },
    { name: 'random message', bytes: Buffer.concat([preamble(), Buffer.from([0, 48]), Buffer.alloc(48, 1)]), expect: ['WEFT-T001', 'auth'] },
    { name: 'short message', bytes: Buffer.concat([preamble(), Buffer.from([0, 20]), Buffer.alloc(20, 1)]), expect: ['WEFT-T003', 'malformed'] },
    { name: 'truncated then closed', bytes: Buffer.concat([preamble(), Buffer.from([0, 48]), Buffer.alloc(10)]), end: true, expect: ['WEFT-T003', 'closed'] },
    { name: 'a flood', bytes: Buffer.concat([preamble(), Buffer.from([0x03, 0xff]), Buffer.alloc(1 << 20)]), expect: ['WEFT-T003', 'malformed'] },
  ];
  for (const c of cases) {
    const sock = await dial(l.port);
    sock.on('error', () => {});
    sock.write(c.bytes);
    if (c.end) sock.end();
    const e = (await l.sessions.next()).value as any;
    assert.equal(e.code, c.expect[0], c.name);
    assert.equal(e.details.cause, c.expect[1], c.name);
    if (!sock.destroyed) await new Promise((r) => sock.once('close', r));
  }
  await settled(before);
  assert.equal(l.sockets.size, 0);
  l.server.close();
});
