// Membership behaviour on the simulator's virtual clock and network, plus the
// Lifeguard building blocks on their own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Membership } from '../../src/gossip/membership.js';
import { BroadcastQueue } from '../../src/gossip/swim-broadcasts.js';
import { Suspicion, suspicionMinTimeout } from '../../src/gossip/swim-suspicion.js';
import { Awareness } from '../../src/gossip/swim-awareness.js';
import { MessageType, encodeMessage, encodePacket } from '../../src/gossip/messages.js';
import { retransmitLimit, pushPullScale } from '../../src/gossip/membership-config.js';
import type { MembershipConfig } from '../../src/gossip/membership-config.js';
import type { GossipDelegate, MembershipEvent } from '../../src/gossip/types.js';
import { WeftError } from '../../src/errors.js';
import { Scheduler, ProcessClock } from '../../src/sim/virtual-clock.js';
import { SimNetwork, DEFAULT_NETWORK } from '../../src/sim/network.js';
import { Sfc32 } from '../../src/sim/prng.js';

/** A handful of members on one virtual network, with every event recorded. */
class Harness {
  readonly sched = new Scheduler();
  readonly net = new SimNetwork(this.sched, Sfc32.fork(7, 'net'), DEFAULT_NETWORK);
  readonly members: Membership[] = [];
  readonly clocks: ProcessClock[] = [];
  readonly events: { at: number; observer: string; e: MembershipEvent }[] = [];
  private generation = 0;

  add(i: number, opts: Partial<MembershipConfig> = {}, delegate?: GossipDelegate): Membership {
    const clock = new ProcessClock(this.sched);
    const m = new Membership(
      { transport: this.net.attach(addr(i)), clock, random: Sfc32.fork(7, `m${i}-${this.generation++}`), delegate },
      { name: `n${i}`, ...opts },
    );
    m.onEvent((e) => this.events.push({ at: this.sched.now, observer: m.id, e }));
    this.members[i] = m;
    this.clocks[i] = clock;
    return m;
  }

  kill(i: number): void {
    this.clocks[i].kill();
    this.members[i].stop();
    this.net.kill(addr(i));
  }

  run(ms: number, stop?: () => boolean): Promise<void> {
    return this.sched.run(this.sched.now + ms, stop);
  }

  /** Starts n members, each joining through member 0, and runs until all see all. */
  async cluster(n: number, opts: Partial<MembershipConfig> = {}): Promise<void> {
    this.add(0, opts).start();
    for (let i = 1; i < n; i++) void this.add(i, opts).join([addr(0)]);
    await this.run(30_000, () => this.allSeeAll());
    assert.ok(this.allSeeAll(), 'cluster converged');
  }

  allSeeAll(): boolean {
    const live = this.members.filter((m) => m && !(m as unknown as { stopped: boolean }).stopped);
    return live.every((m) => m.size === live.length);
  }

  eventsAbout(id: string, type: MembershipEvent['type']) {
    return this.events.filter((x) => x.e.member.id === id && x.e.type === type);
  }
}

function addr(i: number): string {
  return `10.0.0.${i + 1}:7946`;
}

test('broadcast queue: fewest transmissions first, newest first, limit respected, one copy per packet', () => {
  const q = new BroadcastQueue(100);
  q.push(0, new Uint8Array(10).fill(1));
  q.push(1, new Uint8Array(10).fill(2));
  const out: Uint8Array[] = [];
  q.take(1000, 3, out, 255);
  assert.deepEqual(out.map((m) => m[0]), [2, 1], 'newest first, each once');
  q.push(0, new Uint8Array(10).fill(3));
  out.length = 0;
  q.take(1000, 3, out, 255);
  assert.deepEqual(out.map((m) => m[0]), [3, 2], 'the replaced update about a is gone; the fresh one leads');
  out.length = 0;
  q.take(12, 3, out, 255);
  assert.equal(out.length, 1, 'space bounds the take');
  let sent = 0;
  for (let i = 0; i < 10; i++) {
    out.length = 0;
    q.take(1000, 3, out, 255);
    sent += out.length;
  }
  assert.equal(q.size, 0, 'everything dropped after the limit');
  assert.ok(sent <= 4);
  assert.equal(retransmitLimit(4, 1000), 16);
  assert.equal(retransmitLimit(4, 9), 4);
  assert.equal(pushPullScale(30_000, 32), 30_000);
  assert.equal(pushPullScale(30_000, 100), 90_000);
});

