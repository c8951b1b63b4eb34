import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Keyring } from '../../src/gossip/keyring.js';
import { SecureTransport, seal, open, ReplayGuard, SEAL_OVERHEAD, NONCE_BYTES } from '../../src/gossip/secure-transport.js';
import { LwwMap } from '../../src/gossip/crdt/lww-map.js';
import { HybridLogicalClock } from '../../src/gossip/crdt/hlc.js';
import { replicate, type Replicated } from '../../src/gossip/crdt/crdt-gossiper.js';
import { WeftError } from '../../src/errors.js';
import { ManualClock, MemoryNetwork, TestCluster, type Packet } from './_memory-transport.js';

const OLD = 'old cluster secret, 32 bytes ok!';
const NEW = 'new cluster secret, rotated in..';
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));
const nonce = (fill: number): Uint8Array => new Uint8Array(NONCE_BYTES).fill(fill);

describe('seal / open', () => {
  const ring = new Keyring([OLD]);
  const now = 1_700_000_000_000;

  test('round trip, with the documented overhead', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (payload) => {
        const sealed = seal(ring, now, payload, nonce(7));
        assert.equal(sealed.length, payload.length + SEAL_OVERHEAD);
        const r = open(ring, now + 10, 60_000, sealed);
        return r.ok && Buffer.from(r.payload).equals(Buffer.from(payload)) && r.sentAt === now;
      }),
    );
  });

  test('any altered byte makes the message fail to open', () => {
    const sealed = seal(ring, now, enc('the membership update'), nonce(1));
    for (let i = 0; i < sealed.length; i++) {
      const bad = sealed.slice();
      bad[i]! ^= 0x01;
      const r = open(ring, now, 60_000, bad);
      assert.equal(r.ok, false, `byte ${i}`);
      if (!r.ok) assert.equal(r.reason, i === 0 ? 'malformed' : 'auth', `byte ${i}`);
    }
    for (let n = 0; n < sealed.length; n++) assert.equal(open(ring, now, 60_000, sealed.subarray(0, n)).ok, false);
  });

  test('a message sealed under another secret does not open', () => {
    const other = new Keyring(['somebody else entirely, 32 bytes']);
    const r = open(ring, now, 60_000, seal(other, now, enc('hello'), nonce(2)));
    assert.deepEqual(r, { ok: false, reason: 'auth' });
  });

  test('a response is bound to its request nonce', () => {
    const reply = seal(ring, now, enc('state'), nonce(3), nonce(9));
    assert.equal(open(ring, now, 60_000, reply, nonce(9)).ok, true);
    assert.equal(open(ring, now, 60_000, reply, nonce(8)).ok, false);
    assert.equal(open(ring, now, 60_000, reply).ok, false);
  });

  test('messages outside the time window are stale', () => {
    const sealed = seal(ring, now, enc('x'), nonce(4));
    assert.deepEqual(open(ring, now + 60_001, 60_000, sealed), { ok: false, reason: 'stale' });
    assert.deepEqual(open(ring, now - 60_001, 60_000, sealed), { ok: false, reason: 'stale' });
  });
});

describe('ReplayGuard', () => {
  test('rejects a nonce seen before and stays within its capacity', () => {
    const g = new ReplayGuard(60_000, 4);
    assert.ok(g.accept(nonce(1), 0, 0));
    assert.equal(g.accept(nonce(1), 0, 0), false);
    for (let i = 2; i < 10; i++) assert.ok(g.accept(nonce(i), 0, 0));
    assert.equal(g.size, 4);
  });

  test('forgets nonces once the age check covers them', () => {
    const g = new ReplayGuard(1000, 100);
    g.accept(nonce(1), 0, 0);
    g.accept(nonce(2), 5000, 5000);
    assert.equal(g.size, 1);
  });
});

describe('SecureTransport', () => {
  function pair(options: { window?: number } = {}) {
    const clock = new ManualClock();
    const net = new MemoryNetwork();
    const ring = () => new Keyring([OLD]);
    const a = new SecureTransport(net.transport('a:1'), { keyring: ring(), clock, replayWindowMs: options.window });
    const b = new SecureTransport(net.transport('b:1'), { keyring: ring(), clock, replayWindowMs: options.window });
    const got: string[] = [];
    b.onPacket((from, data) => got.push(`${from}:${dec(data)}`));
    return { clock, net, a, b, got };
  }

  test('packets arrive opened; nothing on the wire is plaintext', () => {
    const { net, a, got } = pair();
    a.sendPacket('b:1', enc('secret membership data'));
    net.deliver();
    assert.deepEqual(got, ['a:1:secret membership data']);
    assert.ok(!Buffer.from(net.sent[0]!.data).includes(Buffer.from('secret')));
  });

  test('a captured packet replayed within the window is dropped and counted', () => {
    const { net, a, b, got } = pair();
    a.sendPacket('b:1', enc('once'));
    net.deliver();
    net.inject(net.sent[0]!);
    net.inject(net.sent[0]!);
    net.deliver();
    assert.deepEqual(got, ['a:1:once']);
    assert.equal(b.stats.droppedReplay, 2);
  });

  test('a captured packet replayed after the window is dropped as stale', () => {
    const { clock, net, a, b, got } = pair({ window: 60_000 });
    a.sendPacket('b:1', enc('old news'));
    const captured = net.sent[0]!;
    clock.advance(60_001);
    net.deliver(); // arrives too late even the first time
    net.inject(captured);
    net.deliver();
    assert.deepEqual(got, []);
    assert.equal(b.stats.droppedStale, 2);
  });

  test('tampered and foreign packets are dropped and counted', () => {
    const { net, a, b, got } = pair();
    net.filter = (p: Packet) => {
      const d = p.data.slice();
      d[d.length - 1]! ^= 0x80;
      return d;
    };
    a.sendPacket('b:1', enc('x'));
    net.deliver();
    net.filter = undefined;
    // A well-formed header with a forged body: key id of b's key, so b has to try it.
    const forged = new Uint8Array([1, new Keyring([OLD]).primary().id, ...enc('plaintext injection attempt, long enough to parse')]);
    net.inject({ from: 'evil:1', to: 'b:1', data: forged });
    net.inject({ from: 'evil:1', to: 'b:1', data: new Uint8Array([1, 2, 3]) });
    net.deliver();
    assert.deepEqual(got, []);
    assert.equal(b.stats.droppedAuth, 2);
    assert.equal(b.stats.droppedMalformed, 1);
  });

  test('request/response: sealed both ways; a reply that does not open rejects', async () => {
    const { net, a, b } = pair();
    b.onRequest((_from, data) => enc(`echo ${dec(data)}`));
    assert.equal(dec(await a.request('b:1', enc('ping'), 1000)), 'echo ping');
    // A reply swapped for one from another exchange fails its binding.
    let previousReply: Uint8Array | undefined;
    net.filter = (p) => {
      if (p.from !== 'b:1') return p.data;
      const swap = previousReply ?? p.data;
      previousReply = p.data;
      return swap;
    };
    assert.equal(dec(await a.request('b:1', enc('one'), 1000)), 'echo one');
    await assert.rejects(a.request('b:1', enc('two'), 1000), (e: unknown) => e instanceof WeftError && e.code === 'WEFT-G101');
  });
});

