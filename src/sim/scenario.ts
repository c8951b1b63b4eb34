// Scenario runner: builds a SimCluster, runs one scenario on virtual time and
// reports what happened. The report depends only on the options (seed
// included), so any run replays exactly; wall-clock figures are kept apart.

import type { MembershipConfig } from '../gossip/membership-config.js';
import { SimCluster } from './cluster.js';
import { DEFAULT_NETWORK, type NetworkConfig } from './network.js';
import { Sfc32 } from './prng.js';

export type ScenarioName = 'converge' | 'partition' | 'pause' | 'kill';

export interface ScenarioOptions {
  scenario: ScenarioName;
  members: number;
  seed: number;
  /** Datagram loss on every link. */
  loss?: number;
  /** Bytes counted on top of every message (50 = weft's sealing); see NetworkConfig. */
  messageOverheadBytes?: number;
  latency?: NetworkConfig['latency'];
  /** Members start at random times within this window, each joining through member 0. */
  joinWindowMs?: number;
  /** Give up waiting for convergence (initial or after a heal) after this long. */
  convergeTimeoutMs?: number;
  /** Total virtual time to run; the scenario's own phases run first, then steady state to this point. */
  durationMs?: number;
  /** Time between convergence and the scenario's disturbance. */
  settleMs?: number;
  partitionMs?: number;
  pauseMs?: number;
  /** Called every 250,000 events with where the run is (for long runs; does not change the run). */
  onProgress?: (p: SimProgress) => void;
  /** Overrides of the membership defaults (LAN). */
  membership?: Partial<Omit<MembershipConfig, 'name' | 'id' | 'meta'>>;
}

export interface SimProgress {
  virtualMs: number;
  events: number;
  liveMembers: number;
  /** Live (observer, subject) pairs where the observer sees the subject; all see all at live × (live − 1). */
  seenPairs: number;
}

export interface SimReport {
  scenario: ScenarioName;
  members: number;
  seed: number;
  loss: number;
  /** Virtual ms from the first start until every live member saw every live member (null: not within the timeout). */
  convergedMs: number | null;
  /**
   * kill: ms from the kill to the first 'fail' verdict and until no live member
   * held the victim as up (dead by all); suspectedByAllMs: until every live
   * member had suspected (or failed) it.
   */
  detection: { firstMs: number | null; allMs: number | null; suspectedByAllMs: number | null } | null;
  /** partition: ms from the heal until all saw all again. */
  healConvergedMs: number | null;
  /** pause: who suspected the paused member, who declared it dead, and whether all saw it alive at the end. */
  pause: { suspectedBy: number; suspectedByAllMs: number | null; declaredDeadBy: number; seenAliveByAllAtEnd: boolean } | null;
  /** 'fail' verdicts about running, reachable, never-paused members. */
  falsePositives: number;
  /** Bytes each address sent (datagrams + request/response payloads). */
  bytesPerMember: { mean: number; max: number };
  /** Mean bytes per member per second over the steady part of the run (after convergence and disturbances). */
  steadyBytesPerMemberPerSec: number | null;
  virtualMs: number;
  events: number;
}

const DEFAULTS = {
  loss: 0,
  joinWindowMs: 1000,
  convergeTimeoutMs: 120_000,
  settleMs: 5000,
  partitionMs: 30_000,
  pauseMs: 5000,
};

/** After the disturbance phase, how long to keep watching (pause/kill outcomes). */
const OBSERVE_MS = 60_000;

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

