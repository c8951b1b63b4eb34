// bench/gossip: cluster membership with real agents on loopback, then the
// simulator at sizes no machine runs as processes.
//
// Real processes (N = 10, 50, 100; each agent a `node dist/src/cli.js agent`
// child with gossip on an ephemeral port, weft's default timings, one service
// published per agent so push-pull carries a realistic catalog):
//   - all-see-all: from the last agent's join until every agent lists every
//     other as a member (alive or suspect, as memberlist counts members), and
//     until every agent holds every other alive (which also waits for the
//     refutation of suspicions raised while 100 processes start on 2 cores);
//     times from the agents' own log lines;
//   - steady state: bytes per member per second over a window (sealed bytes
//     the agents put on the wire, from their /metrics), split into datagrams
//     and TCP exchanges, plus the push-pull share amortized over its period;
//   - broadcast: one agent publishes a new service; until every other agent
//     has it in its catalog;
//   - SIGKILL (2 trials) and SIGSTOP (2 trials, kept stopped until declared
//     dead, then resumed): suspected by all, declared dead by all;
//   - a 5 s SIGSTOP: suspected, resumed, refuted — dead verdicts counted;
//   - false dead verdicts: 'fail' about any member that was running.
// Simulator (same Membership code, virtual time, 50-byte sealing counted):
//   N = 1,000 kill (converge, then detection) and 10,000 converge (joining
//   over 10 s), each in a child process with its peak RSS; 50/100 with weft's
//   defaults vs memberlist's LAN timings.
// WEFT_GOSSIP_BENCH_N=10,50 picks sizes; WEFT_GOSSIP_BENCH_SIM=1000 picks
// simulator sizes (empty: none); WEFT_BENCH_TIME (ms, default 300) scales the
// steady-state window (20 s at the default).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { printGrid, writeResults } from './lib.js';
import { ClusterWatch, TEST_SECRET, metricValue, startGossipCluster, type GossipAgent } from '../test/helpers/gossip-cluster.js';
import { CLI, meshlet } from '../test/helpers/agent-process.js';
import { MEMBERLIST_LAN, WEFT_DEFAULTS, pushPullScale } from '../src/gossip/membership-config.js';
import { SEAL_OVERHEAD } from '../src/gossip/secure-transport.js';
import { runScenario, type SimReport } from '../src/sim/scenario.js';

const scale = Math.min(1, Number(process.env.WEFT_BENCH_TIME ?? 300) / 300);
const SIZES = (process.env.WEFT_GOSSIP_BENCH_N ?? '10,50,100').split(',').filter(Boolean).map(Number);
const SIM_SIZES = (process.env.WEFT_GOSSIP_BENCH_SIM ?? '1000,10000').split(',').filter(Boolean).map(Number);
const WINDOW_MS = Math.max(5000, Math.round(20_000 * scale));
/**
 * After the last join, before the steady window: the post-join syncs (1, 3, 7 s) and,
 * after a mass start, the catch-up syncs that repeat at doubling delays while they still
 * bring new members (docs/gossip-membership.md) must be over: with 8 s the N=100 window
 * caught 12 push-pulls where 5.6 are expected (390 B/s), with 70 s 5 or 7 (268 / 303 B/s:
 * whole exchanges in a 20 s window; the amortized column is the steady rate).
 * WEFT_GOSSIP_BENCH_SETTLE_MS overrides (ms).
 */
const SETTLE_MS = Number(process.env.WEFT_GOSSIP_BENCH_SETTLE_MS ?? 70_000);
const DETECT_TIMEOUT_MS = 45_000;

interface Trial {
  victim: string;
  firstSuspectMs: number | null;
  suspectedByAllMs: number | null;
  deadByAllMs: number | null;
  /** SIGSTOP trials: from SIGCONT until all see the member alive again. */
  aliveAgainMs?: number | null;
  /** 5 s pause: members that declared it dead. */
  declaredDeadBy?: number;
}