describe('SecureTransport in a cluster', () => {
  function securedCluster(ids: string[], keyrings: Map<string, Keyring>) {
    const clock = new ManualClock();
    const transports = new Map<string, SecureTransport>();
    const cluster = new TestCluster(ids, {
      seed: 4,
      wrap: (t, id) => {
        const s = new SecureTransport(t, { keyring: keyrings.get(id)!, clock });
        transports.set(id, s);
        return s;
      },
    });
    const maps = new Map<string, Replicated<LwwMap>>();
    const attach = (id: string) =>
      maps.set(id, replicate(cluster.node(id).mux, 'kv', new LwwMap({ clock: new HybridLogicalClock(id, clock), time: clock }), LwwMap.decode));
    for (const id of ids) attach(id);
    return { clock, cluster, transports, maps, attach };
  }

  test('rotation (install everywhere → use everywhere → remove everywhere) never splits the cluster', async () => {
    const ids = ['a', 'b', 'c'];
    const keyrings = new Map(ids.map((id) => [id, new Keyring([OLD])]));
    const { clock, cluster, transports, maps } = securedCluster(ids, keyrings);
    let step = 0;
    const check = async (label: string) => {
      step++;
      clock.advance(10);
      const writer = maps.get(ids[step % ids.length]!)!;
      writer.publish(writer.state.set('step', enc(label)));
      cluster.settle();
      await cluster.pushPull(ids[(step + 1) % 3]!, ids[(step + 2) % 3]!);
      for (const [id, m] of maps) assert.equal(dec(m.state.get('step')), label, `${label} at ${id}`);
      for (const [id, t] of transports) assert.equal(t.stats.droppedAuth, 0, `${label}: ${id} dropped packets`);
    };
    await check('before');
    for (const id of ids) {
      keyrings.get(id)!.install(NEW);
      await check(`installed on ${id}`);
    }
    for (const id of ids) {
      keyrings.get(id)!.use(NEW);
      await check(`primary on ${id}`);
    }
    for (const id of ids) {
      keyrings.get(id)!.remove(OLD);
      await check(`old removed on ${id}`);
    }
    for (const ring of keyrings.values()) assert.equal(ring.fingerprints().length, 1);
  });

  test('switching primary before every member has the new key is what breaks: the rule matters', () => {
    const keyrings = new Map([['a', new Keyring([OLD])], ['b', new Keyring([OLD])]]);
    const { cluster, transports, maps } = securedCluster(['a', 'b'], keyrings);
    keyrings.get('a')!.install(NEW);
    keyrings.get('a')!.use(NEW); // b never installed it
    maps.get('a')!.publish(maps.get('a')!.state.set('k', enc('v')));
    cluster.settle();
    assert.equal(maps.get('b')!.state.get('k'), undefined);
    assert.ok(transports.get('b')!.stats.droppedAuth > 0);
  });

  test('a member without the secret can neither join nor inject', async () => {
    const keyrings = new Map([
      ['a', new Keyring([OLD])],
      ['b', new Keyring([OLD])],
      ['mallory', new Keyring(['a guess at the secret, 32 bytes'])],
    ]);
    const { cluster, transports, maps, attach } = securedCluster(['a', 'b'], keyrings);
    maps.get('a')!.publish(maps.get('a')!.state.set('k', enc('genuine')));
    cluster.settle();
    cluster.add('mallory');
    attach('mallory');
    const mallory = maps.get('mallory')!;
    await assert.rejects(cluster.pushPull('mallory', 'a', true), WeftError); // join refused
    assert.equal(mallory.state.get('k'), undefined, 'learnt nothing');
    mallory.publish(mallory.state.set('k', enc('forged')));
    for (let i = 0; i < 10; i++) cluster.round();
    assert.equal(dec(maps.get('a')!.state.get('k')), 'genuine');
    assert.equal(dec(maps.get('b')!.state.get('k')), 'genuine');
    const dropped = transports.get('a')!.stats.droppedAuth + transports.get('b')!.stats.droppedAuth;
    assert.ok(dropped > 0, 'its packets were dropped and counted');
  });
});
