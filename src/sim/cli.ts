// `weft sim`: runs one simulator scenario and prints its report.
//   weft sim --members 1000 --seed 42 --loss 0.1 --duration 1h --scenario converge|partition|pause|kill [--json]

import { FAST_DETECTION, MEMBERLIST_LAN } from '../gossip/membership-config.js';
import { runScenario, type ScenarioName, type ScenarioOptions } from './scenario.js';

const SCENARIOS: readonly ScenarioName[] = ['converge', 'partition', 'pause', 'kill'];

const USAGE = `usage: weft sim [--scenario converge|partition|pause|kill] [--members N] [--seed S]
                [--loss 0..1] [--latency MS] [--jitter MS] [--duration 1h|90s|500ms]
                [--join-window DUR] [--partition DUR] [--pause DUR] [--profile lan|fast|memberlist]
                [--overhead BYTES] [--timeout DUR] [--progress] [--json]`;

/** Go-style durations: 1h30m, 90s, 250ms, or a plain number of milliseconds. */
export function parseDuration(s: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/y;
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  let i = 0;
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * unit[m[2]];
    i = re.lastIndex;
  }
  return s.length ? total : undefined;
}

export interface SimCliArgs {
  options: ScenarioOptions;
  json: boolean;
  profile: string;
  /** Print progress to stderr every 250,000 events. */
  progress: boolean;
}

/** Parses the flags; a string is an error message. */
export function parseSimArgs(argv: string[]): SimCliArgs | string {
  const o: ScenarioOptions = { scenario: 'converge', members: 50, seed: 1 };
  let json = false;
  let latency = 1;
  let jitter = 1;
  let profile = 'lan';
  let progress = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--json') {
      json = true;
      continue;
    }
    if (flag === '--progress') {
      progress = true;
      continue;
    }
    if (flag === '--help' || flag === '-h') return USAGE;
    const v = argv[++i];
    if (v === undefined) return `${flag} needs a value\n${USAGE}`;
    const num = Number(v);
    const dur = parseDuration(v);
    switch (flag) {
      case '--profile':
        if (v !== 'lan' && v !== 'fast' && v !== 'memberlist') return `unknown profile ${v}\n${USAGE}`;
        o.membership = v === 'fast' ? { ...FAST_DETECTION } : v === 'memberlist' ? { ...MEMBERLIST_LAN } : undefined;
        if (!o.membership) delete o.membership;
        profile = v;
        break;
      case '--scenario':
        if (!SCENARIOS.includes(v as ScenarioName)) return `unknown scenario ${v}\n${USAGE}`;
        o.scenario = v as ScenarioName;
        break;
      case '--overhead':
        if (!Number.isInteger(num) || num < 0) return '--overhead must be an integer >= 0 (bytes per message; 50 = sealed)';
        o.messageOverheadBytes = num;
        break;
      case '--members':
        if (!Number.isInteger(num) || num < 2) return '--members must be an integer >= 2';
        o.members = num;
        break;
      case '--seed':
        if (!Number.isInteger(num) || num < 0) return '--seed must be a non-negative integer';
        o.seed = num >>> 0;
        break;
      case '--loss':
        if (!(num >= 0 && num < 1)) return '--loss must be in [0, 1)';
        o.loss = num;
        break;
      case '--latency':
      case '--jitter':
        if (!(num >= 0)) return `${flag} must be >= 0 (ms)`;
        if (flag === '--latency') latency = num;
        else jitter = num;
        break;
      case '--timeout':
        if (dur === undefined || dur <= 0) return `${flag}: bad duration ${v}`;
        o.convergeTimeoutMs = dur;
        break;
      case '--duration':
      case '--join-window':
      case '--partition':
      case '--pause':
        if (dur === undefined) return `${flag}: bad duration ${v}`;
        if (flag === '--duration') o.durationMs = dur;
        else if (flag === '--join-window') o.joinWindowMs = dur;
        else if (flag === '--partition') o.partitionMs = dur;
        else o.pauseMs = dur;
        break;
      default:
        return `unknown flag ${flag}\n${USAGE}`;
    }
  }
  o.latency = { baseMs: latency, jitterMs: jitter };
  return { options: o, json, profile, progress };
}

function ms(x: number | null): string {
  return x === null ? 'never' : `${(x / 1000).toFixed(2)} s`;
}

export async function runSimCommand(argv: string[]): Promise<number> {
  const parsed = parseSimArgs(argv);
  if (typeof parsed === 'string') {
    const help = parsed === USAGE;
    (help ? console.log : console.error)(parsed);
    return help ? 0 : 2;
  }
  const t0 = performance.now();
  if (parsed.progress) {
    // To stderr, so --json output stays parseable.
    parsed.options.onProgress = (p) => {
      const pairs = p.liveMembers * (p.liveMembers - 1);
      const seen = pairs > 0 ? ((100 * p.seenPairs) / pairs).toFixed(3) : '0';
      const wall = ((performance.now() - t0) / 1000).toFixed(0);
      const rss = Math.round(process.memoryUsage().rss / 1048576);
      console.error(`  virtual ${(p.virtualMs / 1000).toFixed(1)} s, ${p.events} events, ${p.liveMembers} live, ${seen}% of pairs seen; wall ${wall} s, RSS ${rss} MiB`);
    };
  }
  const r = await runScenario(parsed.options);
  const wallMs = performance.now() - t0;
  if (parsed.json) {
    const maxRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
    console.log(JSON.stringify({ report: r, wallMs: Math.round(wallMs), maxRssMiB }, null, 2));
    return 0;
  }
  const lines = [
    `scenario        ${r.scenario}  members ${r.members}  seed ${r.seed}  loss ${r.loss}  profile ${parsed.profile}`,
    `converged       ${ms(r.convergedMs)}`,
  ];
  if (r.detection) lines.push(`detected        suspected by all ${ms(r.detection.suspectedByAllMs)}; dead: first ${ms(r.detection.firstMs)}, all ${ms(r.detection.allMs)}`);
  if (r.scenario === 'partition') lines.push(`healed, all see all after ${ms(r.healConvergedMs)}`);
  if (r.pause) {
    lines.push(`paused member   suspected by ${r.pause.suspectedBy} (by all after ${ms(r.pause.suspectedByAllMs)}), declared dead by ${r.pause.declaredDeadBy}, alive to all at end: ${r.pause.seenAliveByAllAtEnd}`);
  }
  lines.push(
    `false positives ${r.falsePositives}`,
    `bytes/member    mean ${r.bytesPerMember.mean}, max ${r.bytesPerMember.max}` +
      (r.steadyBytesPerMemberPerSec === null ? '' : `; steady ${r.steadyBytesPerMemberPerSec} B/s`),
    `virtual time    ${ms(r.virtualMs)}, ${r.events} events, wall ${(wallMs / 1000).toFixed(2)} s, peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`,
    `replay with     weft sim ${argv.join(' ')}`,
  );
  console.log(lines.join('\n'));
  return 0;
}