interface RealResult {
  n: number;
  startupMs: number;
  /** Every agent lists every other as a member (alive or suspect). */
  allSeeAllMs: number | null;
  /** Every agent holds every other alive (refutations of start-up suspicions included). */
  allAliveMs: number | null;
  /** 'suspect' events logged while the cluster started (each refuted before all were alive). */
  startupSuspicions: number;
  steady: { windowMs: number; bytesPerMemberPerSec: number; datagramBytesPerSec: number; exchangeBytesPerSec: number; exchanges: number; pushPullStateBytes: number | null; amortizedBytesPerSec: number | null };
  broadcastMs: number | null;
  kill: Trial[];
  stop: Trial[];
  pause5s: Trial | null;
  falseDeadVerdicts: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function logTime(a: GossipAgent, pred: (l: Record<string, unknown>) => boolean, since = 0): number | undefined {
  const l = a.proc.logs.find((x) => pred(x) && Date.parse(String(x.time)) >= since);
  return l ? Date.parse(String(l.time)) : undefined;
}

async function scrapeBytes(agents: GossipAgent[]): Promise<{ datagram: number; exchange: number; exchanges: number }> {
  const texts = await Promise.all(agents.map(async (a) => (await a.proc.admin('/metrics')).text));
  let datagram = 0;
  let exchange = 0;
  let exchanges = 0;
  for (const t of texts) {
    datagram += metricValue(t, 'weft_gossip_bytes_total', { direction: 'out', kind: 'datagram' });
    exchange += metricValue(t, 'weft_gossip_bytes_total', { direction: 'out', kind: 'exchange' });
    exchanges += metricValue(t, 'weft_gossip_exchanges_total', { direction: 'out' });
  }
  return { datagram, exchange, exchanges };
}

/** Detection of `victim` by every agent in `observers`, from their log lines after `since`. */
function detection(watch: ClusterWatch, observers: GossipAgent[], victim: GossipAgent, since: number): Omit<Trial, 'victim'> {
  const firstOf = (pred: (e: { event: string }) => boolean) => {
    const times = observers.map((o) => watch.events(o).find((e) => e.id === victim.id && e.time >= since && pred(e))?.time);
    return times;
  };
  const suspect = firstOf((e) => e.event === 'suspect' || e.event === 'fail');
  const dead = firstOf((e) => e.event === 'fail');
  const all = (ts: (number | undefined)[]) => (ts.every((t) => t !== undefined) ? Math.max(...(ts as number[])) - since : null);
  const defined = suspect.filter((t): t is number => t !== undefined);
  return { firstSuspectMs: defined.length ? Math.min(...defined) - since : null, suspectedByAllMs: all(suspect), deadByAllMs: all(dead) };
}

async function realCluster(n: number): Promise<RealResult> {
  const t0 = Date.now();
  // One replicated service per agent: push-pull carries a catalog of N entries, as in a real mesh.
  const agents = await startGossipCluster(n, {
    secret: TEST_SECRET,
    parallel: 10,
    namePrefix: `b${n}`,
    meshlets: { 'work.yaml': meshlet('default', 'bench', { provides: ['work'], uses: [] }) },
  });
  const startupMs = Date.now() - t0;
  const watch = new ClusterWatch(agents);
  const killed = new Set<string>();
  const stoppedWindows: { id: string; from: number; to: number }[] = [];
  try {
    const lastJoin = Math.max(...agents.map((a) => logTime(a, (l) => l.msg === 'gossip joined' || String(l.msg).startsWith('gossip started a new cluster')) ?? 0));
    await watch.until(() => watch.allSeeAll(), 60_000, `${n} agents to see all`);
    // Two readings of "all see all": every agent lists every other as a member (alive or suspect, as
    // memberlist's Members() counts), and every agent holds every other alive — which also waits for
    // the refutation of any suspicion raised while 100 processes start on two cores.
    const describe = (last: { observer: string; event: { id: string } } | undefined) =>
      last ? `${last.observer} about ${agents.find((a) => a.id === last.event.id)?.name}: ${watch.events(agents.find((a) => a.name === last.observer)!).filter((e) => e.id === last.event.id).map((e) => e.event).join(' → ')}` : '—';
    const since = (t: number | undefined) => (t === undefined ? null : Math.max(0, t - lastJoin));
    const member = watch.membershipEvent();
    const alive = watch.convergenceEvent();
    const allSeeAllMs = since(member?.event.time);
    const allAliveMs = since(alive?.event.time);
    const startupSuspicions = watch.observers.reduce((k, o) => k + watch.events(o).filter((e) => e.event === 'suspect').length, 0);
    console.log(`  N=${n}: started in ${(startupMs / 1000).toFixed(1)} s; all see all ${allSeeAllMs} ms after the last join (last change: ${describe(member)}); all alive ${allAliveMs} ms (last change: ${describe(alive)}); suspicions during the start ${startupSuspicions}`);

    // Steady state.
    await sleep(SETTLE_MS);
    const before = await scrapeBytes(agents);
    const w0 = Date.now();
    await sleep(WINDOW_MS);
    const after = await scrapeBytes(agents);
    const windowMs = Date.now() - w0;
    const perSec = (b: number) => Math.round((b / n / windowMs) * 1000 * 10) / 10;
    const dExchanges = after.exchanges - before.exchanges;
    const dExchangeBytes = after.exchange - before.exchange;
    // Each exchange is one request and one reply of about the same size (both sides' full state).
    const stateBytes = dExchanges > 0 ? Math.round(dExchangeBytes / dExchanges / 2) : null;
    const period = pushPullScale(WEFT_DEFAULTS.pushPullIntervalMs, n);
    const datagramBps = perSec(after.datagram - before.datagram);
    const steady = {
      windowMs,
      bytesPerMemberPerSec: perSec(after.datagram - before.datagram + dExchangeBytes),
      datagramBytesPerSec: datagramBps,
      exchangeBytesPerSec: perSec(dExchangeBytes),
      exchanges: dExchanges,
      pushPullStateBytes: stateBytes,
      // Each member starts one push-pull per period and answers one on average: 2 × (request + reply) / period.
      amortizedBytesPerSec: stateBytes === null ? null : Math.round((datagramBps + (2 * stateBytes * 1000) / period) * 10) / 10,
    };
    console.log(`  N=${n}: steady ${steady.bytesPerMemberPerSec} B/s per member over ${(windowMs / 1000).toFixed(0)} s (datagrams ${steady.datagramBytesPerSec}, exchanges ${steady.exchangeBytesPerSec} in ${dExchanges}; push-pull state ≈ ${stateBytes} B, amortized ${steady.amortizedBytesPerSec} B/s)`);

    // Broadcast: a new service on one agent reaches every catalog.
    const publisher = agents[1 % n]!;
    publisher.proc.writeMeshlet('news.yaml', meshlet('default', 'bcast', { provides: ['news'], uses: [] }));
    const b0 = Date.now();
    await publisher.proc.admin('/reload', 'POST');
    const published = logTime(publisher, (l) => l.msg === 'meshlets reloaded' && l.trigger === 'admin API', b0 - 1000) ?? b0;
    const others = agents.filter((a) => a !== publisher);
    const got = (a: GossipAgent) => logTime(a, (l) => l.msg === 'gossip catalog change' && l.serviceId === 'news.bcast.default' && l.change === 'upsert', b0 - 1000);
    await watch.until(() => others.every((a) => got(a) !== undefined), 15_000, 'the broadcast to reach all').catch(() => {});
    const times = others.map(got);
    const broadcastMs = times.every((t) => t !== undefined) ? Math.max(...(times as number[])) - published : null;
    console.log(`  N=${n}: broadcast reached all ${broadcastMs} ms after the publish`);

    const live = () => agents.filter((a) => !killed.has(a.id));
    // A different victim for each trial, never the seed or the publisher, spread over the start order.
    const used = new Set<GossipAgent>([agents[0]!, publisher]);
    const pickVictim = (k: number) => {
      const candidates = live().filter((a) => !used.has(a));
      const v = candidates[(k * 7 + 3) % candidates.length]!;
      used.add(v);
      return v;
    };

    const kill: Trial[] = [];
    for (let k = 0; k < 2; k++) {
      const victim = pickVictim(k);
      const observers = live().filter((a) => a !== victim);
      const since = Date.now();
      killed.add(victim.id);
      await victim.proc.stop('SIGKILL');
      watch.remove(victim);
      await watch.until(() => observers.every((o) => watch.state(o, victim.id) === 'dead'), DETECT_TIMEOUT_MS, 'all to declare the killed agent dead').catch(() => {});
      const d = detection(watch, observers, victim, since);
      kill.push({ victim: victim.name, ...d });
      console.log(`  N=${n}: SIGKILL ${victim.name}: first suspicion ${d.firstSuspectMs} ms, suspected by all ${d.suspectedByAllMs} ms, dead by all ${d.deadByAllMs} ms`);
      await sleep(1000);
    }

    const stop: Trial[] = [];
    for (let k = 0; k < 2; k++) {
      const victim = pickVictim(k + 2);
      const observers = live().filter((a) => a !== victim);
      const since = Date.now();
      process.kill(victim.pid, 'SIGSTOP');
      watch.remove(victim);
      await watch.until(() => observers.every((o) => watch.state(o, victim.id) === 'dead'), DETECT_TIMEOUT_MS, 'all to declare the stopped agent dead').catch(() => {});
      const d = detection(watch, observers, victim, since);
      process.kill(victim.pid, 'SIGCONT');
      const resumed = Date.now();
      stoppedWindows.push({ id: victim.id, from: since, to: resumed });
      watch.add(victim);
      await watch.until(() => observers.every((o) => watch.state(o, victim.id) === 'alive'), 20_000, 'the resumed agent to be alive again').catch(() => {
        const lagging = observers.filter((o) => watch.state(o, victim.id) !== 'alive').map((o) => `${o.name}: ${watch.state(o, victim.id)}`);
        console.log(`  N=${n}: after SIGCONT, ${lagging.length} agents do not see ${victim.name} alive within 20 s: ${lagging.slice(0, 10).join(', ')}`);
      });
      const back = observers.map((o) => watch.events(o).find((e) => e.id === victim.id && e.time >= resumed && (e.event === 'join' || e.event === 'alive'))?.time);
      const aliveAgainMs = back.every((t) => t !== undefined) ? Math.max(...(back as number[])) - resumed : null;
      stop.push({ victim: victim.name, ...d, aliveAgainMs });
      console.log(`  N=${n}: SIGSTOP ${victim.name}: first suspicion ${d.firstSuspectMs} ms, suspected by all ${d.suspectedByAllMs} ms, dead by all ${d.deadByAllMs} ms; after SIGCONT alive to all in ${aliveAgainMs} ms`);
      await sleep(1000);
    }

    // A 5 s stall: suspected, then refuted, never declared dead.
    let pause5s: Trial | null = null;
    {
      const victim = pickVictim(5);
      const observers = live().filter((a) => a !== victim);
      const since = Date.now();
      process.kill(victim.pid, 'SIGSTOP');
      await sleep(5000);
      process.kill(victim.pid, 'SIGCONT');
      await sleep(10_000);
      const d = detection(watch, observers, victim, since);
      const deadBy = observers.filter((o) => watch.events(o).some((e) => e.id === victim.id && e.time >= since && e.event === 'fail')).length;
      pause5s = { victim: victim.name, ...d, declaredDeadBy: deadBy };
      console.log(`  N=${n}: 5 s SIGSTOP ${victim.name}: suspected by all ${d.suspectedByAllMs} ms; declared dead by ${deadBy}`);
    }

    // False dead verdicts: 'fail' about a member that was neither killed nor inside a long stop.
    let falseDeadVerdicts = 0;
    for (const o of agents) {
      if (killed.has(o.id)) continue;
      for (const e of watch.events(o)) {
        if (e.event !== 'fail' || killed.has(e.id)) continue;
        if (stoppedWindows.some((w) => w.id === e.id && e.time >= w.from && e.time <= w.to)) continue;
        falseDeadVerdicts++;
      }
    }
    return { n, startupMs, allSeeAllMs, allAliveMs, startupSuspicions, steady, broadcastMs, kill, stop, pause5s, falseDeadVerdicts };
  } finally {
    await Promise.all(agents.map((a) => a.proc.stop('SIGKILL')));
  }
}

interface SimRow {
  n: number;
  profile: string;
  seeds: number[];
  /** Median and max over the seeds. */
  convergedMs: [number | null, number | null];
  suspectedByAllMs: [number | null, number | null];
  deadByAllMs: [number | null, number | null];
  falsePositives: number;
  /** From a separate converge run of 600 virtual s (membership state only: no catalog in the simulator). */
  steadyBytesPerMemberPerSec: number | null;
  /** Mean bytes each member sent over the whole run (the join included). */
  bytesPerMember: number | null;
  /** Virtual time simulated. */
  virtualMs: number | null;
  wallMs: number;
  rssMiB: number;
}

function medMax(xs: (number | null)[]): [number | null, number | null] {
  if (xs.some((x) => x === null)) return [null, null];
  const s = (xs as number[]).slice().sort((a, b) => a - b);
  return [s[Math.floor((s.length - 1) / 2)]!, s[s.length - 1]!];
}

async function simRow(n: number, profile: 'weft' | 'memberlist-lan', seeds: number[]): Promise<SimRow> {
  const membership = profile === 'weft' ? {} : MEMBERLIST_LAN;
  const t = performance.now();
  const joinWindowMs = n >= 5000 ? 5000 : 1000;
  const runs: SimReport[] = [];
  for (const seed of seeds) runs.push(await runScenario({ scenario: 'kill', members: n, seed, messageOverheadBytes: SEAL_OVERHEAD, membership, joinWindowMs }));
  const steady = n <= 1000 ? await runScenario({ scenario: 'converge', members: n, seed: seeds[0]!, messageOverheadBytes: SEAL_OVERHEAD, membership, durationMs: 600_000, joinWindowMs }) : null;
  return {
    n,
    profile,
    seeds,
    convergedMs: medMax(runs.map((r) => r.convergedMs)),
    suspectedByAllMs: medMax(runs.map((r) => r.detection?.suspectedByAllMs ?? null)),
    deadByAllMs: medMax(runs.map((r) => r.detection?.allMs ?? null)),
    falsePositives: runs.reduce((a, r) => a + r.falsePositives, 0),
    steadyBytesPerMemberPerSec: steady?.steadyBytesPerMemberPerSec ?? null,
    bytesPerMember: runs[0]?.bytesPerMember.mean ?? null,
    virtualMs: runs[0]?.virtualMs ?? null,
    wallMs: Math.round(performance.now() - t),
    rssMiB: Math.round(process.memoryUsage().rss / 1048576),
  };
}

/**
 * A large simulated cluster in its own process (`weft sim --json`), with room
 * for its heap and its peak RSS measured. Up to 2,000 members: the kill
 * scenario, joining within 1 s as in the tests. Larger: the converge
 * scenario, joining within 1 ms per member (10,000 in 10 s, all through
 * member 0) — a scenario parameter, not a protocol one (docs/simulator.md).
 */
async function simChild(n: number): Promise<SimRow> {
  const big = n > 2000;
  const window = big ? n : 1000;
  const args = ['--max-old-space-size=16000', '--max-semi-space-size=64', CLI, 'sim', '--scenario', big ? 'converge' : 'kill', '--members', String(n), '--seed', '1', '--join-window', String(window), '--overhead', String(SEAL_OVERHEAD), '--timeout', '10m', '--json'];
  const t = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) {
    console.log(`  weft sim --members ${n} exited with ${code}`);
    return { n, profile: 'weft', seeds: [1], convergedMs: [null, null], suspectedByAllMs: [null, null], deadByAllMs: [null, null], falsePositives: 0, steadyBytesPerMemberPerSec: null, bytesPerMember: null, virtualMs: null, wallMs: Math.round(performance.now() - t), rssMiB: 0 };
  }
  const { report: r, maxRssMiB } = JSON.parse(out) as { report: SimReport; wallMs: number; maxRssMiB: number };
  return {
    n,
    profile: 'weft',
    seeds: [1],
    convergedMs: [r.convergedMs, r.convergedMs],
    suspectedByAllMs: [r.detection?.suspectedByAllMs ?? null, r.detection?.suspectedByAllMs ?? null],
    deadByAllMs: [r.detection?.allMs ?? null, r.detection?.allMs ?? null],
    falsePositives: r.falsePositives,
    steadyBytesPerMemberPerSec: r.steadyBytesPerMemberPerSec,
    bytesPerMember: r.bytesPerMember.mean,
    virtualMs: r.virtualMs,
    wallMs: Math.round(performance.now() - t),
    rssMiB: maxRssMiB,
  };
}

