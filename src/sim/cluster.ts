// A simulated cluster: N processes, each running the real Membership over a
// ProcessClock, its own seeded Random and a SimTransport, plus the bookkeeping
// the scenario runner reports from (views, verdicts, bytes).

import { Membership } from '../gossip/membership.js';
import { MemberRegistry } from '../gossip/membership-registry.js';
import type { MembershipConfig } from '../gossip/membership-config.js';
import type { Address, MembershipEvent } from '../gossip/types.js';
import { SimNetwork, type NetworkConfig } from './network.js';
import { Sfc32 } from './prng.js';
import { ProcessClock, Scheduler } from './virtual-clock.js';
import { ViewTracker } from './view-tracker.js';

export interface SimProcess {
  readonly index: number;
  readonly address: Address;
  /** Restarts so far at this address. */
  readonly generation: number;
  readonly membership: Membership;
  readonly clock: ProcessClock;
  alive: boolean;
}

/** A 'fail' verdict about a member that was running, reachable and not paused. */
export interface FalseVerdict {
  at: number;
  observer: string;
  subject: string;
}

export interface ClusterOptions {
  seed: number;
  network: NetworkConfig;
  membership?: Partial<Omit<MembershipConfig, 'name' | 'id' | 'meta'>>;
  /** After a heal, 'fail' verdicts across the old partition line are expected for this long. */
  partitionGraceMs?: number;
}

export class SimCluster {
  readonly scheduler = new Scheduler();
  readonly network: SimNetwork;
  readonly views = new ViewTracker();
  /** One registry for every member: alive records are shared between views (N² records would not fit at 10,000). */
  readonly registry = new MemberRegistry();
  readonly processes: SimProcess[] = [];
  readonly falseVerdicts: FalseVerdict[] = [];
  /** subject id → observers that declared it dead while it was paused (or after having been paused). */
  readonly pausedVerdicts = new Map<string, Set<string>>();
  /** subject id → observers that suspected it. */
  readonly suspicions = new Map<string, Set<string>>();
  /** subject id → observer id → time of its first suspect or fail verdict (watched subjects only). */
  readonly firstSuspected = new Map<string, Map<string, number>>();
  /** subject id → time of the first 'fail' verdict after it was killed. */
  readonly firstDetection = new Map<string, number>();
  /** subject id → time no live observer saw it any more. */
  readonly allDetection = new Map<string, number>();
  /** Verdicts and events seen, for the report. */
  eventCount = 0;

  private readonly byId = new Map<string, SimProcess>();
  private readonly everPaused = new Set<string>();
  private readonly killedAt = new Map<string, number>();
  private readonly watchSuspects = new Set<string>();

  constructor(readonly options: ClusterOptions) {
    this.network = new SimNetwork(this.scheduler, Sfc32.fork(options.seed, 'network'), options.network);
    this.views.onUnseen = (id) => {
      if (this.killedAt.has(id) && !this.allDetection.has(id)) this.allDetection.set(id, this.scheduler.now);
    };
  }

  static address(index: number): Address {
    return `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}:7946`;
  }

  /** Starts the process for `index` (a new one, or a restart with a new id at the same address). */
  start(index: number): SimProcess {
    const address = SimCluster.address(index);
    const prev = this.processes[index];
    if (prev?.alive) throw new Error(`process ${index} is running`);
    const generation = prev ? prev.generation + 1 : 0;
    const clock = new ProcessClock(this.scheduler);
    const transport = this.network.attach(address);
    const random = Sfc32.fork(this.options.seed, `member-${index}-${generation}`);
    const membership = new Membership({ transport, clock, random, registry: this.registry }, { ...this.options.membership, name: `node-${index}` });
    const p: SimProcess = { index, address, generation, membership, clock, alive: true };
    this.processes[index] = p;
    this.byId.set(membership.id, p);
    this.views.addLive(membership.id);
    membership.onEvent((e) => this.onEvent(p, e));
    membership.start();
    return p;
  }

