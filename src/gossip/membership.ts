// SWIM membership and failure detection with Lifeguard's refinements, over any
// Transport, Clock and Random (the real UDP/TCP stack or the simulator). See
// docs/gossip-membership.md for the protocol; names follow memberlist where
// the idea is the same.

import {
  MessageType,
  MESSAGE_FRAME_OVERHEAD,
  MAX_MESSAGES_PER_PACKET,
  MAX_META_BYTES,
  PACKET_HEADER_BYTES,
  decodeMessage,
  decodeRequestHeader,
  encodeMessage,
  encodePacket,
  encodePushPullEntriesRequest,
  encodePushPullEntry,
  entryState,
  readPushPullEntry,
  splitPushPull,
  ENTRY_INCARNATION_OFFSET,
  type SplitPushPull,
  encodeRequest,
  isValidId,
  idHighWord,
  idHighWordAt,
  idLowWord,
  idLowWordAt,
  readU32At,
  splitPacketFrames,
  packetSenderId,
  SUBJECT_ID_OFFSET,
  SUBJECT_INCARNATION_OFFSET,
  type AliveMessage,
  type DigestMessage,
  memberSetHash,
  type DeadMessage,
  type MembershipMessage,
  type SuspectMessage,
} from './messages.js';
import { resolveConfig, pushPullScale, retransmitLimit, type MembershipConfig, type MembershipOptions } from './membership-config.js';
import { Awareness } from './swim-awareness.js';
import { BroadcastQueue } from './swim-broadcasts.js';
import { Suspicion, suspicionMinTimeout } from './swim-suspicion.js';
import { MemberRegistry, type MemberRecord } from './membership-registry.js';
import type { Address, Clock, GossipDelegate, Member, MemberState, MembershipEvent, Random, TimerHandle, Transport } from './types.js';
import { WeftError } from '../errors.js';

export interface MembershipDeps {
  transport: Transport;
  clock: Clock;
  random: Random;
  delegate?: GossipDelegate;
  /**
   * Shared by every Membership of a process (the simulator passes one to all
   * of its members, so alive records are shared between views); default: one
   * of its own.
   */
  registry?: MemberRegistry;
}

export type MembershipListener = (event: MembershipEvent) => void;

/** Counters for tests, the simulator and the admin API. */
export interface MembershipStats {
  packetsSent: number;
  bytesSent: number;
  packetsReceived: number;
  bytesReceived: number;
  /** Datagrams or messages dropped because they did not decode. */
  malformed: number;
  probes: number;
  indirectProbes: number;
  refutes: number;
  pushPulls: number;
  /** Push-pulls started because digests from other members disagreed with this view. */
  digestSyncs: number;
}

interface AckWaiter {
  onAck(): void;
  onNack(): void;
}

const EMPTY = new Uint8Array(0);
/** A ping-req helper nacks after this fraction of the probe timeout (Lifeguard's 80%). */
const NACK_TIMEOUT_FRACTION = 0.8;
/** Broadcast keys are registry indexes (members held by this view); others get keys from here up. */
const FOREIGN_KEY_BASE = 0x40000000;

function isUp(s: MemberState): boolean {
  return s === 'alive' || s === 'suspect';
}

export class Membership {
  readonly config: MembershipConfig;
  readonly id: string;
  readonly stats: MembershipStats = {
    packetsSent: 0,
    bytesSent: 0,
    packetsReceived: 0,
    bytesReceived: 0,
    malformed: 0,
    probes: 0,
    indirectProbes: 0,
    refutes: 0,
    pushPulls: 0,
    digestSyncs: 0,
  };

  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly delegate: GossipDelegate | undefined;
  private readonly awareness: Awareness;
  private readonly queue: BroadcastQueue;
  private readonly listeners: MembershipListener[] = [];

  private readonly registry: MemberRegistry;
  /** This view's records by registry index (undefined: not known here). */
  private readonly slots: (MemberRecord | undefined)[] = [];
  private readonly self: MemberRecord;
  /** Registry indexes of members other than self, in probe order (shuffled at each wrap). */
  private ring: number[] = [];
  private probeIndex = 0;
  /** Members in state dead or left, for the reaper and the dead-retry. */
  private readonly down = new Set<MemberRecord>();
  /** Ids reaped recently, with their last incarnation: stale gossip must not resurrect them. */
  private readonly tombstones = new Map<string, { incarnation: number; until: number }>();
  /** alive + suspect, self included. */
  private upCount = 1;
  /** Members added to this view so far (a catch-up sync repeats while they keep coming). */
  private membersAdded = 0;
  /** The up set's digest hash (XOR of memberSetHash), its version and when it last changed. */
  private upHash: number;
  private upVersion = 0;
  private upChangedAt: number;
  /** A digest unlike this view: when first seen and at which upVersion (-1: none pending). */
  private digestMismatchAt = -1;
  private digestMismatchVersion = -1;
  private lastDigestSyncAt = Number.NEGATIVE_INFINITY;

  /** Broadcast keys of ids without a registry index here (see foreignKey). */
  private readonly foreignKeys = new Map<string, number>();
  private nextForeignKey = 0;

  private readonly acks = new Map<number, AckWaiter>();
  private seq = 0;
  private readonly timers = new Set<TimerHandle>();
  private readonly joinAddresses = new Set<Address>();
  private started = false;
  private stopped = false;
  private leaving = false;