const fmt = (v: number | null | undefined, unit = '') => (v === null || v === undefined ? '—' : `${Math.round(v)}${unit}`);

export async function run(): Promise<void> {
  // Children log catalog changes at debug level: the broadcast is timed from them.
  process.env.WEFT_LOG_LEVEL = 'debug';
  const scratch = mkdtempSync(`${tmpdir()}/weft-gossip-bench-`);
  const real: RealResult[] = [];
  try {
    for (const n of SIZES) {
      console.log(`real agents, N=${n}`);
      real.push(await realCluster(n));
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  if (real.length) {
    printGrid(
      'gossip: real agents on 127.0.0.1 (weft defaults; times in ms; B/s = sealed bytes sent per member)',
      ['N', 'all see all', 'all alive (start-up suspicions)', 'SIGKILL suspected by all', 'SIGKILL dead by all', 'SIGSTOP suspected by all', 'SIGSTOP dead by all', '5 s stall: dead by', 'false dead', 'steady B/s (window)', 'B/s amortized', 'broadcast to all'],
      real.map((r) => [
        String(r.n),
        fmt(r.allSeeAllMs),
        `${fmt(r.allAliveMs)} (${r.startupSuspicions})`,
        r.kill.map((t) => fmt(t.suspectedByAllMs)).join(' / '),
        r.kill.map((t) => fmt(t.deadByAllMs)).join(' / '),
        r.stop.map((t) => fmt(t.suspectedByAllMs)).join(' / '),
        r.stop.map((t) => fmt(t.deadByAllMs)).join(' / '),
        String(r.pause5s?.declaredDeadBy ?? '—'),
        String(r.falseDeadVerdicts),
        String(r.steady.bytesPerMemberPerSec),
        String(r.steady.amortizedBytesPerSec ?? '—'),
        fmt(r.broadcastMs),
      ]),
    );
  }

  const sim: SimRow[] = [];
  const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
  for (const n of [50, 100]) for (const p of ['weft', 'memberlist-lan'] as const) sim.push(await simRow(n, p, seeds));
  for (const n of SIM_SIZES) {
    console.log(`simulator, N=${n} (a child process: weft sim --scenario ${n > 2000 ? 'converge' : 'kill'} --members ${n}; WEFT_GOSSIP_BENCH_SIM= skips it)`);
    sim.push(await simChild(n));
  }
  const mm = ([m, x]: [number | null, number | null]) => (m === x ? fmt(m) : `${fmt(m)} (max ${fmt(x)})`);
  printGrid(
    'gossip: simulator (kill scenario, or converge above 2,000; median and max over seeds; 1 ms + exp(1 ms) latency, no loss; 50-byte sealing counted; steady B/s = membership only)',
    ['N', 'timings', 'seeds', 'all see all', 'suspected by all', 'dead by all', 'false dead', 'steady B/s', 'KB sent per member (run)', 'virtual s', 'wall ms', 'RSS MiB (peak for child runs)'],
    sim.map((r) => [
      String(r.n),
      r.profile,
      String(r.seeds.length),
      mm(r.convergedMs),
      mm(r.suspectedByAllMs),
      mm(r.deadByAllMs),
      String(r.falsePositives),
      String(r.steadyBytesPerMemberPerSec ?? '—'),
      r.bytesPerMember === null ? '—' : String(Math.round(r.bytesPerMember / 1000)),
      r.virtualMs === null ? '—' : (r.virtualMs / 1000).toFixed(1),
      String(r.wallMs),
      String(r.rssMiB),
    ]),
  );
  const file = writeResults('gossip', { defaults: WEFT_DEFAULTS, real, sim });
  console.log(`wrote ${file}`);
}
