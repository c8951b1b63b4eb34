// Real agents with gossip on 127.0.0.1 (each a `node dist/src/cli.js agent`
// child on ephemeral ports), and a watcher that follows every agent's view of
// the cluster from its 'gossip member' log lines — no polling of admin APIs, so
// 100 agents can be followed without loading the machine. Conditions are
// re-checked whenever any agent writes a log line.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, startAgent, type AgentProcess, type LogLine, type StartOptions } from './agent-process.js';
export { metricValue } from './metrics.js';

export type ViewState = 'alive' | 'suspect' | 'dead' | 'left';

const isMember = (s: ViewState | undefined): boolean => s === 'alive' || s === 'suspect';

export interface GossipAgentOptions {
  name: string;
  /** Gossip addresses to join through; none = start a cluster. */
  seeds?: string[];
  /** Cluster secret(s) written to a 0600 secret file (first = primary). */
  secret: string | string[];
  profile?: 'lan' | 'fast';
  /** gossip.timings overrides. */
  timings?: Record<string, unknown>;
  /** Other gossip: fields. */
  gossip?: Record<string, unknown>;
  meshlets?: StartOptions['meshlets'];
  /** Other agent config fields. */
  config?: Record<string, unknown>;
}

export interface GossipAgent {
  readonly name: string;
  readonly proc: AgentProcess;
  /** Member id and gossip address from the ready line. */
  readonly id: string;
  readonly address: string;
  readonly pid: number;
}

export const TEST_SECRET = 'weft test cluster secret 0001';

/** Starts one agent with gossip on an ephemeral port; resolves at its ready line. */
export async function startGossipAgent(o: GossipAgentOptions): Promise<GossipAgent> {
  const dir = makeTempDir();
  const secretFile = join(dir, 'cluster.secret');
  writeFileSync(secretFile, (Array.isArray(o.secret) ? o.secret : [o.secret]).join('\n') + '\n', { mode: 0o600 });
  chmodSync(secretFile, 0o600);
  const gossip: Record<string, unknown> = {
    name: o.name,
    bind: { host: '127.0.0.1', port: 0 },
    secretFile,
    join: { addresses: o.seeds ?? [], retry: { initial: '200ms', max: '2s' } },
    ...(o.profile ? { profile: o.profile } : {}),
    ...(o.timings ? { timings: o.timings } : {}),
    ...o.gossip,
  };
  const proc = await startAgent({ config: { ...o.config, gossip }, ...(o.meshlets ? { meshlets: o.meshlets } : {}) }, dir);
  const ready = proc.logs.find((l) => l.msg === 'agent ready')!;
  return { name: o.name, proc, id: String(ready.gossipId), address: String(ready.gossip), pid: proc.child.pid! };
}

/** Starts `n` agents: the first is the seed, the rest join through it, `parallel` at a time. */
export async function startGossipCluster(n: number, base: Omit<GossipAgentOptions, 'name' | 'seeds'> & { namePrefix?: string; parallel?: number }): Promise<GossipAgent[]> {
  const prefix = base.namePrefix ?? 'agent';
  const seed = await startGossipAgent({ ...base, name: `${prefix}-0` });
  const agents: GossipAgent[] = [seed];
  const parallel = base.parallel ?? 8;
  for (let i = 1; i < n; i += parallel) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + parallel); j++) batch.push(startGossipAgent({ ...base, name: `${prefix}-${j}`, seeds: [seed.address] }));
    agents.push(...(await Promise.all(batch)));
  }
  return agents;
}

export interface MemberEvent {
  readonly time: number;
  readonly event: string;
  readonly id: string;
  readonly state: ViewState;
  readonly incarnation: number;
}

/** One agent's view of the cluster, folded from its log lines (incrementally). */
class View {
  readonly states = new Map<string, ViewState>();
  readonly events: MemberEvent[] = [];
  #cursor = 0;

  constructor(readonly agent: GossipAgent) {}

  update(): void {
    const logs = this.agent.proc.logs;
    for (; this.#cursor < logs.length; this.#cursor++) {
      const l = logs[this.#cursor]!;
      if (l.msg !== 'gossip member') continue;
      const e: MemberEvent = { time: Date.parse(String(l.time)), event: String(l.event), id: String(l.id), state: l.state as ViewState, incarnation: Number(l.incarnation) };
      this.events.push(e);
      if (e.id === this.agent.id) continue;
      if (e.event === 'reap') this.states.delete(e.id);
      else this.states.set(e.id, e.state);
    }
  }
}

export class ClusterWatch {
  readonly #views = new Map<GossipAgent, View>();
  readonly #waiters = new Set<() => void>();
  #wakeScheduled = false;

  constructor(agents: Iterable<GossipAgent>) {
    for (const a of agents) this.add(a);
  }