  constructor(deps: MembershipDeps, options: MembershipOptions) {
    this.config = resolveConfig(options);
    this.transport = deps.transport;
    this.clock = deps.clock;
    this.random = deps.random;
    this.delegate = deps.delegate;
    this.awareness = new Awareness(this.config.awarenessMaxMultiplier);
    this.queue = new BroadcastQueue(this.config.maxQueuedBroadcasts);
    this.registry = deps.registry ?? new MemberRegistry();
    this.id = this.config.id ?? this.randomId();
    if (!isValidId(this.id)) throw new RangeError('membership id must be 16 lowercase hex characters');
    const high = idHighWord(this.id);
    const low = idLowWord(this.id);
    this.self = {
      index: -1,
      id: this.id,
      high,
      low,
      name: this.config.name,
      address: this.transport.localAddress,
      incarnation: 0,
      state: 'alive',
      meta: this.config.meta ?? EMPTY,
      changedAt: this.clock.now(),
      suspicion: undefined,
      shared: false,
    };
    // Encodes once here so a bad name, address or metadata fails at construction.
    encodeMessage(this.aliveOf(this.self));
    this.self = { ...this.self, index: this.registry.acquire(this.id, high, low) };
    this.upHash = memberSetHash(high, low);
    this.upChangedAt = this.clock.now();
    this.setSlot(this.self.index, this.self);
    this.transport.onPacket((from, data) => this.handlePacket(from, data));
    this.transport.onRequest((from, data) => this.handleRequest(from, data));
  }

  // ------------------------------------------------------------------ public API

  /** Starts probing, gossip and anti-entropy (idempotent; join() calls it). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.queue.push(this.self.index, encodeMessage(this.aliveOf(this.self)));
    const c = this.config;
    // Random phases so members started together do not tick in lockstep.
    this.every(() => this.awareness.scale(c.probeIntervalMs), () => this.probeTick(), this.random.float() * c.probeIntervalMs);
    this.every(() => c.gossipIntervalMs, () => this.gossipTick(), this.random.float() * c.gossipIntervalMs);
    // Periodic push-pull starts once the post-join syncs are over, with a random
    // phase over the period scaled to the cluster size known by then: started
    // at once with an unscaled phase, every member of a new large cluster ran
    // its first one within pushPullIntervalMs — N exchanges where the scaled
    // period expects N / (scale), a burst of full-state traffic after a join storm.
    let syncsEnd = 0;
    for (let i = 0, d = c.postJoinSyncMs; i < c.postJoinSyncs; i++, d *= 2) syncsEnd += d;
    this.after(syncsEnd, () => {
      const period = () => pushPullScale(c.pushPullIntervalMs, this.upCount);
      this.every(period, () => this.pushPullTick(), this.random.float() * period());
    });
    this.every(() => c.deadRetryIntervalMs, () => this.deadRetryTick(), this.random.float() * c.deadRetryIntervalMs);
    this.every(() => c.probeIntervalMs, () => this.reapTick(), c.probeIntervalMs);
  }

  /**
   * Joins a cluster through any of `addresses` (a full-state push-pull with
   * each); resolves with how many answered, rejects if none did.
   */
  async join(addresses: readonly Address[]): Promise<number> {
    this.start();
    let ok = 0;
    const errors: string[] = [];
    await Promise.all(
      addresses.map(async (a) => {
        if (a === this.self.address) return;
        this.joinAddresses.add(a);
        try {
          await this.pushPull(a, true);
          ok++;
        } catch (e) {
          errors.push(`${a}: ${(e as Error).message}`);
        }
      }),
    );
    if (ok === 0 && addresses.some((a) => a !== this.self.address)) {
      throw new WeftError('WEFT-G001', errors.join('; '), { addresses: [...addresses] });
    }
    this.schedulePostJoinSyncs();
    return ok;
  }

  private schedulePostJoinSyncs(): void {
    let delay = this.config.postJoinSyncMs;
    let at = 0;
    const n = this.config.postJoinSyncs;
    for (let i = 0; i < n; i++) {
      at += delay;
      delay *= 2;
      const next = delay;
      this.after(at, () => (i === n - 1 ? this.catchUpSync(next) : this.pushPullTick()));
    }
  }

  /**
   * The last post-join sync, repeated after twice the delay for as long as
   * each one brings members this view did not know: the cluster is still
   * growing (a mass join), and one full-state exchange carries what piggybacked
   * gossip would take minutes to deliver when every member's queue holds an
   * update about nearly every other (10,000 joining: 200,000 sends each). It
   * stops at the first sync with no new member, or when the periodic
   * push-pull is due as often. In a settled cluster it runs once, as before.
   */
  private catchUpSync(nextDelayMs: number): void {
    if (this.leaving) return;
    const [peer] = this.randomMembers(1, (r) => r.state === 'alive');
    if (!peer) return;
    const before = this.membersAdded;
    this.pushPull(peer.address, false).then(
      () => {
        const period = pushPullScale(this.config.pushPullIntervalMs, this.upCount);
        if (this.membersAdded > before && nextDelayMs < period && !this.stopped) this.after(nextDelayMs, () => this.catchUpSync(nextDelayMs * 2));
      },
      () => {},
    );
  }

  /** Broadcasts that this member leaves and waits (up to leaveTimeoutMs) for the news to spread. */
  async leave(timeoutMs = this.config.leaveTimeoutMs): Promise<void> {
    if (this.leaving || this.stopped) return;
    this.leaving = true;
    this.deadNode({ type: MessageType.Dead, id: this.id, incarnation: this.self.incarnation, from: this.id });
    if (this.upCount <= 1) return;
    const deadline = this.clock.now() + timeoutMs;
    await new Promise<void>((resolve) => {
      const check = () => {
        if (this.stopped || !this.queue.has(this.self.index) || this.clock.now() >= deadline) resolve();
        else this.clock.setTimeout(check, Math.min(this.config.gossipIntervalMs, Math.max(1, deadline - this.clock.now())));
      };
      check();
    });
  }

