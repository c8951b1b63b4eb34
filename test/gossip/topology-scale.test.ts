// Measures what one connection change costs in topology gossip at N = 100 and
// 1000 (docs/gossip-state.md quotes these figures): only the changed member's
// entry travels, re-broadcast by each member that finds it new, so the cost
// grows as N log N, against N² for re-gossiping the whole topology (mesh#108).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Topology, TopologyData } from '../../src/gossip/topology.js';
import { ManualClock, TestCluster } from './_memory-transport.js';

const DEGREE_OFFSETS = [1, 2]; // ring ±1, ±2: four connections each, a sparse mesh

interface Measurement {
  n: number;
  bytes: number;
  rounds: number;
  entryMessages: number;
  fullTopologyBytes: number;
  naiveBytes: number;
}

function measure(n: number): Measurement {
  const clock = new ManualClock();
  const ids = Array.from({ length: n }, (_, i) => `member-${String(i).padStart(4, '0')}`);
  const cluster = new TestCluster(ids, { seed: 42, fanout: 3 });
  const topos = cluster.nodes.map((node) => new Topology({ mux: node.mux, clock }));
  for (let i = 0; i < n; i++) {
    topos[i]!.setConnections(DEGREE_OFFSETS.flatMap((d) => [ids[(i + d) % n]!, ids[(i - d + n) % n]!]));
  }
  // Start from a converged cluster (as after the initial syncs): hand every member the full state.
  const donor = cluster.nodes[0]!.mux;
  for (const node of cluster.nodes) node.mux.queue.clear();
  for (let i = 1; i < n; i++) donor.mergeRemoteState(cluster.nodes[i]!.mux.localState(false), false);
  // Decoding the full state once per member would dominate the run: share one decoded copy (entries are immutable).
  const full = TopologyData.decode(topos[0]!.gossip().encode())!;
  for (const t of topos.slice(1)) (t.gossip() as TopologyData).merge(full);
  for (const t of topos) assert.equal(t.members().length, n);

  // One new connection: both ends change their entry.
  const a = 0;
  const b = n / 2;
  cluster.network.bytesSent = 0;
  const before = cluster.nodes.reduce((s, x) => s + x.mux.stats.broadcastsQueued, 0);
  topos[a]!.addConnection(ids[b]!);
  topos[b]!.addConnection(ids[a]!);
  const rounds = cluster.settle(500);
  const entryMessages = cluster.nodes.reduce((s, x) => s + x.mux.stats.broadcastsQueued, 0) - before;
  for (const t of topos) {
    assert.equal(t.entry(ids[a]!)?.version, 2);
    assert.equal(t.entry(ids[b]!)?.version, 2);
  }
  assert.equal(topos[1]!.route(ids[b]!), ids[a]!, 'the new link is used');
  const fullTopologyBytes = topos[0]!.encodedSize();
  // mesh#108: each member that learns of a change re-gossips its whole topology to each of its connections.
  const degree = DEGREE_OFFSETS.length * 2;
  return {
    n,
    bytes: cluster.network.bytesSent,
    rounds,
    entryMessages,
    fullTopologyBytes,
    naiveBytes: 2 * n * degree * fullTopologyBytes,
  };
}

test('topology gossip for one change grows as N log N, not N²', (t) => {
  const small = measure(100);
  const large = measure(1000);
  for (const m of [small, large]) {
    t.diagnostic(
      `N=${m.n}: one link change (2 entries) → ${m.bytes} B on the wire in ${m.rounds} rounds ` +
        `(${(m.bytes / m.n).toFixed(0)} B per member, ${m.entryMessages} entry re-broadcasts queued); ` +
        `full topology ${m.fullTopologyBytes} B; whole-topology re-gossip would be ≈ ${m.naiveBytes} B`,
    );
  }
  const growth = large.bytes / small.bytes;
  const nLogN = (1000 * Math.log(1000)) / (100 * Math.log(100));
  t.diagnostic(`growth ×${growth.toFixed(1)} for N ×10 (N log N: ×${nLogN.toFixed(1)}, N²: ×100)`);
  assert.ok(growth < 2 * nLogN, `growth ${growth}`);
  assert.ok(large.bytes * 20 < large.naiveBytes, 'far below re-gossiping the whole topology');
  // Every member re-queues a new entry at most once per entry: that is what keeps it N log N.
  assert.ok(large.entryMessages <= 2 * large.n);
});
