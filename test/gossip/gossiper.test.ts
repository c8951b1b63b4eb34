import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BroadcastQueue } from '../../src/gossip/broadcast-queue.js';
import { GossipMux, type GossipData, type Gossiper } from '../../src/gossip/gossiper.js';
import { LwwMap } from '../../src/gossip/crdt/lww-map.js';
import { HybridLogicalClock } from '../../src/gossip/crdt/hlc.js';
import { replicate, type Replicated } from '../../src/gossip/crdt/crdt-gossiper.js';
import { ManualClock, TestCluster } from './_memory-transport.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));
const msg = (s: string): Uint8Array => enc(s);

describe('BroadcastQueue', () => {
  test('retransmit limit is mult × ceil(log10(N + 1))', () => {
    let n = 1;
    const q = new BroadcastQueue({ memberCount: () => n, retransmitMult: 4 });
    const cases: [number, number][] = [[1, 4], [9, 4], [10, 8], [99, 8], [100, 12], [1000, 16]];
    for (const [members, limit] of cases) {
      n = members;
      assert.equal(q.retransmitLimit(), limit, `N=${members}`);
    }
  });

  test('each message is sent exactly the retransmit limit times, then leaves', () => {
    const q = new BroadcastQueue({ memberCount: () => 10, retransmitMult: 2 }); // limit 4
    q.enqueue(msg('a'));
    let sent = 0;
    for (let i = 0; i < 10; i++) sent += q.take(0, 100).length;
    assert.equal(sent, 4);
    assert.equal(q.size, 0);
  });

  test('least-sent first, newest first among equals', () => {
    const q = new BroadcastQueue({ memberCount: () => 100 });
    q.enqueue(msg('old'));
    q.take(0, 3); // "old" sent once
    q.enqueue(msg('mid'));
    q.enqueue(msg('new'));
    assert.deepEqual(q.take(0, 1000).map((b) => dec(b)), ['new', 'mid', 'old']);
    // sent counts now: old 2, mid 1, new 1
    assert.deepEqual(q.take(0, 3).map((b) => dec(b)), ['new']);
    assert.deepEqual(q.take(0, 6).map((b) => dec(b)), ['mid', 'new']); // mid (1), then the newest of those sent twice
    assert.deepEqual(q.take(0, 100).map((b) => dec(b)), ['mid', 'old', 'new']); // mid 2, old 2, new 3
  });

  test('a message with the same key supersedes the queued one', () => {
    const q = new BroadcastQueue({ memberCount: () => 5 });
    q.enqueue(msg('v1'), 'k');
    q.enqueue(msg('other'));
    q.enqueue(msg('v2'), 'k');
    assert.equal(q.size, 2);
    assert.deepEqual(q.take(0, 1000).map((b) => dec(b)).sort(), ['other', 'v2']);
    assert.ok(q.invalidate('k'));
    assert.equal(q.size, 1);
  });

  test('packs under the byte limit counting per-message overhead, skipping to smaller ones', () => {
    const q = new BroadcastQueue({ memberCount: () => 5 });
    q.enqueue(new Uint8Array(10));
    q.enqueue(new Uint8Array(50)); // newest, but does not fit with the overhead
    q.enqueue(new Uint8Array(20));
    const got = q.take(3, 40);
    assert.deepEqual(got.map((b) => b.length), [20, 10]); // 23 + 13 = 36 ≤ 40
    assert.deepEqual(q.take(3, 53).map((b) => b.length), [50]);
  });

  test('beyond maxQueued the most-sent, oldest messages are dropped', () => {
    const q = new BroadcastQueue({ memberCount: () => 1000, maxQueued: 3 });
    q.enqueue(msg('a'));
    q.enqueue(msg('b'));
    q.take(0, 1); // "b" sent once
    q.enqueue(msg('c'));
    q.enqueue(msg('d')); // over the cap: "b" (most sent) goes
    assert.deepEqual(q.take(0, 100).map((b) => dec(b)).sort(), ['a', 'c', 'd']);
  });
});

function lwwCluster(ids: string[], clock: ManualClock, seed = 7) {
  const cluster = new TestCluster(ids, { seed });
  const maps = new Map<string, Replicated<LwwMap>>();
  for (const node of cluster.nodes) {
    const state = new LwwMap({ clock: new HybridLogicalClock(node.id, clock), time: clock });
    maps.set(node.id, replicate(node.mux, 'kv', state, LwwMap.decode));
  }
  return { cluster, maps };
}

