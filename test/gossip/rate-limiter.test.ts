import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterRateLimiter } from '../../src/gossip/rate-limiter.js';
import { SharedValues } from '../../src/gossip/shared-values.js';
import type { MembershipEvent } from '../../src/gossip/types.js';
import { ManualClock, TestCluster } from './_memory-transport.js';

function setup(ids: string[], limit: number) {
  const clock = new ManualClock(1_700_000_000_000); // a whole number of slots: the window starts on a slot edge
  const cluster = new TestCluster(ids, { seed: 5 });
  const limiters = new Map(
    cluster.nodes.map((n) => [
      n.id,
      new ClusterRateLimiter({ shared: new SharedValues({ mux: n.mux, clock }), clock, limit, windowMs: 1000, slots: 10 }),
    ]),
  );
  /** Let time pass in gossip-sized steps: share timers fire, then gossip settles. */
  const run = (ms: number, step = 100) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(step);
      cluster.settle();
    }
  };
  return { clock, cluster, limiters, run };
}

const admitted = (l: ClusterRateLimiter, key: string, n: number): number => {
  let ok = 0;
  for (let i = 0; i < n; i++) if (l.allow(key)) ok++;
  return ok;
};

describe('ClusterRateLimiter', () => {
  test('the limit holds for the cluster as a whole once counts have been shared', () => {
    const { limiters, run } = setup(['a', 'b', 'c'], 30);
    for (const l of limiters.values()) assert.equal(admitted(l, 'api', 10), 10);
    run(100);
    for (const [id, l] of limiters) {
      assert.equal(l.count('api'), 30, id);
      assert.equal(l.allow('api'), false, id);
    }
    assert.equal(limiters.get('a')!.allow('other-key'), true, 'keys are independent');
  });

  test('the window slides: old counts fade out slot by slot', () => {
    const { limiters, run } = setup(['a', 'b'], 20);
    const a = limiters.get('a')!;
    const b = limiters.get('b')!;
    assert.equal(admitted(a, 'k', 20), 20);
    run(100);
    assert.equal(b.allow('k'), false);
    run(900); // the counted slot now straddles the window start, weighted by its overlap
    run(50, 50);
    assert.equal(Math.round(b.count('k')), 10); // half of that slot is still inside
    assert.equal(admitted(b, 'k', 20), 10);
    run(200);
    assert.equal(a.count('k'), 10, 'only b\'s fresh counts remain');
  });

  test('a failed member\'s counts stop counting', () => {
    const { cluster, limiters, run } = setup(['a', 'b', 'c'], 9);
    assert.equal(admitted(limiters.get('c')!, 'k', 9), 9);
    run(100);
    assert.equal(limiters.get('a')!.allow('k'), false);
    const fail = { type: 'fail', member: { id: 'c', name: 'c', address: 'c:7946', incarnation: 1, state: 'dead', meta: new Uint8Array() } } as MembershipEvent;
    cluster.node('a').mux.handleMembershipEvent(fail);
    assert.equal(limiters.get('a')!.allow('k'), true);
  });

  test('idle keys are withdrawn from the shared state', () => {
    const { cluster, limiters, run } = setup(['a', 'b'], 5);
    limiters.get('a')!.allow('burst');
    run(100);
    const sharedKeys = () => cluster.nodes.map((n) => (n.mux.channel('shared')!.gossiper as SharedValues).keys().length);
    assert.deepEqual(sharedKeys(), [1, 1]);
    run(2500);
    assert.deepEqual(sharedKeys(), [0, 0]);
  });

  test('close() stops the share timer', () => {
    const { clock, cluster, limiters } = setup(['a'], 5);
    const a = limiters.get('a')!;
    a.allow('k');
    a.close();
    clock.advance(10_000);
    const shared = cluster.node('a').mux.channel('shared')!.gossiper as SharedValues;
    assert.deepEqual(shared.keys(), [], 'the counts were never shared');
    a.flush(); // an explicit flush still works
    assert.deepEqual(shared.keys(), []); // nothing left inside the window: withdrawn, not shared
  });
});