export async function runScenario(opts: ScenarioOptions): Promise<SimReport> {
  const o = { ...DEFAULTS, ...opts };
  const cluster = new SimCluster({
    seed: o.seed,
    network: { ...DEFAULT_NETWORK, loss: o.loss, latency: o.latency ?? DEFAULT_NETWORK.latency, messageOverheadBytes: o.messageOverheadBytes ?? 0 },
    membership: o.membership,
  });
  const sched = cluster.scheduler;
  const onProgress = o.onProgress;
  if (onProgress) {
    sched.onProgress = () => onProgress({ virtualMs: sched.now, events: sched.executed, liveMembers: cluster.views.liveCount, seenPairs: cluster.views.seenPairs });
  }
  const rng = Sfc32.fork(o.seed, 'scenario');
  const n = o.members;
  if (!(n >= 2)) throw new RangeError('a scenario needs at least 2 members');

  // Everyone starts within the join window and joins through member 0.
  cluster.start(0);
  const through = [cluster.processes[0].address];
  for (let i = 1; i < n; i++) {
    const at = Math.floor(rng.float() * o.joinWindowMs);
    sched.schedule(at, () => {
      cluster.start(i);
      cluster.join(i, through);
    });
  }
  // Convergence is only meaningful once everyone has started.
  await sched.run(o.joinWindowMs);

  const convergedBy = async (deadline: number): Promise<number | null> => {
    if (cluster.views.converged()) return sched.now;
    await sched.run(deadline, () => cluster.views.converged());
    return cluster.views.converged() ? sched.now : null;
  };

  const convergedAt = await convergedBy(o.convergeTimeoutMs);
  const report: SimReport = {
    scenario: o.scenario,
    members: n,
    seed: o.seed,
    loss: o.loss,
    convergedMs: convergedAt === null ? null : round(convergedAt),
    detection: null,
    healConvergedMs: null,
    pause: null,
    falsePositives: 0,
    bytesPerMember: { mean: 0, max: 0 },
    steadyBytesPerMemberPerSec: null,
    virtualMs: 0,
    events: 0,
  };

  // The disturbance, on a member other than the join seed.
  const victim = 1 + rng.int(n - 1);
  if (o.scenario === 'kill') {
    await sched.run(sched.now + o.settleMs);
    const id = cluster.processes[victim].membership.id;
    cluster.watchSuspicions(id);
    const killedAt = sched.now;
    cluster.kill(victim);
    await sched.run(killedAt + o.convergeTimeoutMs, () => cluster.allDetection.has(id));
    const first = cluster.firstDetection.get(id);
    const all = cluster.allDetection.get(id);
    const suspected = cluster.suspectedByAllAt(id);
    report.detection = {
      firstMs: first === undefined ? null : round(first - killedAt),
      allMs: all === undefined ? null : round(all - killedAt),
      suspectedByAllMs: suspected === undefined ? null : round(suspected - killedAt),
    };
  } else if (o.scenario === 'pause') {
    await sched.run(sched.now + o.settleMs);
    const id = cluster.processes[victim].membership.id;
    cluster.watchSuspicions(id);
    const pausedAt = sched.now;
    cluster.pause(victim);
    await sched.run(sched.now + o.pauseMs);
    const suspected = cluster.suspectedByAllAt(id);
    cluster.resume(victim);
    await sched.run(sched.now + OBSERVE_MS);
    report.pause = {
      suspectedBy: cluster.suspicions.get(id)?.size ?? 0,
      suspectedByAllMs: suspected === undefined ? null : round(suspected - pausedAt),
      declaredDeadBy: cluster.pausedVerdicts.get(id)?.size ?? 0,
      seenAliveByAllAtEnd: cluster.views.seenCount(id) === cluster.views.liveCount - 1,
    };
  } else if (o.scenario === 'partition') {
    await sched.run(sched.now + o.settleMs);
    const half = Math.floor(n / 2);
    const a: string[] = [];
    const b: string[] = [];
    for (const p of cluster.processes) (p.index < half ? a : b).push(p.address);
    cluster.network.partition([a, b]);
    await sched.run(sched.now + o.partitionMs);
    const healedAt = sched.now;
    cluster.network.heal();
    const at = await convergedBy(healedAt + o.convergeTimeoutMs);
    report.healConvergedMs = at === null ? null : round(at - healedAt);
  }

  // Steady state until the requested duration.
  const steadyFrom = sched.now;
  const bytesBefore = cluster.bytesSent().total;
  const end = Math.max(sched.now, o.durationMs ?? 0);
  await sched.run(end);
  const bytes = cluster.bytesSent();
  if (end > steadyFrom) report.steadyBytesPerMemberPerSec = round(((bytes.total - bytesBefore) / n / (end - steadyFrom)) * 1000);
  report.falsePositives = cluster.falseVerdicts.length;
  report.bytesPerMember = { mean: Math.round(bytes.mean), max: bytes.max };
  report.virtualMs = Math.round(sched.now);
  report.events = sched.executed;
  return report;
}
