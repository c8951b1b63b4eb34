import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedValues, ForgottenMembers } from '../../src/gossip/shared-values.js';
import { LwwMap } from '../../src/gossip/crdt/lww-map.js';
import type { Member, MembershipEvent } from '../../src/gossip/types.js';
import { ManualClock, TestCluster } from './_memory-transport.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));
const member = (id: string): Member => ({ id, name: id, address: `${id}:7946`, incarnation: 1, state: 'alive', meta: new Uint8Array() });
const event = (type: MembershipEvent['type'], id: string): MembershipEvent => ({ type, member: member(id) }) as MembershipEvent;

function setup(ids: string[]) {
  const clock = new ManualClock();
  const cluster = new TestCluster(ids, { seed: 11 });
  const shared = new Map(cluster.nodes.map((n) => [n.id, new SharedValues({ mux: n.mux, clock })]));
  return { clock, cluster, shared };
}

const asObject = (m: Map<string, Uint8Array>): Record<string, string> =>
  Object.fromEntries([...m].map(([k, v]) => [k, dec(v)!]).sort());

describe('SharedValues', () => {
  test('values(key) returns the latest value from each member', () => {
    const { clock, cluster, shared } = setup(['a', 'b', 'c']);
    for (const [id, s] of shared) s.share('load', enc(`${id}-1`));
    cluster.settle();
    clock.advance(5);
    shared.get('b')!.share('load', enc('b-2'));
    cluster.settle();
    for (const s of shared.values()) assert.deepEqual(asObject(s.values('load')), { a: 'a-1', b: 'b-2', c: 'c-1' });
    shared.get('c')!.unshare('load');
    cluster.settle();
    for (const s of shared.values()) assert.deepEqual(Object.keys(asObject(s.values('load'))), ['a', 'b']);
    assert.deepEqual(shared.get('a')!.values('nothing'), new Map());
  });

  test('a member cannot write another member\'s value', () => {
    const { clock, shared } = setup(['a', 'b']);
    const forged = new LwwMap();
    forged.put('b\u0000load', { value: enc('forged'), ts: { wall: clock.now() + 1000, counter: 0, node: 'mallory' } });
    const a = shared.get('a')!;
    assert.equal(a.onGossip(forged.encode()), null);
    assert.equal(a.refused, 1);
    assert.equal(a.value('load', 'b'), undefined);
    assert.equal(a.onGossip(new Uint8Array([1, 5])), null);
    assert.equal(a.malformed, 1);
  });

  test('a dead member\'s values are dropped, refused while it stays dead, and accepted when it is back', async () => {
    const { cluster, shared } = setup(['a', 'b', 'c']);
    shared.get('c')!.share('load', enc('c'));
    cluster.settle();
    const a = shared.get('a')!;
    const changes: string[] = [];
    a.onChange((key, m, v) => changes.push(`${key}/${m}=${dec(v ?? undefined) ?? '-'}`));
    cluster.node('a').mux.handleMembershipEvent(event('fail', 'c'));
    assert.equal(a.value('load', 'c'), undefined);
    assert.deepEqual(changes, ['load/c=-']);
    await cluster.pushPull('a', 'b'); // b has not heard of the death yet and still holds c's value
    assert.equal(a.value('load', 'c'), undefined);
    assert.ok(a.refused >= 1);
    cluster.node('a').mux.handleMembershipEvent(event('alive', 'c'));
    await cluster.pushPull('a', 'c');
    assert.equal(dec(a.value('load', 'c')), 'c');
  });
});

describe('ForgottenMembers', () => {
  test('bounded in time and count', () => {
    const clock = new ManualClock();
    const f = new ForgottenMembers(clock, 1000, 3);
    for (const id of ['a', 'b', 'c', 'd']) f.add(id);
    assert.deepEqual(['a', 'b', 'c', 'd'].map((id) => f.has(id)), [false, true, true, true]);
    clock.advance(1001);
    assert.equal(f.has('d'), false);
  });
});