  add(agent: GossipAgent): void {
    if (this.#views.has(agent)) return;
    this.#views.set(agent, new View(agent));
    agent.proc.child.stdout!.on('data', () => this.#wakeSoon());
    agent.proc.child.once('exit', () => this.#wake());
  }

  /** Stops treating `agent` as an observer (killed, or not a member). */
  remove(agent: GossipAgent): void {
    this.#views.delete(agent);
    this.#wake();
  }

  get observers(): GossipAgent[] {
    return [...this.#views.keys()];
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Coalesces bursts of log lines (100 agents log a lot at once) into one check every few ms; times come from the lines themselves. */
  #wakeSoon(): void {
    if (this.#wakeScheduled || this.#waiters.size === 0) return;
    this.#wakeScheduled = true;
    setTimeout(() => {
      this.#wakeScheduled = false;
      this.#wake();
    }, 5);
  }

  #view(a: GossipAgent): View {
    const v = this.#views.get(a);
    if (!v) throw new Error(`not watching ${a.name}`);
    v.update();
    return v;
  }

  /** What `observer` last said about `subjectId` (undefined: unknown or reaped). */
  state(observer: GossipAgent, subjectId: string): ViewState | undefined {
    return this.#view(observer).states.get(subjectId);
  }

  /** Every membership event `observer` logged. */
  events(observer: GossipAgent): readonly MemberEvent[] {
    return this.#view(observer).events;
  }

  /** True when every observer holds every other one as alive. */
  allSeeAll(): boolean {
    const obs = this.observers;
    return obs.every((o) => obs.every((s) => s === o || this.state(o, s.id) === 'alive'));
  }

  /**
   * True when every observer holds every other one as a member, alive or
   * suspect — memberlist's Members() and NumMembers() (which the issue's
   * reference figures use) count a suspect as a member until it is declared dead.
   */
  allKnowAll(): boolean {
    const obs = this.observers;
    return obs.every((o) => obs.every((s) => s === o || isMember(this.state(o, s.id))));
  }

  /**
   * When the current all-know-all state was reached: for each observer and
   * subject, the event that last turned the subject from unknown, dead or left
   * into a member (a suspicion and its refutation change nothing here), and
   * the latest of those. Undefined unless all know all.
   */
  membershipEvent(): { observer: string; event: MemberEvent } | undefined {
    if (!this.allKnowAll()) return undefined;
    return this.#latestDecisive((events) => {
      const became = new Map<string, MemberEvent>();
      const member = new Set<string>();
      for (const e of events) {
        const now = e.event !== 'reap' && isMember(e.state);
        if (now && !member.has(e.id)) became.set(e.id, e);
        if (now) member.add(e.id);
        else member.delete(e.id);
      }
      return became.values();
    });
  }

  /**
   * When the current all-see-all state was reached, from the agents' own log
   * times: the latest event among those that made each observer hold each
   * other observer alive. Undefined unless all see all.
   */
  convergedAt(): number | undefined {
    return this.convergenceEvent()?.event.time;
  }

  /** The event convergedAt() reports, with who logged it (to explain a slow convergence). */
  convergenceEvent(): { observer: string; event: MemberEvent } | undefined {
    if (!this.allSeeAll()) return undefined;
    return this.#latestDecisive((events) => {
      const lastAbout = new Map<string, MemberEvent>();
      for (const e of events) lastAbout.set(e.id, e);
      return lastAbout.values();
    });
  }

  /** The latest of the events `decisive` picks from each observer's events about the other observers. */
  #latestDecisive(decisive: (events: MemberEvent[]) => Iterable<MemberEvent>): { observer: string; event: MemberEvent } | undefined {
    const obs = this.observers;
    const ids = new Set(obs.map((o) => o.id));
    let latest: { observer: string; event: MemberEvent } | undefined;
    for (const o of obs) {
      const about = this.events(o).filter((e) => ids.has(e.id) && e.id !== o.id);
      for (const e of decisive(about)) if (!latest || e.time > latest.event.time) latest = { observer: o.name, event: e };
    }
    return latest;
  }

  /** Resolves when `pred` holds (checked at each log line of any agent); rejects after `timeoutMs` naming `what`. */
  until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      // Also re-check now and then: a condition can become true without a new line (e.g. an agent removed).
      const tick = setInterval(check, 100);
      const cleanup = () => {
        clearTimeout(timer);
        clearInterval(tick);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
    });
  }

  /** For each observer, the time of its first event about `subjectId` matching `pred` at or after `since` (undefined if none). */
  firstEventTimes(subjectId: string, since: number, pred: (e: MemberEvent) => boolean): Map<GossipAgent, number | undefined> {
    const out = new Map<GossipAgent, number | undefined>();
    for (const o of this.observers) {
      const e = this.events(o).find((x) => x.id === subjectId && x.time >= since && pred(x));
      out.set(o, e?.time);
    }
    return out;
  }
}

/** POSTs JSON to an agent's admin API. */
export async function adminPost(agent: GossipAgent, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(agent.proc.adminUrl + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) };
}


export type { LogLine };