  /** Joins `index` through the given addresses, retrying every second until one answers. */
  join(index: number, through: Address[]): void {
    const p = this.processes[index];
    const attempt = () => {
      if (!p.alive) return;
      p.membership.join(through).catch(() => {
        if (p.alive) this.scheduler.schedule(1000, attempt);
      });
    };
    attempt();
  }

  /** SIGKILL: the process stops at once, telling no one. */
  kill(index: number): void {
    const p = this.processes[index];
    if (!p?.alive) return;
    p.alive = false;
    p.clock.kill();
    p.membership.stop();
    this.network.kill(p.address);
    this.killedAt.set(p.membership.id, this.scheduler.now);
    this.views.removeLive(p.membership.id);
  }

  /** SIGSTOP: timers and inbound traffic wait. */
  pause(index: number): void {
    const p = this.processes[index];
    if (!p?.alive) return;
    this.everPaused.add(p.membership.id);
    p.clock.pause();
    this.network.pause(p.address);
  }

  /** SIGCONT: due timers fire, then queued traffic is delivered. */
  resume(index: number): void {
    const p = this.processes[index];
    if (!p?.alive) return;
    p.clock.resume();
    this.network.resume(p.address);
  }

  /**
   * When every process running now (but `subject`) had suspected or failed
   * `subject`, or undefined if some has not (yet).
   */
  suspectedByAllAt(subject: string): number | undefined {
    const first = this.firstSuspected.get(subject);
    if (!first) return undefined;
    let latest = -Infinity;
    for (const p of this.processes) {
      if (!p.alive || p.membership.id === subject) continue;
      const t = first.get(p.membership.id);
      if (t === undefined) return undefined;
      if (t > latest) latest = t;
    }
    return latest;
  }

  /** Watches suspicion verdicts about this member (kept for every member would cost O(N²) memory). */
  watchSuspicions(id: string): void {
    this.watchSuspects.add(id);
  }

  /** Mean and max bytes sent per address (datagrams and requests). */
  bytesSent(): { total: number; mean: number; max: number } {
    let total = 0;
    let max = 0;
    let n = 0;
    for (const s of this.network.stats.values()) {
      total += s.bytesSent;
      if (s.bytesSent > max) max = s.bytesSent;
      n++;
    }
    return { total, mean: n ? total / n : 0, max };
  }

  private onEvent(observer: SimProcess, e: MembershipEvent): void {
    this.eventCount++;
    const oid = observer.membership.id;
    const sid = e.member.id;
    const up = e.member.state === 'alive' || e.member.state === 'suspect';
    this.views.observe(oid, sid, up && e.type !== 'reap');
    if ((e.type === 'suspect' || e.type === 'fail') && this.watchSuspects.has(sid)) {
      if (e.type === 'suspect') {
        let s = this.suspicions.get(sid);
        if (!s) this.suspicions.set(sid, (s = new Set()));
        s.add(oid);
      }
      let first = this.firstSuspected.get(sid);
      if (!first) this.firstSuspected.set(sid, (first = new Map()));
      if (!first.has(oid)) first.set(oid, this.scheduler.now);
    }
    if (e.type !== 'fail') return;
    if (this.killedAt.has(sid)) {
      if (!this.firstDetection.has(sid)) this.firstDetection.set(sid, this.scheduler.now);
      return;
    }
    const subject = this.byId.get(sid);
    if (!subject || !subject.alive) return;
    if (this.everPaused.has(sid)) {
      let s = this.pausedVerdicts.get(sid);
      if (!s) this.pausedVerdicts.set(sid, (s = new Set()));
      s.add(oid);
      return;
    }
    if (this.network.separatedRecently(observer.address, subject.address, this.options.partitionGraceMs ?? 120_000)) return;
    this.falseVerdicts.push({ at: this.scheduler.now, observer: oid, subject: sid });
  }
}
