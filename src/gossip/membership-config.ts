// Membership timing and limits. weft's defaults start from memberlist's LAN
// profile and are tuned for quick detection within a byte budget (see
// WEFT_DEFAULTS below); docs/gossip-membership.md explains each one and
// docs/gossip.md the measurements behind the choice.

export interface MembershipConfig {
  /** Human name (host name); may repeat across restarts. */
  name: string;
  /** 16 lowercase hex characters; a fresh random id per process start when omitted (memberlist#311). */
  id?: string;
  /** Application metadata gossiped with this member (at most 512 bytes). */
  meta?: Uint8Array;

  /** Time between failure-detection probes (scaled by the local health multiplier). */
  probeIntervalMs: number;
  /**
   * Whom to probe next: 'aligned' (weft's default) — slots of one probe
   * interval on the shared clock, each member probed by exactly one other per
   * slot (see Membership.alignedTarget); 'random' — SWIM's randomized
   * round-robin, each member's own shuffled order (memberlist's behaviour).
   */
  probeOrder: 'aligned' | 'random';
  /** Time to wait for a direct ack before probing indirectly (scaled by the local health multiplier). */
  probeTimeoutMs: number;
  /** Members asked to probe indirectly (ping-req) when the direct probe fails. */
  indirectChecks: number;
  /** Suspicion timeout floor = suspicionMult × max(1, log10 N) × probeInterval. */
  suspicionMult: number;
  /** Suspicion timeout ceiling = suspicionMaxTimeoutMult × floor. */
  suspicionMaxTimeoutMult: number;
  /**
   * Lower bound of the suspicion floor in ms, whatever N and the probe
   * interval: the longest stall (GC pause, SIGSTOP, VM migration) a member
   * rides out with a refutation instead of being declared dead. 0 = none.
   */
  suspicionMinTimeoutMs: number;
  /** Each update is piggybacked retransmitMult × ceil(log10(N + 1)) times. */
  retransmitMult: number;
  /** Time between gossip rounds (piggybacked updates to gossipNodes random members). */
  gossipIntervalMs: number;
  gossipNodes: number;
  /** Dead members still receive gossip this long, so they learn they were declared dead and refute. */
  gossipToTheDeadMs: number;
  /** Full-state anti-entropy with one random member; scaled up above 32 members as in memberlist. */
  pushPullIntervalMs: number;
  /**
   * After joining, extra push-pulls with random members at postJoinSyncMs,
   * then twice that later, and so on (postJoinSyncs in all): gossip alone
   * misses a member now and then while a cluster is still growing, and these
   * catch the stragglers long before the periodic push-pull.
   */
  postJoinSyncs: number;
  postJoinSyncMs: number;
  /**
   * For this long after its view of the member set last changed, a member
   * adds a digest of that view (count and hash, 11 bytes) to its probes and
   * acks. A member that receives two digests unlike its own view, a probe
   * timeout apart and with no change of its own in between, pulls the full state from
   * the sender: it missed a piggybacked update (with a retransmit limit of
   * 4 × log N a few members in 10,000 pairs do) and would otherwise wait for
   * the periodic push-pull, minutes at 100 members. 0 turns digests off.
   */
  viewDigestWindowMs: number;
  /** At most one digest-triggered push-pull per this interval. */
  viewDigestSyncIntervalMs: number;
  /** Timeout of one reliable exchange (push-pull, join, reliable ping). */
  requestTimeoutMs: number;
  /** Also probe over the reliable channel when the direct UDP probe fails (memberlist's TCP fallback). */
  reliablePingFallback: boolean;
  /** Saturation bound of the local health multiplier. */
  awarenessMaxMultiplier: number;
  /** Largest datagram built (compound packets stay under this). */
  maxPacketBytes: number;
  /** Largest push-pull message accepted or built. */
  maxPushPullBytes: number;
  /** Bound on queued membership updates. */
  maxQueuedBroadcasts: number;
  /** Dead members are forgotten (a 'reap' event) after this long. */
  deadReapMs: number;
  /** Members that left gracefully are forgotten after this long (memberlist#253). */
  leftReapMs: number;
  /** A reaped id is remembered this much longer so stale gossip cannot resurrect it. */
  tombstoneMs: number;
  /** How often to retry a known-dead member's address (and the join addresses), so healed partitions re-merge. */
  deadRetryIntervalMs: number;
  /** Graceful leave waits at most this long for the 'left' update to spread. */
  leaveTimeoutMs: number;
}

export type MembershipOptions = Partial<MembershipConfig> & { name: string };