describe('GossipMux over a cluster', () => {
  test('a write spreads to all 30 members epidemically and the gossip dies out', () => {
    const clock = new ManualClock();
    const ids = Array.from({ length: 30 }, (_, i) => `m${i}`);
    const { cluster, maps } = lwwCluster(ids, clock);
    const origin = maps.get('m0')!;
    origin.publish(origin.state.set('greeting', enc('hello')));
    const rounds = cluster.settle();
    assert.ok(rounds < 60, `settled in ${rounds} rounds`);
    for (const [id, r] of maps) assert.equal(dec(r.state.get('greeting')), 'hello', id);
  });

  test('a member re-broadcasts only what was new to it', () => {
    const clock = new ManualClock();
    const { cluster, maps } = lwwCluster(['a', 'b'], clock);
    const a = maps.get('a')!;
    a.publish(a.state.set('k', enc('v')));
    const [message] = cluster.node('a').mux.takeBroadcasts(0, 1400);
    const b = cluster.node('b').mux;
    b.onMessage('a', message!);
    assert.equal(b.queue.size, 1, 'new to b: queued for spreading');
    b.queue.clear();
    b.onMessage('a', message!);
    assert.equal(b.queue.size, 0, 'a duplicate is not re-broadcast');
  });

  test('concurrent writes on both sides of a partition converge after it heals', async () => {
    const clock = new ManualClock();
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const { cluster, maps } = lwwCluster(ids, clock);
    const left = new Set(['a', 'b', 'c']);
    cluster.network.filter = (p) => (left.has(p.from.split(':')[0]!) === left.has(p.to.split(':')[0]!) ? p.data : null);
    maps.get('a')!.publish(maps.get('a')!.state.set('k', enc('left')));
    clock.advance(10);
    maps.get('e')!.publish(maps.get('e')!.state.set('k', enc('right')));
    maps.get('d')!.publish(maps.get('d')!.state.set('only-right', enc('1')));
    cluster.settle();
    assert.equal(dec(maps.get('b')!.state.get('k')), 'left');
    assert.equal(dec(maps.get('f')!.state.get('k')), 'right');
    cluster.network.filter = undefined;
    // Periodic anti-entropy after the heal: each member push-pulls with its ring neighbour, twice round.
    for (let pass = 0; pass < 2; pass++) for (let i = 0; i < ids.length; i++) await cluster.pushPull(ids[i]!, ids[(i + 1) % ids.length]!);
    cluster.settle();
    for (const [id, r] of maps) {
      assert.equal(dec(r.state.get('k')), 'right', id);
      assert.equal(dec(r.state.get('only-right')), '1', id);
    }
  });

  test('full sync on join brings a newcomer the whole state, and its own state to the others', async () => {
    const clock = new ManualClock();
    const { cluster, maps } = lwwCluster(['a', 'b', 'c'], clock);
    for (let i = 0; i < 50; i++) maps.get('a')!.publish(maps.get('a')!.state.set(`key${i}`, enc(`v${i}`)));
    cluster.settle();
    const late = cluster.add('late');
    const lateMap = replicate(late.mux, 'kv', new LwwMap({ clock: new HybridLogicalClock('late', clock), time: clock }), LwwMap.decode);
    lateMap.state.set('from-late', enc('x')); // written before joining, never broadcast
    await cluster.pushPull('late', 'b', true);
    assert.equal(lateMap.state.size, 51);
    cluster.settle(); // b spreads what it learnt from the newcomer
    for (const [id, r] of maps) assert.equal(dec(r.state.get('from-late')), 'x', id);
  });

  test('an update too big to piggyback is split into per-key broadcasts', async () => {
    const clock = new ManualClock();
    const { cluster, maps } = lwwCluster(['a', 'b', 'c'], clock);
    const big = new LwwMap({ clock: new HybridLogicalClock('x', clock), time: clock });
    for (let i = 0; i < 40; i++) big.set(`k${i}`, new Uint8Array(100));
    cluster.node('a').mux.channel('kv')!.gossip(big);
    assert.equal(cluster.node('a').mux.queue.size, 40);
    cluster.settle();
    assert.equal(maps.get('c')!.state.size, 40);
  });

  test('broadcast carries the origin member', () => {
    const origins = new Set<string>();
    const recorder = (self: string): Gossiper => ({
      onGossip: () => null,
      onGossipBroadcast: (origin) => {
        origins.add(`${self}<-${origin}`);
        return null;
      },
      onGossipUnicast: () => {},
      gossip: () => null,
    });
    const cluster = new TestCluster(['a', 'b', 'c'], { seed: 3 });
    cluster.node('a').mux.register('events', recorder('a'));
    cluster.node('b').mux.register('events', recorder('b'));
    const c = cluster.node('c').mux.register('events', recorder('c'));
    const data: GossipData = { encode: () => enc('e1'), merge: () => null };
    c.broadcast(data);
    cluster.settle();
    assert.deepEqual([...origins].sort(), ['a<-c', 'b<-c']);
  });

  test('unicast follows the route hook over several hops and drops when unroutable', () => {
    const ids = ['a', 'b', 'c', 'd'];
    const cluster = new TestCluster(ids);
    // a line a - b - c - d: next hop is the neighbour towards the target
    for (const node of cluster.nodes) {
      const i = ids.indexOf(node.id);
      node.mux.setRoute((to) => {
        const j = ids.indexOf(to);
        if (j < 0) return null;
        return ids[j > i ? i + 1 : i - 1]!;
      });
    }
    const received: string[] = [];
    for (const node of cluster.nodes) {
      node.mux.register('rpc', {
        onGossip: () => null,
        onGossipBroadcast: () => null,
        onGossipUnicast: (source, message) => received.push(`${node.id}<-${source}:${dec(message)}`),
        gossip: () => null,
      });
    }
    assert.ok(cluster.node('a').mux.channel('rpc')!.unicast('d', enc('ping')));
    cluster.network.deliver();
    assert.deepEqual(received, ['d<-a:ping']);
    assert.equal(cluster.node('b').mux.stats.unicastsForwarded + cluster.node('c').mux.stats.unicastsForwarded, 2);
    assert.equal(cluster.node('a').mux.channel('rpc')!.unicast('nobody', enc('x')), false);
    assert.equal(cluster.node('a').mux.route('nobody'), null);
  });

  test('a routing loop ends at the hop limit', () => {
    const cluster = new TestCluster(['a', 'b'], { mux: { maxHops: 5 } });
    cluster.node('a').mux.setRoute(() => 'b');
    cluster.node('b').mux.setRoute(() => 'a');
    for (const n of cluster.nodes) n.mux.register('rpc', { onGossip: () => null, onGossipBroadcast: () => null, onGossipUnicast: () => {}, gossip: () => null });
    cluster.node('a').mux.channel('rpc')!.unicast('z', enc('x'));
    cluster.network.deliver();
    const forwarded = cluster.nodes.reduce((s, n) => s + n.mux.stats.unicastsForwarded, 0);
    assert.equal(forwarded, 4); // 5 sends in all: the first, then forwards with 4, 3, 2, 1 hops left; dropped at 1
  });

  test('malformed messages, unknown channels and throwing gossipers are counted, not fatal', () => {
    const mux = new GossipMux({ host: { localId: 'a', memberCount: () => 2, sendTo: () => {} } });
    mux.register('boom', {
      onGossip: () => {
        throw new Error('user bug');
      },
      onGossipBroadcast: () => null,
      onGossipUnicast: () => {},
      gossip: () => {
        throw new Error('user bug');
      },
    });
    mux.onMessage('b', new Uint8Array([]));
    mux.onMessage('b', new Uint8Array([9, 0]));
    mux.onMessage('b', new Uint8Array([1, 200, 1]));
    mux.onMessage('b', new Uint8Array([1, 3, 0x6e, 0x6f, 0x70, 0xff])); // channel "nop"
    mux.onMessage('b', new Uint8Array([1, 4, 0x62, 0x6f, 0x6f, 0x6d, 0]));
    assert.equal(mux.stats.malformedDropped, 3);
    assert.equal(mux.stats.unknownChannelDropped, 1);
    assert.equal(mux.stats.gossiperErrors, 1);
    const state = mux.localState(false); // the throwing channel is left out
    assert.deepEqual([...state], [1, 0]);
    mux.mergeRemoteState(new Uint8Array([1, 5, 1]), false);
    mux.mergeRemoteState(new Uint8Array([7]), false);
    assert.equal(mux.stats.malformedDropped, 5);
  });
});