  /** Stops every timer; the transport stays open (see shutdown). */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers.clear();
    for (const r of this.slots) r?.suspicion?.cancel();
    this.acks.clear();
    this.queue.clear();
  }

  /** stop() and close the transport. */
  async shutdown(): Promise<void> {
    this.stop();
    await this.transport.close();
  }

  /** Registers a listener for membership events; returns a function that removes it. */
  onEvent(listener: MembershipListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  get localMember(): Member {
    return this.viewOf(this.self);
  }

  /** Members alive or suspect, self included. */
  members(): Member[] {
    const out: Member[] = [];
    for (const r of this.slots) if (r && isUp(r.state)) out.push(this.viewOf(r));
    return out;
  }

  /** Every known member, including dead and left ones not yet reaped. */
  allMembers(): Member[] {
    const out: Member[] = [];
    for (const r of this.slots) if (r) out.push(this.viewOf(r));
    return out;
  }

  member(id: string): Member | undefined {
    const r = this.get(id);
    return r ? this.viewOf(r) : undefined;
  }

  /** Members alive or suspect, self included (memberlist's NumMembers). */
  get size(): number {
    return this.upCount;
  }

  /** Lifeguard's local health score: 0 is healthy, up to awarenessMaxMultiplier - 1. */
  get health(): number {
    return this.awareness.health;
  }

  /** Changes this member's metadata and broadcasts it (a new incarnation). */
  updateMeta(meta: Uint8Array): void {
    if (meta.length > MAX_META_BYTES) throw new RangeError(`member metadata over ${MAX_META_BYTES} bytes`);
    const s = this.self;
    s.meta = meta.slice();
    s.incarnation++;
    this.queue.push(s.index, encodeMessage(this.aliveOf(s)));
  }

  /** Sends a user message to one member as a best-effort datagram; false if the member is unknown or it does not fit. */
  sendUserMessage(id: string, data: Uint8Array): boolean {
    const r = this.get(id);
    if (!r || r === this.self || this.stopped) return false;
    const msg = encodeMessage({ type: MessageType.User, data });
    if (PACKET_HEADER_BYTES + MESSAGE_FRAME_OVERHEAD + msg.length > this.config.maxPacketBytes) return false;
    this.send(r.address, [msg]);
    return true;
  }

  /** Sends a user message over the reliable channel; resolves when the member has handled it. */
  async sendUserMessageReliable(id: string, data: Uint8Array): Promise<void> {
    const r = this.get(id);
    if (!r || r === this.self) throw new RangeError(`unknown member ${id}`);
    const reply = await this.transport.request(r.address, encodeRequest(this.id, encodeMessage({ type: MessageType.User, data })), this.config.requestTimeoutMs);
    const h = decodeRequestHeader(reply);
    if (!h.ok || h.value.body[0] !== MessageType.Ack) throw new Error('user message was not acknowledged');
  }

  // ------------------------------------------------------------------ timers

  private every(interval: () => number, fn: () => void, firstDelay: number): void {
    const arm = (delay: number) => {
      const h = this.clock.setTimeout(() => {
        this.timers.delete(h);
        if (this.stopped) return;
        fn();
        if (!this.stopped) arm(interval());
      }, delay);
      this.timers.add(h);
    };
    arm(firstDelay);
  }

  private after(ms: number, fn: () => void): TimerHandle {
    const h = this.clock.setTimeout(() => {
      this.timers.delete(h);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(h);
    return h;
  }

  private cancel(h: TimerHandle | undefined): void {
    if (h === undefined) return;
    this.clock.clearTimeout(h);
    this.timers.delete(h);
  }

  // ------------------------------------------------------------------ probing

  private probeTick(): void {
    if (this.leaving) return;
    if (this.config.probeOrder === 'aligned') {
      const target = this.alignedTarget();
      if (target) this.probe(target);
      return;
    }
    const n = this.ring.length;
    for (let checked = 0; checked <= n; checked++) {
      if (this.probeIndex >= this.ring.length) {
        this.shuffleRing();
        this.probeIndex = 0;
        if (this.ring.length === 0) return;
      }
      const r = this.slots[this.ring[this.probeIndex++]!];
      if (r && isUp(r.state)) {
        this.probe(r);
        return;
      }
    }
  }

  /**
   * The 'aligned' schedule: time is cut into slots of one probe interval on
   * the shared clock, and in slot s every member probes the member
   * 1 + (s mod (g − 1)) places after itself in id order (g ids known, the ones
   * not up skipped). With agreeing views each member is probed exactly once
   * per slot (by a different member each time), so a failed member is first
   * probed within one interval instead of after an exponentially distributed
   * wait (random round-robin: the mean is one interval but one time in twenty
   * it is three), and every member still probes every other once per g − 1
   * slots. Views that disagree for a moment only shift a few pairs.
   */
  private alignedTarget(): MemberRecord | undefined {
    if (this.upCount < 2) return undefined;
    // The registry's id-ordered list holds every id this process knows (in the
    // simulator, every member's): ids not up here are skipped, so the next one
    // takes their turn.
    const list = this.registry.inIdOrder;
    const g = list.length;
    const slot = Math.floor(this.clock.now() / this.config.probeIntervalMs);
    const me = this.registry.sortedPosition(this.self.high, this.self.low);
    const start = me + 1 + (slot % (g - 1));
    for (let k = 0; k < g; k++) {
      const r = this.slots[list[(start + k) % g]!];
      if (r !== undefined && r !== this.self && isUp(r.state)) return r;
    }
    return undefined;
  }

  private shuffleRing(): void {
    if (this.ring.some((i) => this.slots[i] === undefined)) this.ring = this.ring.filter((i) => this.slots[i] !== undefined);
    const a = this.ring;
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.random.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  private probe(target: MemberRecord): void {
    this.stats.probes++;
    const c = this.config;
    const seq = this.nextSeq();
    const interval = this.awareness.scale(c.probeIntervalMs);
    const timeout = this.awareness.scale(c.probeTimeoutMs);
    const incarnation = target.incarnation;
    let acked = false;
    let direct = true;
    /** Answers (relayed acks or nacks) from the members asked to probe indirectly. */
    let helperAnswers = 0;
    let helpers = 0;
    let indirectTimer: TimerHandle | undefined;
    const finish = () => {
      this.acks.delete(seq);
      this.cancel(indirectTimer);
      this.cancel(deadline);
    };
    this.acks.set(seq, {
      onAck: () => {
        if (direct) {
          // A direct ack in time proves our own health as well as the target's.
          acked = true;
          finish();
          this.awareness.apply(-1);
          return;
        }
        acked = true;
        helperAnswers++;
      },
      onNack: () => {
        helperAnswers++;
      },
    });

    const msgs = [encodeMessage({ type: MessageType.Ping, seq, targetId: target.id })];
    // Buddy system: a suspected member hears about its suspicion with the probe itself.
    if (target.state === 'suspect') msgs.push(encodeMessage({ type: MessageType.Suspect, id: target.id, incarnation: target.incarnation, from: this.id }));
    this.send(target.address, this.withDigest(msgs));

    indirectTimer = this.after(timeout, () => {
      indirectTimer = undefined;
      direct = false;
      this.stats.indirectProbes++;
      const peers = this.randomMembers(c.indirectChecks, (r) => r !== target && r.state === 'alive');
      helpers = peers.length;
      const req = encodeMessage({ type: MessageType.PingReq, seq, targetId: target.id, targetAddress: target.address, wantNack: true });
      for (const h of peers) this.send(h.address, [req]);
      if (c.reliablePingFallback) {
        const body = encodeRequest(this.id, encodeMessage({ type: MessageType.Ping, seq, targetId: target.id }));
        this.transport.request(target.address, body, Math.max(1, interval - timeout)).then(
          (reply) => {
            const h = decodeRequestHeader(reply);
            if (h.ok && h.value.body[0] === MessageType.Ack && this.acks.has(seq)) acked = true;
          },
          () => {},
        );
      }
    });

    const deadline = this.after(interval, () => {
      finish();
      // Lifeguard: helpers that were asked but did not answer point at *our* trouble;
      // without helpers, a failed probe is the only evidence.
      if (helpers > 0) this.awareness.apply(helpers - Math.min(helperAnswers, helpers));
      else if (!acked) this.awareness.apply(1);
      if (acked) return;
      const r = this.slots[target.index];
      if (r && r.id === target.id && r.incarnation === incarnation && isUp(r.state)) {
        this.suspectNode({ type: MessageType.Suspect, id: r.id, incarnation: r.incarnation, from: this.id });
      }
    });
  }

  /** Up to k distinct members (self excluded) passing `filter`, chosen at random. */
  private randomMembers(k: number, filter: (r: MemberRecord) => boolean): MemberRecord[] {
    const out: MemberRecord[] = [];
    const n = this.ring.length;
    if (n === 0 || k <= 0) return out;
    for (let tries = 0; tries < 3 * n && out.length < k; tries++) {
      const r = this.slots[this.ring[this.random.int(n)]!];
      if (!r || !filter(r) || out.includes(r)) continue;
      out.push(r);
    }
    return out;
  }

  // ------------------------------------------------------------------ gossip

  private gossipTick(): void {
    const now = this.clock.now();
    const toDead = this.config.gossipToTheDeadMs;
    const targets = this.randomMembers(this.config.gossipNodes, (r) => isUp(r.state) || (r.state === 'dead' && now - r.changedAt < toDead));
    for (const t of targets) {
      const msgs: Uint8Array[] = [];
      this.piggyback(msgs, PACKET_HEADER_BYTES);
      if (msgs.length === 0) return;
      this.sendRaw(t.address, msgs);
    }
  }

  /** Appends queued membership updates, then the delegate's broadcasts, into the space left after `used` bytes. */
  private piggyback(msgs: Uint8Array[], used: number): void {
    const c = this.config;
    const limit = retransmitLimit(c.retransmitMult, this.upCount);
    used += this.queue.take(c.maxPacketBytes - used, limit, msgs, MAX_MESSAGES_PER_PACKET);
    if (!this.delegate || msgs.length >= MAX_MESSAGES_PER_PACKET) return;
    const overhead = MESSAGE_FRAME_OVERHEAD + 1;
    const space = c.maxPacketBytes - used;
    if (space <= overhead) return;
    for (const data of this.delegate.takeBroadcasts(overhead, space)) {
      if (msgs.length >= MAX_MESSAGES_PER_PACKET || used + overhead + data.length > c.maxPacketBytes) break;
      const m = new Uint8Array(1 + data.length);
      m[0] = MessageType.User;
      m.set(data, 1);
      msgs.push(m);
      used += overhead + data.length;
    }
  }

  /** Sends `first` messages plus whatever piggybacked updates fit. */
  private send(to: Address, first: Uint8Array[]): void {
    let used = PACKET_HEADER_BYTES;
    for (const m of first) used += MESSAGE_FRAME_OVERHEAD + m.length;
    const msgs = first.slice();
    this.piggyback(msgs, used);
    this.sendRaw(to, msgs);
  }

  private sendRaw(to: Address, msgs: Uint8Array[]): void {
    const p = encodePacket(this.id, msgs);
    this.stats.packetsSent++;
    this.stats.bytesSent += p.length;
    this.transport.sendPacket(to, p);
  }

  // ------------------------------------------------------------------ receiving

  private handlePacket(from: Address, data: Uint8Array): void {
    if (this.stopped) return;
    this.stats.packetsReceived++;
    this.stats.bytesReceived += data.length;
    const frames: number[] = [];
    if (splitPacketFrames(data, frames) !== undefined) {
      this.stats.malformed++;
      return;
    }
    for (let i = 0; i < frames.length && !this.stopped; i += 2) {
      const o = frames[i];
      const end = frames[i + 1];
      // Most gossip repeats news we already hold: skip it before decoding strings.
      if (data[o] === MessageType.Alive && end - o > SUBJECT_INCARNATION_OFFSET + 4) {
        const index = this.registry.lookupWords(idHighWordAt(data, o + SUBJECT_ID_OFFSET), idLowWordAt(data, o + SUBJECT_ID_OFFSET));
        const r = index < 0 ? undefined : this.slots[index];
        if (r !== undefined && r !== this.self && readU32At(data, o + SUBJECT_INCARNATION_OFFSET) <= r.incarnation) {
          continue;
        }
        // News another view of this process already decoded: take its record instead of decoding again.
        const shared = index < 0 ? undefined : this.registry.sharedByAlive(index, data, o, end);
        if (shared !== undefined) {
          this.aliveNode(this.aliveOf(shared), 'gossip', shared);
          continue;
        }
      }
      const m = decodeMessage(data, o, end);
      if (!m.ok) {
        this.stats.malformed++;
        continue;
      }
      this.handleMessage(from, data, m.value, true);
    }
  }

  /** `packet`: the datagram `m` came in (its sender id is read only for user messages). */
  private handleMessage(from: Address, packet: Uint8Array, m: MembershipMessage, viaGossip: boolean): void {
    switch (m.type) {
      case MessageType.Ping:
        // A restarted process at the same address does not answer for its old self.
        if (m.targetId === this.id) this.send(from, this.withDigest([encodeMessage({ type: MessageType.Ack, seq: m.seq })]));
        return;
      case MessageType.PingReq:
        this.relayProbe(from, m.seq, m.targetId, m.targetAddress, m.wantNack);
        return;
      case MessageType.Ack:
        this.acks.get(m.seq)?.onAck();
        return;
      case MessageType.Nack:
        this.acks.get(m.seq)?.onNack();
        return;
      case MessageType.Alive:
        this.aliveNode(m, 'gossip');
        return;
      case MessageType.Suspect:
        this.suspectNode(m);
        return;
      case MessageType.Dead:
        this.deadNode(m);
        return;
      case MessageType.User:
        this.delegate?.onMessage(packetSenderId(packet), m.data);
        return;
      case MessageType.Digest:
        this.onDigest(from, m);
        return;
    }
  }

  /** Adds this view's digest to a probe or an ack for viewDigestWindowMs after the member set changed, so the other side can check it holds the same set. */
  private withDigest(msgs: Uint8Array[]): Uint8Array[] {
    if (this.clock.now() - this.upChangedAt < this.config.viewDigestWindowMs) msgs.push(encodeMessage({ type: MessageType.Digest, count: this.upCount, hash: this.upHash }));
    return msgs;
  }

  /**
   * A digest from `from` (sent with probes and acks while its view is changing).
   * Views differ for a moment while news spreads, so one unlike digest proves
   * nothing; a second one at least a probe timeout later, with no change
   * here in between, means this view missed something (or the sender did):
   * one push-pull with the sender repairs both, at most every
   * viewDigestSyncIntervalMs.
   */
  private onDigest(from: Address, d: DigestMessage): void {
    if (d.count === this.upCount && d.hash === this.upHash) {
      this.digestMismatchAt = -1;
      return;
    }
    const now = this.clock.now();
    if (this.digestMismatchAt < 0 || this.digestMismatchVersion !== this.upVersion) {
      this.digestMismatchAt = now;
      this.digestMismatchVersion = this.upVersion;
      return;
    }
    const c = this.config;
    if (this.leaving || now - this.digestMismatchAt < c.probeTimeoutMs || now - this.lastDigestSyncAt < c.viewDigestSyncIntervalMs) return;
    this.digestMismatchAt = -1;
    this.lastDigestSyncAt = now;
    this.stats.digestSyncs++;
    this.pushPull(from, false).catch(() => {});
  }

  /** `r` joined (+1) or left (-1) the up set (alive or suspect): the count moves and r's share of the digest hash toggles. */
  private upSetChanged(r: MemberRecord, delta: 1 | -1): void {
    this.upCount += delta;
    this.upHash = (this.upHash ^ memberSetHash(r.high, r.low)) >>> 0;
    this.upVersion++;
    this.upChangedAt = this.clock.now();
  }

  /** Probes `targetId` for a peer whose direct probe failed; acks back on success, nacks on timeout. */
  private relayProbe(requester: Address, reqSeq: number, targetId: string, targetAddress: Address, wantNack: boolean): void {
    // Prefer the address we know for that member; a request cannot redirect our pings elsewhere for a known member.
    const known = this.get(targetId);
    const addr = known ? known.address : targetAddress;
    const seq = this.nextSeq();
    let timer: TimerHandle | undefined;
    this.acks.set(seq, {
      onAck: () => {
        this.acks.delete(seq);
        this.cancel(timer);
        this.send(requester, [encodeMessage({ type: MessageType.Ack, seq: reqSeq })]);
      },
      onNack: () => {},
    });
    // Lifeguard: nack after 80% of the probe timeout, so the nack reaches the
    // requester before its own deadline (ping-req sent at the timeout, verdict
    // at the interval = 2 × timeout by default). At 100% it arrived just late,
    // and every probe of a dead member then counted the helpers as missing
    // nacks: the prober's health score rose and it probed less when it mattered.
    timer = this.after(Math.floor(this.config.probeTimeoutMs * NACK_TIMEOUT_FRACTION), () => {
      this.acks.delete(seq);
      if (wantNack) this.send(requester, [encodeMessage({ type: MessageType.Nack, seq: reqSeq })]);
    });
    this.send(addr, [encodeMessage({ type: MessageType.Ping, seq, targetId })]);
  }

  // ------------------------------------------------------------------ state changes

  /**
   * `source` says where the news came from. A member new to us in a peer's
   * push-pull table is old news to the cluster (it was gossiped when it
   * joined), so it is not re-broadcast; the peer's own entry and contested
   * states (a dead member alive again) are. Tombstones stop only gossip: a
   * push-pull is direct contact with a live member or its view.
   */
  private aliveNode(a: AliveMessage, source: 'gossip' | 'peer' | 'peer-table', shared?: MemberRecord): void {
    if (this.stopped) return;
    if (a.id === this.id) {
      // Someone holds a newer incarnation of us than we do (we restarted the counter? a stale refute?): outbid it.
      if (a.incarnation > this.self.incarnation && !this.leaving) this.refute(a.incarnation);
      return;
    }
    // `shared`: the registry's record for exactly these facts (the message was not decoded).
    const r = shared !== undefined ? this.slots[shared.index] : this.get(a.id);
    if (!r) {
      const tomb = this.tombstones.get(a.id);
      if (tomb && source === 'gossip' && a.incarnation <= tomb.incarnation) return;
      if (a.address === this.self.address) {
        // Only one process can own our address: this is our own previous life (memberlist#311).
        this.queue.push(this.foreignKey(a.id), encodeMessage({ type: MessageType.Dead, id: a.id, incarnation: a.incarnation, from: this.id }));
        return;
      }
      this.tombstones.delete(a.id);
      let index: number;
      let fresh: MemberRecord;
      if (shared !== undefined) {
        index = shared.index;
        this.registry.retain(index);
        fresh = shared;
      } else {
        index = this.registry.acquire(a.id, idHighWord(a.id), idLowWord(a.id));
        fresh = this.registry.aliveRecord(index, a);
      }
      this.setSlot(index, fresh);
      this.addToRing(index);
      this.upSetChanged(fresh, 1);
      this.membersAdded++;
      if (source !== 'peer-table') this.queue.push(index, this.aliveBytes(fresh));
      this.emit('join', fresh);
      return;
    }
    if (a.incarnation <= r.incarnation) return;
    const was = r.state;
    const metaChanged = !sameBytes(r.meta, a.meta) || r.name !== a.name || r.address !== a.address;
    r.suspicion?.cancel();
    if (!isUp(was)) this.down.delete(r);
    // Alive again or newer: the shared record for these facts replaces ours (a suspect or dead one was our own copy).
    const next = this.registry.aliveRecord(r.index, a);
    this.slots[r.index] = next;
    if (!isUp(was)) this.upSetChanged(next, 1);
    this.queue.push(next.index, this.aliveBytes(next));
    if (!isUp(was)) this.emit('join', next);
    else if (was === 'suspect') this.emit('alive', next);
    else if (metaChanged) this.emit('update', next);
  }

  private suspectNode(s: SuspectMessage): void {
    if (this.stopped) return;
    const known = this.get(s.id);
    if (!known || s.incarnation < known.incarnation) return;
    if (known.state === 'suspect' && known.suspicion) {
      // Independent confirmations shorten the timeout; pass new ones on.
      if (known.suspicion.confirm(s.from)) this.queue.push(known.index, encodeMessage(s));
      return;
    }
    if (!isUp(known.state)) return;
    if (known === this.self) {
      if (!this.leaving) {
        this.refute(s.incarnation);
        this.awareness.apply(1);
      }
      return;
    }
    this.queue.push(known.index, encodeMessage(s));
    const r = this.own(known);
    r.incarnation = s.incarnation;
    r.state = 'suspect';
    r.changedAt = this.clock.now();
    const c = this.config;
    const n = this.upCount;
    let k = c.suspicionMult - 2;
    if (n - 2 < k) k = 0;
    const min = suspicionMinTimeout(c.suspicionMult, n, c.probeIntervalMs, c.suspicionMinTimeoutMs);
    const max = c.suspicionMaxTimeoutMult * min;
    const inc = r.incarnation;
    r.suspicion = new Suspicion(this.clock, s.from, k, min, max, () => {
      if (this.stopped || this.slots[r.index] !== r || r.state !== 'suspect' || r.incarnation !== inc) return;
      this.deadNode({ type: MessageType.Dead, id: r.id, incarnation: inc, from: this.id });
    });
    this.emit('suspect', r);
  }

  private deadNode(d: DeadMessage): void {
    if (this.stopped) return;
    const known = this.get(d.id);
    if (!known || d.incarnation < known.incarnation || !isUp(known.state)) return;
    if (known === this.self && !this.leaving) {
      this.refute(d.incarnation);
      this.awareness.apply(1);
      return;
    }
    this.queue.push(known.index, encodeMessage(d));
    const r = this.own(known);
    r.incarnation = d.incarnation;
    r.suspicion?.cancel();
    r.suspicion = undefined;
    r.state = d.from === d.id ? 'left' : 'dead';
    r.changedAt = this.clock.now();
    this.upSetChanged(r, -1);
    if (r !== this.self) this.down.add(r);
    this.emit(r.state === 'left' ? 'leave' : 'fail', r);
  }

  /** Outbids a suspicion or death rumour about ourselves with a higher incarnation. */
  private refute(incarnation: number): void {
    this.stats.refutes++;
    const s = this.self;
    s.incarnation = Math.max(s.incarnation, incarnation) + 1;
    this.queue.push(s.index, encodeMessage(this.aliveOf(s)));
  }

  private addToRing(index: number): void {
    // At a random position not yet probed this round, so newcomers are not probed in join order.
    this.ring.push(index);
    const from = Math.min(this.probeIndex, this.ring.length - 1);
    const j = from + this.random.int(this.ring.length - from);
    const t = this.ring[j]!;
    this.ring[j] = index;
    this.ring[this.ring.length - 1] = t;
  }

  private reapTick(): void {
    const now = this.clock.now();
    const c = this.config;
    let reaped = false;
    for (const r of this.down) {
      const age = now - r.changedAt;
      if (age < (r.state === 'left' ? c.leftReapMs : c.deadReapMs)) continue;
      this.down.delete(r);
      this.slots[r.index] = undefined;
      // Its index may go to another id: news about it queued here goes with it.
      this.queue.remove(r.index);
      this.registry.release(r.index);
      reaped = true;
      this.tombstones.set(r.id, { incarnation: r.incarnation, until: now + c.tombstoneMs });
      this.emit('reap', r);
    }
    if (reaped) {
      // Before any other id can take a released index here.
      const before = this.ring.slice(0, this.probeIndex).filter((i) => this.slots[i] !== undefined).length;
      this.ring = this.ring.filter((i) => this.slots[i] !== undefined);
      this.probeIndex = before;
    }
    for (const [id, t] of this.tombstones) if (t.until <= now) this.tombstones.delete(id);
  }

  // ------------------------------------------------------------------ push-pull

  private pushPullTick(): void {
    if (this.leaving) return;
    const [peer] = this.randomMembers(1, (r) => r.state === 'alive');
    if (peer) this.pushPull(peer.address, false).catch(() => {});
  }

  /** Tries one dead member's address or a join address, so the halves of a healed partition find each other again. */
  private deadRetryTick(): void {
    if (this.leaving) return;
    const candidates: Address[] = [];
    const upAddresses = new Set<Address>();
    for (const r of this.slots) if (r && isUp(r.state)) upAddresses.add(r.address);
    for (const r of this.down) if (r.state === 'dead' && !upAddresses.has(r.address)) candidates.push(r.address);
    for (const a of this.joinAddresses) if (!upAddresses.has(a)) candidates.push(a);
    if (candidates.length === 0) return;
    this.pushPull(candidates[this.random.int(candidates.length)], false).catch(() => {});
  }

  private encodeLocalState(join: boolean): Uint8Array {
    const userState = this.delegate ? this.delegate.localState(join) : EMPTY;
    // Shared records' entries are encoded once for every view (the simulator's join storms send N² of them).
    const entries: Uint8Array[] = [];
    for (const r of this.slots) if (r) entries.push(r.shared ? (r.encodedEntry ??= encodePushPullEntry(r)) : encodePushPullEntry(r));
    return encodePushPullEntriesRequest(this.id, join, entries, userState);
  }

  private async pushPull(address: Address, join: boolean): Promise<void> {
    this.stats.pushPulls++;
    const reply = await this.transport.request(address, this.encodeLocalState(join), this.config.requestTimeoutMs);
    if (this.stopped) return;
    if (reply.length > this.config.maxPushPullBytes) throw new Error('push-pull reply too large');
    const h = decodeRequestHeader(reply);
    if (!h.ok) throw new Error(h.error);
    const pp = splitPushPull(h.value.body);
    if (!pp.ok) throw new Error(pp.error);
    this.mergeState(h.value.senderId, h.value.body, pp.value);
  }

  /** Merges a peer's table (validated by splitPushPull); entries that tell us nothing new are skipped undecoded. */
  private mergeState(senderId: string, body: Uint8Array, pp: SplitPushPull): void {
    for (const o of pp.entries) {
      if (this.stopped) return;
      const state = entryState(body, o);
      const incarnation = readU32At(body, o + ENTRY_INCARNATION_OFFSET);
      const index = this.registry.lookupWords(idHighWordAt(body, o), idLowWordAt(body, o));
      let r = index < 0 ? undefined : this.slots[index];
      if (r === undefined && state !== 'alive') {
        // Suspicion or death of a member we do not know (or whose key collides) changes nothing here.
        r = this.get(readPushPullEntry(body, o).id);
        if (r === undefined) continue;
      }
      if (r !== undefined && r !== this.self && (incarnation < r.incarnation || (incarnation === r.incarnation && state === 'alive'))) continue;
      const id = r !== undefined ? r.id : undefined;
      switch (state) {
        case 'alive': {
          // An entry another view of this process already decoded: take its record instead of decoding again.
          const shared = index < 0 ? undefined : this.registry.sharedByEntry(index, body, o);
          if (shared !== undefined) {
            this.aliveNode(this.aliveOf(shared), shared.id === senderId ? 'peer' : 'peer-table', shared);
            break;
          }
          const e = readPushPullEntry(body, o);
          // The peer's own entry is first-hand news (a joiner announcing itself): spread it.
          this.aliveNode(
            { type: MessageType.Alive, id: e.id, incarnation, name: e.name, address: e.address, meta: e.meta },
            e.id === senderId ? 'peer' : 'peer-table',
          );
          break;
        }
        case 'left':
          this.deadNode({ type: MessageType.Dead, id: id!, incarnation, from: id! });
          break;
        default:
          // Another member's verdict is only a suspicion here: the suspect gets its chance to refute.
          this.suspectNode({ type: MessageType.Suspect, id: id!, incarnation, from: senderId });
      }
    }
    if (this.delegate && !this.stopped) this.delegate.mergeRemoteState(pp.userState, pp.join);
  }

  private handleRequest(from: Address, data: Uint8Array): Uint8Array {
    if (this.stopped) throw new Error('membership stopped');
    const h = decodeRequestHeader(data);
    if (!h.ok) throw new Error(h.error);
    const body = h.value.body;
    switch (body[0]) {
      case MessageType.PushPull: {
        if (data.length > this.config.maxPushPullBytes) throw new Error('push-pull too large');
        const pp = splitPushPull(body);
        if (!pp.ok) throw new Error(pp.error);
        // Merge first so the reply already carries any refutation of what the peer believed about us.
        this.mergeState(h.value.senderId, body, pp.value);
        return this.encodeLocalState(pp.value.join);
      }
      case MessageType.Ping: {
        const m = decodeMessage(body, 0, body.length);
        if (!m.ok || m.value.type !== MessageType.Ping) throw new Error('bad reliable ping');
        const type = m.value.targetId === this.id ? MessageType.Ack : MessageType.Nack;
        return encodeRequest(this.id, encodeMessage({ type, seq: m.value.seq }));
      }
      case MessageType.User: {
        const m = decodeMessage(body, 0, body.length);
        if (!m.ok || m.value.type !== MessageType.User) throw new Error('bad user message');
        this.delegate?.onMessage(h.value.senderId, m.value.data);
        return encodeRequest(this.id, encodeMessage({ type: MessageType.Ack, seq: 0 }));
      }
      default:
        this.stats.malformed++;
        throw new Error(`unexpected request type ${body[0]} from ${from}`);
    }
  }

  // ------------------------------------------------------------------ helpers

  /** The encoded alive message for a record; a shared record's is encoded once for every view. */
  private aliveBytes(r: MemberRecord): Uint8Array {
    if (!r.shared) return encodeMessage(this.aliveOf(r));
    return (r.encodedAlive ??= encodeMessage(this.aliveOf(r)));
  }

  private aliveOf(r: MemberRecord): AliveMessage {
    return { type: MessageType.Alive, id: r.id, incarnation: r.incarnation, name: r.name, address: r.address, meta: r.meta };
  }

  /** A frozen snapshot (not cached: a record may be shared by thousands of views in the simulator). */
  private viewOf(r: MemberRecord): Member {
    return Object.freeze({ id: r.id, name: r.name, address: r.address, incarnation: r.incarnation, state: r.state, meta: r.meta });
  }

  // ------------------------------------------------------------------ records

  private get(id: string): MemberRecord | undefined {
    const i = this.registry.lookup(id);
    return i < 0 ? undefined : this.slots[i];
  }

  private setSlot(index: number, r: MemberRecord): void {
    // Filled, never sparse: V8 keeps a dense array.
    while (this.slots.length <= index) this.slots.push(undefined);
    this.slots[index] = r;
  }

  /** The record itself if it is ours to change, else our own copy of it in its place. */
  private own(r: MemberRecord): MemberRecord {
    if (!r.shared) return r;
    const copy = MemberRegistry.privateCopy(r);
    this.slots[r.index] = copy;
    return copy;
  }

  private emit(type: MembershipEvent['type'], r: MemberRecord): void {
    if (this.listeners.length === 0) return;
    const event = { type, member: this.viewOf(r) } as MembershipEvent;
    for (const l of this.listeners.slice()) l(event);
  }

  /**
   * A broadcast key for an id this view does not hold (our own previous life,
   * declared dead): numbers above any registry index, few and short-lived.
   */
  private foreignKey(id: string): number {
    let k = this.foreignKeys.get(id);
    if (k === undefined) {
      if (this.foreignKeys.size >= 64) this.foreignKeys.clear();
      k = FOREIGN_KEY_BASE + (this.nextForeignKey++ % FOREIGN_KEY_BASE);
      this.foreignKeys.set(id, k);
    }
    return k;
  }

  private randomId(): string {
    let s = '';
    for (let i = 0; i < 4; i++) s += this.random.int(0x10000).toString(16).padStart(4, '0');
    return s;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