/**
 * weft's defaults, tuned against the targets of issue 5 (docs/gossip.md has the
 * measurements). Versus memberlist's LAN profile (MEMBERLIST_LAN):
 * - the 'aligned' probe schedule (each member probed by exactly one other per
 *   interval) instead of independent random round-robins, and gossip rounds
 *   every 100 ms instead of 200 ms: a failed member is *suspected* by all
 *   within about 2 probe intervals plus a few gossip rounds (≈ 1.5–2 s), not
 *   after an exponentially distributed wait;
 * - probes every 800 ms (timeout 400 ms) instead of 1 s;
 * - a suspicion floor of at least 6 s (and 5 × log10 N × probe interval), so
 *   a member stalled for 5 s refutes before anyone declares it dead;
 * - full-state push-pull every 120 s (scaled up above 32 members: 240 s at 50,
 *   360 s at 100) instead of 30 s. That pays for the probing within 300 B/s
 *   per member: every datagram carries 50 bytes of sealing, and a push-pull
 *   carries the whole member table and catalog (≈ 180 bytes per agent with one
 *   service), so at 30 s push-pull alone would exceed the budget at 100
 *   members. Updates spread by piggybacked gossip in well under a second
 *   either way; push-pull is the backstop (and the join).
 */
export const WEFT_DEFAULTS: Omit<MembershipConfig, 'name' | 'id' | 'meta'> = {
  probeOrder: 'aligned',
  probeIntervalMs: 800,
  probeTimeoutMs: 400,
  indirectChecks: 3,
  suspicionMult: 5,
  suspicionMaxTimeoutMult: 6,
  suspicionMinTimeoutMs: 6000,
  retransmitMult: 4,
  gossipIntervalMs: 100,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  pushPullIntervalMs: 120_000,
  postJoinSyncs: 3,
  postJoinSyncMs: 1000,
  viewDigestWindowMs: 30_000,
  viewDigestSyncIntervalMs: 5_000,
  requestTimeoutMs: 10_000,
  reliablePingFallback: true,
  awarenessMaxMultiplier: 8,
  maxPacketBytes: 1400,
  maxPushPullBytes: 8 * 1024 * 1024,
  maxQueuedBroadcasts: 16_384,
  deadReapMs: 300_000,
  leftReapMs: 30_000,
  tombstoneMs: 300_000,
  deadRetryIntervalMs: 30_000,
  leaveTimeoutMs: 5_000,
};

/** The defaults under their historical name (the `lan` profile is weft's defaults). */
export const LAN_DEFAULTS = WEFT_DEFAULTS;

/** hashicorp/memberlist's DefaultLANConfig timings, for comparison runs in the simulator. */
export const MEMBERLIST_LAN: Partial<MembershipConfig> = {
  probeOrder: 'random',
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  suspicionMinTimeoutMs: 0,
  gossipIntervalMs: 200,
  pushPullIntervalMs: 30_000,
  viewDigestWindowMs: 0,
};

/**
 * A preset for quick failure detection (measured in the simulator: a killed
 * member is dropped by all of 50–100 members in about 2.2 s, with no false
 * verdicts at 5% loss, for 230–320 B/s per member). The price: a member that
 * stalls for more than about 2 s (a long GC pause, SIGSTOP) is declared dead
 * and has to rejoin by refuting, where the LAN defaults ride out a 5 s stall.
 */
export const FAST_DETECTION: Partial<MembershipConfig> = {
  probeIntervalMs: 400,
  probeTimeoutMs: 200,
  suspicionMult: 2,
  suspicionMaxTimeoutMult: 3,
  suspicionMinTimeoutMs: 0,
  gossipIntervalMs: 100,
};

export function resolveConfig(opts: MembershipOptions): MembershipConfig {
  const c = { ...LAN_DEFAULTS, ...opts } as MembershipConfig;
  for (const [k, v] of Object.entries(c)) {
    if (typeof v === 'number' && !(Number.isFinite(v) && v >= 0)) throw new RangeError(`membership config ${k} must be a finite number >= 0`);
  }
  if (c.probeTimeoutMs > c.probeIntervalMs) throw new RangeError('probeTimeoutMs must not exceed probeIntervalMs');
  if (c.maxPacketBytes < 64 || c.maxPacketBytes > 65_507) throw new RangeError('maxPacketBytes must be in 64..65507');
  if (c.awarenessMaxMultiplier < 1) throw new RangeError('awarenessMaxMultiplier must be >= 1');
  return c;
}

/** memberlist's push-pull scaling: the interval grows with log2(N) above 32 members so bandwidth stays flat. */
export function pushPullScale(intervalMs: number, n: number): number {
  const threshold = 32;
  if (n <= threshold) return intervalMs;
  const mult = Math.ceil(Math.log2(n) - Math.log2(threshold)) + 1;
  return intervalMs * mult;
}

/** Retransmit limit for N members. */
export function retransmitLimit(retransmitMult: number, n: number): number {
  return retransmitMult * Math.ceil(Math.log10(n + 1));
}