test('suspicion timeout starts at max and shrinks logarithmically to min with confirmations', async () => {
  const min = suspicionMinTimeout(4, 100, 1000);
  assert.equal(min, 8000);
  const max = 6 * min;
  assert.equal(Suspicion.timeout(0, 2, min, max), max);
  assert.ok(Suspicion.timeout(1, 2, min, max) < max && Suspicion.timeout(1, 2, min, max) > min);
  assert.equal(Suspicion.timeout(2, 2, min, max), min);
  const sched = new Scheduler();
  const clock = new ProcessClock(sched);
  let firedAt = -1;
  const s = new Suspicion(clock, 'a', 2, min, max, () => (firedAt = sched.now));
  await sched.run(1000);
  assert.equal(s.confirm('a'), false, 'the first accuser is not a confirmation');
  assert.equal(s.confirm('b'), true);
  assert.equal(s.confirm('b'), false, 'duplicates do not count');
  assert.equal(s.confirm('c'), true);
  assert.equal(s.confirm('d'), false, 'no more than k');
  await sched.run(100_000);
  assert.equal(firedAt, min, 'fires at min once k independent confirmations arrived');
});

test('local health multiplier saturates and scales timeouts', () => {
  const a = new Awareness(8);
  a.apply(-1);
  assert.equal(a.health, 0);
  for (let i = 0; i < 20; i++) a.apply(1);
  assert.equal(a.health, 7);
  assert.equal(a.scale(500), 4000);
  a.apply(-3);
  assert.equal(a.scale(500), 2500);
});

test('join through one member, metadata updates, graceful leave and reaping', async () => {
  const h = new Harness();
  await h.cluster(6, { leftReapMs: 10_000 });
  const [m0, m1, m2] = h.members;
  assert.equal(h.eventsAbout(m2.id, 'join').length, 5, 'every other member saw the join');

  m1.updateMeta(new Uint8Array([42]));
  await h.run(5000);
  for (const m of h.members) {
    if (m !== m1) assert.deepEqual([...m.member(m1.id)!.meta], [42]);
  }
  assert.ok(h.eventsAbout(m1.id, 'update').length >= 5);

  const left = m2.leave();
  await h.run(6000);
  await left;
  await m2.shutdown();
  assert.equal(h.eventsAbout(m2.id, 'fail').length, 0, 'a leave is not a failure');
  assert.ok(h.eventsAbout(m2.id, 'leave').length >= 5);
  assert.equal(m0.member(m2.id)?.state, 'left');
  await h.run(15_000);
  assert.equal(m0.member(m2.id), undefined, 'left member reaped (memberlist#253)');
  assert.ok(h.eventsAbout(m2.id, 'reap').length >= 5);
});

test('a killed member is suspected, then declared dead by all', async () => {
  const h = new Harness();
  await h.cluster(8);
  const victim = h.members[3];
  const killedAt = h.sched.now;
  h.kill(3);
  await h.run(60_000, () => h.eventsAbout(victim.id, 'fail').length === 7);
  assert.equal(h.eventsAbout(victim.id, 'fail').length, 7);
  assert.ok(h.eventsAbout(victim.id, 'suspect').length >= 1);
  const last = Math.max(...h.eventsAbout(victim.id, 'fail').map((x) => x.at));
  assert.ok(last - killedAt < 30_000, `detected in ${last - killedAt} ms`);
});

test('a restarted member (same name and address, new id) replaces its old self at once (memberlist#311)', async () => {
  const h = new Harness();
  await h.cluster(6);
  const old = h.members[4];
  h.kill(4);
  const restarted = h.add(4);
  assert.notEqual(restarted.id, old.id);
  assert.equal(restarted.localMember.name, old.localMember.name);
  const at = h.sched.now;
  const joined = restarted.join([addr(0)]);
  await h.run(20_000, () => h.eventsAbout(old.id, 'fail').length === 5 && h.allSeeAll());
  assert.equal(h.eventsAbout(old.id, 'fail').length, 5, 'old self declared dead everywhere');
  const last = Math.max(...h.eventsAbout(old.id, 'fail').map((x) => x.at));
  assert.ok(last - at < 3000, `replaced in ${last - at} ms, well before a suspicion timeout`);
  assert.ok(h.allSeeAll());
  assert.equal(await joined, 1);
  for (const m of h.members) if (m !== restarted) assert.equal(m.member(restarted.id)?.state, 'alive');
});

