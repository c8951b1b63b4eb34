import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, TopologyData } from '../../src/gossip/topology.js';
import type { MembershipEvent } from '../../src/gossip/types.js';
import { ManualClock, TestCluster } from './_memory-transport.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

function setup(edges: [string, string][], options: { symmetric?: boolean } = {}) {
  const ids = [...new Set(edges.flat())].sort();
  const clock = new ManualClock();
  const cluster = new TestCluster(ids, { seed: 2 });
  const topo = new Map(cluster.nodes.map((n) => [n.id, new Topology({ mux: n.mux, clock, ...options })]));
  for (const id of ids) topo.get(id)!.setConnections(edges.filter((e) => e.includes(id)).map(([x, y]) => (x === id ? y : x)));
  cluster.settle();
  return { clock, cluster, topo };
}

describe('Topology routing', () => {
  test('next hops follow shortest paths over a line and a ring with a chord', () => {
    const { topo } = setup([['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e'], ['e', 'f'], ['f', 'a'], ['b', 'e']]);
    const a = topo.get('a')!;
    assert.equal(a.route('b'), 'b');
    assert.equal(a.route('c'), 'b');
    assert.equal(a.route('e'), 'b'); // a-b-e and a-f-e tie at 2 hops: BFS expands neighbours in sorted order
    assert.equal(a.route('d'), 'b'); // a-b-c-d and a-f-e-d tie at 3
    assert.equal(topo.get('c')!.route('f'), 'b'); // c-b-a-f, c-b-e-f, c-d-e-f all 3 hops
    // Following next hops from every member reaches every other in the BFS distance, never looping.
    for (const [from] of topo) {
      for (const [to] of topo) {
        let at = from;
        let hops = 0;
        while (at !== to && hops < 6) {
          at = topo.get(at)!.route(to)!;
          hops++;
        }
        assert.equal(at, to, `${from}→${to}`);
        assert.ok(hops <= 3, `${from}→${to} in ${hops}`);
      }
    }
    assert.equal(a.route('a'), 'a');
    assert.equal(a.route('nobody'), null);
    for (const [id, t] of topo) assert.equal(t.members().length, 6, id);
  });

  test('unicast is relayed over several hops through the mux route hook', () => {
    const { cluster } = setup([['a', 'b'], ['b', 'c'], ['c', 'd']]);
    const got: string[] = [];
    for (const n of cluster.nodes) {
      n.mux.register('rpc', {
        onGossip: () => null,
        onGossipBroadcast: () => null,
        onGossipUnicast: (src, m) => got.push(`${n.id}<-${src}:${dec(m)}`),
        gossip: () => null,
      });
    }
    // a may only talk to b: drop any packet that skips a link
    const links = new Set(['a-b', 'b-c', 'c-d'].flatMap((l) => [l, l.split('-').reverse().join('-')]));
    cluster.network.filter = (p) => (links.has(`${p.from[0]}-${p.to[0]}`) ? p.data : null);
    assert.ok(cluster.node('a').mux.channel('rpc')!.unicast('d', enc('hi')));
    cluster.network.deliver();
    assert.deepEqual(got, ['d<-a:hi']);
  });

  test('a one-sided connection is not routed over unless symmetric checking is off', () => {
    const { topo, cluster } = setup([['a', 'b'], ['b', 'c']]);
    topo.get('c')!.addConnection('d'); // d never reports c
    cluster.settle();
    assert.equal(topo.get('a')!.route('d'), null);
    const loose = setup([['a', 'b'], ['b', 'c']], { symmetric: false });
    loose.topo.get('c')!.addConnection('d');
    loose.cluster.settle();
    assert.equal(loose.topo.get('a')!.route('d'), 'b');
  });

  test('routes are recomputed lazily, only after a change', () => {
    const { topo, cluster } = setup([['a', 'b'], ['b', 'c']]);
    const a = topo.get('a')!;
    const first = a.routes();
    assert.equal(a.routes(), first);
    let changes = 0;
    a.onChange(() => changes++);
    topo.get('c')!.addConnection('a');
    topo.get('a')!.addConnection('c');
    cluster.settle();
    assert.ok(changes >= 2);
    assert.notEqual(a.routes(), first);
    assert.equal(a.route('c'), 'c');
  });

  test('a failed member is routed around and its entry is not brought back by stale gossip', async () => {
    const { topo, cluster } = setup([['a', 'b'], ['b', 'd'], ['a', 'c'], ['c', 'e'], ['e', 'd']]);
    const a = topo.get('a')!;
    assert.equal(a.route('d'), 'b');
    const fail = { type: 'fail', member: { id: 'b', name: 'b', address: 'b:7946', incarnation: 1, state: 'dead', meta: new Uint8Array() } } as MembershipEvent;
    cluster.node('a').mux.handleMembershipEvent(fail);
    assert.equal(a.route('d'), 'c');
    await cluster.pushPull('a', 'c'); // c still has b's entry
    assert.equal(a.entry('b'), undefined);
    assert.equal(a.route('d'), 'c');
  });
});

describe('Topology merging', () => {
  test('per-member versions: an older entry never replaces a newer one; nobody speaks for us', () => {
    const clock = new ManualClock();
    const cluster = new TestCluster(['a']);
    const a = new Topology({ mux: cluster.node('a').mux, clock });
    const v2 = new TopologyData();
    v2.entries.set('x', { version: 2, peers: ['y'] });
    v2.entries.set('a', { version: 99, peers: ['evil'] });
    assert.ok(a.onGossip(v2.encode()));
    const v1 = new TopologyData();
    v1.entries.set('x', { version: 1, peers: ['z'] });
    assert.equal(a.onGossip(v1.encode()), null);
    assert.deepEqual(a.connections('x'), ['y']);
    assert.deepEqual(a.connections(), []);
  });

  test('entries learnt by full sync are not re-broadcast; own changes are', () => {
    const clock = new ManualClock();
    const cluster = new TestCluster(['a', 'b']);
    const a = new Topology({ mux: cluster.node('a').mux, clock });
    const full = new TopologyData();
    for (let i = 0; i < 20; i++) full.entries.set(`m${i}`, { version: 1, peers: [`m${i + 1}`] });
    const state = new Uint8Array([1, 1, 8, ...enc('topology'), ...encodeLength(full.encode())]);
    cluster.node('a').mux.mergeRemoteState(state, true);
    assert.equal(a.members().length, 21);
    assert.equal(cluster.node('a').mux.queue.size, 0);
    a.setConnections(['b']);
    assert.equal(cluster.node('a').mux.queue.size, 1);
    a.setConnections(['b']); // unchanged: nothing to send
    assert.equal(cluster.node('a').mux.queue.size, 1);
  });

  test('decode rejects truncated and malformed input', () => {
    const d = new TopologyData();
    d.entries.set('m1', { version: 3, peers: ['m2', 'm3'] });
    const bytes = d.encode();
    assert.deepEqual(TopologyData.decode(bytes)!.entries.get('m1'), { version: 3, peers: ['m2', 'm3'] });
    for (let n = 0; n < bytes.length; n++) assert.equal(TopologyData.decode(bytes.subarray(0, n)), null);
    assert.equal(TopologyData.decode(new Uint8Array([1, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f])), null);
  });
});

function encodeLength(b: Uint8Array): number[] {
  const out: number[] = [];
  let n = b.length;
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return [...out, ...b];
}