test('a member refutes a suspicion about itself with a higher incarnation', async () => {
  const h = new Harness();
  await h.cluster(4);
  const target = h.members[2];
  const before = target.localMember.incarnation;
  // Another member's voice: a suspect message injected straight into the target's socket.
  const liar = h.net.attach('10.9.9.9:7946');
  liar.sendPacket(addr(2), encodePacket('00000000000000aa', [encodeMessage({ type: MessageType.Suspect, id: target.id, incarnation: before, from: '00000000000000aa' })]));
  await h.run(3000);
  assert.ok(target.localMember.incarnation > before, 'incarnation bumped');
  assert.ok(target.stats.refutes >= 1);
  for (const m of h.members) assert.equal(m.member(target.id)?.state, 'alive');
  assert.equal(h.eventsAbout(target.id, 'fail').length, 0);
});

test('Lifeguard: a member that cannot hear acks raises its health multiplier and recovers', async () => {
  const h = new Harness();
  await h.cluster(6);
  const slow = h.members[1];
  for (let i = 0; i < 6; i++) if (i !== 1) h.net.setLinkLoss(addr(i), addr(1), 1);
  await h.run(8000);
  assert.ok(slow.health > 0, `health ${slow.health}`);
  for (let i = 0; i < 6; i++) if (i !== 1) h.net.setLinkLoss(addr(i), addr(1), 0);
  await h.run(60_000, () => slow.health === 0);
  assert.equal(slow.health, 0);
});

test('hostile datagrams and requests are counted and dropped', async () => {
  const h = new Harness();
  await h.cluster(3);
  const m = h.members[1];
  const attacker = h.net.attach('10.6.6.6:7946');
  const rng = Sfc32.fork(1, 'junk');
  for (let i = 0; i < 500; i++) {
    const b = new Uint8Array(rng.int(100));
    for (let j = 0; j < b.length; j++) b[j] = rng.int(256);
    attacker.sendPacket(addr(1), b);
  }
  const replies = Promise.allSettled([attacker.request(addr(1), new Uint8Array([1, 2, 3]), 1000), attacker.request(addr(1), new Uint8Array(50), 1000)]);
  await h.run(2000);
  assert.ok((await replies).every((r) => r.status === 'rejected'));
  assert.ok(m.stats.malformed >= 400, `malformed ${m.stats.malformed}`);
  assert.ok(h.allSeeAll());
});

test('join rejects with WEFT-G001 when no address answers; delegates get state and broadcasts', async () => {
  const h = new Harness();
  const lonely = h.add(9, { requestTimeoutMs: 500 });
  const failed = lonely.join(['10.99.0.1:7946', '10.99.0.2:7946']).then(
    () => undefined,
    (e: unknown) => e,
  );
  await h.run(1000);
  const err = await failed;
  assert.ok(err instanceof WeftError && err.code === 'WEFT-G001', String(err));
  lonely.stop();

  const got: string[] = [];
  const merged: string[] = [];
  const pending: Uint8Array[] = [new TextEncoder().encode('hello')];
  const delegate = (name: string): GossipDelegate => ({
    takeBroadcasts: (overhead, limit) => (name === 'a' && pending.length && pending[0].length + overhead <= limit ? [pending.shift()!] : []),
    onMessage: (_from, data) => got.push(`${name}:${new TextDecoder().decode(data)}`),
    localState: (join) => new TextEncoder().encode(`${name}-state-${join}`),
    mergeRemoteState: (data, join) => merged.push(`${name}<-${new TextDecoder().decode(data)}/${join}`),
  });
  const a = h.add(0, {}, delegate('a'));
  const b = h.add(1, {}, delegate('b'));
  a.start();
  await Promise.all([b.join([addr(0)]), h.run(100)]);
  assert.ok(merged.includes('a<-b-state-true/true'), merged.join());
  assert.ok(merged.includes('b<-a-state-true/true'), merged.join());
  await h.run(2000);
  assert.deepEqual(got, ['b:hello'], 'piggybacked user broadcast delivered once');
  assert.equal(a.sendUserMessage(b.id, new TextEncoder().encode('direct')), true);
  await h.run(100);
  const reliable = a.sendUserMessageReliable(b.id, new TextEncoder().encode('reliable'));
  await h.run(100);
  await reliable;
  assert.deepEqual(got, ['b:hello', 'b:direct', 'b:reliable']);
});
