// The `gossip:` section of the agent config. Absent → gossip off (a single-host
// agent needs none of it). Present → the agent joins a cluster: bind and
// advertised address, how to find the first peers (a static list and/or
// discovery providers), the cluster secret's file, a timing profile and
// per-field overrides. Validated like the rest of the config: every error names
// file, field and expectation. The secret itself is read at start, not here.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { createDiscovery, type DiscoveryConfig } from '../discovery/index.js';
import { FAST_DETECTION, resolveConfig, type MembershipConfig } from '../gossip/membership-config.js';
import { DEFAULT_GOSSIP_PORT, DEFAULT_JOIN_RETRY } from '../gossip/node.js';
import { WeftError } from '../errors.js';
import { durationMs } from '../config/duration.js';
import { FieldPath, duration, integer, isMapping, list, optionalMapping, string } from '../config/fields.js';

export type GossipProfile = 'lan' | 'fast';
export type MembershipTimings = Partial<Omit<MembershipConfig, 'name' | 'id' | 'meta'>>;

export interface GossipConfig {
  /** Member name shown to others (default: the host name). */
  readonly name: string;
  readonly bind: { readonly host: string; readonly port: number };
  readonly advertise?: { readonly host?: string; readonly port?: number };
  /** Absolute path of the secret file; undefined → WEFT_CLUSTER_SECRET. */
  readonly secretFile?: string;
  readonly join: {
    /** Discovery sources (join.addresses becomes a static one); empty = start a new cluster. */
    readonly discovery: readonly DiscoveryConfig[];
    readonly retryInitialMs: number;
    readonly retryMaxMs: number;
  };
  readonly profile: GossipProfile;
  /** The profile's preset with the explicit `timings` on top: what membership gets. */
  readonly membership: MembershipTimings;
  /** How often the agent re-checks the health of the endpoints it publishes. */
  readonly healthCheckMs: number;
}

const FIELDS = ['name', 'bind', 'advertise', 'secretFile', 'join', 'profile', 'timings', 'healthCheckInterval'] as const;

/** timings.<field> → membership option, and whether it is a duration. */
const TIMINGS: Record<string, { key: keyof MembershipTimings; kind: 'duration' | 'count'; min?: number; max?: number }> = {
  probeInterval: { key: 'probeIntervalMs', kind: 'duration' },
  probeTimeout: { key: 'probeTimeoutMs', kind: 'duration' },
  indirectChecks: { key: 'indirectChecks', kind: 'count', min: 0, max: 16 },
  suspicionMult: { key: 'suspicionMult', kind: 'count', min: 1, max: 100 },
  suspicionMaxTimeoutMult: { key: 'suspicionMaxTimeoutMult', kind: 'count', min: 1, max: 100 },
  retransmitMult: { key: 'retransmitMult', kind: 'count', min: 1, max: 100 },
  gossipInterval: { key: 'gossipIntervalMs', kind: 'duration' },
  gossipNodes: { key: 'gossipNodes', kind: 'count', min: 1, max: 64 },
  pushPullInterval: { key: 'pushPullIntervalMs', kind: 'duration' },
  viewDigestWindow: { key: 'viewDigestWindowMs', kind: 'duration' },
  deadReap: { key: 'deadReapMs', kind: 'duration' },
  leftReap: { key: 'leftReapMs', kind: 'duration' },
  leaveTimeout: { key: 'leaveTimeoutMs', kind: 'duration' },
  maxPacketBytes: { key: 'maxPacketBytes', kind: 'count', min: 512, max: 65_000 },
};

function hostPort(v: unknown, at: FieldPath, defaults: { host?: string; port?: number }): { host?: string; port?: number } {
  const m = optionalMapping(v, at, ['host', 'port']);
  const host = m.host === undefined ? defaults.host : string(m.host, at.key('host'));
  const port = m.port === undefined ? defaults.port : integer(m.port, at.key('port'), 0, 65535);
  return { ...(host !== undefined ? { host } : {}), ...(port !== undefined ? { port } : {}) };
}

/** Discovery entries from YAML; relative file paths resolve against the config file's directory. */
function discoveryEntries(v: unknown, at: FieldPath, baseDir: string): DiscoveryConfig[] {
  const entries = list(v, at).map((e, i) => {
    const eAt = at.index(i);
    if (!isMapping(e)) throw eAt.error('a mapping with one of the keys static, dns, file, kubernetes', e);
    if (isMapping(e.file) && typeof e.file.path === 'string') return { file: { ...e.file, path: resolve(baseDir, e.file.path) } } as DiscoveryConfig;
    return e as DiscoveryConfig;
  });
  return entries;
}

/** Parses `gossip:`; undefined when the section is absent (gossip off). */
export function parseGossipConfig(v: unknown, at: FieldPath, baseDir: string): GossipConfig | undefined {
  if (v === undefined || v === null) return undefined;
  const g = optionalMapping(v, at, FIELDS);

  const bind = hostPort(g.bind, at.key('bind'), { host: '127.0.0.1', port: DEFAULT_GOSSIP_PORT }) as { host: string; port: number };
  const advertise = g.advertise === undefined ? undefined : hostPort(g.advertise, at.key('advertise'), {});
  if ((bind.host === '0.0.0.0' || bind.host === '::') && advertise?.host === undefined) {
    throw at.key('advertise').key('host').error(`the address other agents reach this one at (required when bind.host is ${bind.host})`, undefined);
  }

  const jAt = at.key('join');
  const j = optionalMapping(g.join, jAt, ['addresses', 'discovery', 'retry']);
  const addresses = list(j.addresses, jAt.key('addresses')).map((a, i) => string(a, jAt.key('addresses').index(i)));
  const discovery: DiscoveryConfig[] = [...(addresses.length ? [{ static: addresses }] : []), ...discoveryEntries(j.discovery, jAt.key('discovery'), baseDir)];
  if (discovery.length) {
    try {
      createDiscovery(discovery); // validates only: providers do no I/O until asked
    } catch (e) {
      if (e instanceof WeftError) throw new WeftError('WEFT-A001', `${at.file}: ${jAt.path}: ${e.message}`, { file: at.file, field: jAt.path, discovery: e.code });
      throw e;
    }
  }
  const rAt = jAt.key('retry');
  const r = optionalMapping(j.retry, rAt, ['initial', 'max']);
  const retryInitialMs = durationMs(duration(r.initial, rAt.key('initial'), BigInt(DEFAULT_JOIN_RETRY.initialMs) * 1_000_000n, { allowZero: false }));
  const retryMaxMs = durationMs(duration(r.max, rAt.key('max'), BigInt(DEFAULT_JOIN_RETRY.maxMs) * 1_000_000n, { allowZero: false }));

  const profileAt = at.key('profile');
  const profile = string(g.profile, profileAt, 'lan');
  if (profile !== 'lan' && profile !== 'fast') throw profileAt.error('"lan" or "fast"', profile);

  const tAt = at.key('timings');
  const t = optionalMapping(g.timings, tAt, Object.keys(TIMINGS));
  const timings: MembershipTimings = {};
  for (const [field, spec] of Object.entries(TIMINGS)) {
    const value = t[field];
    if (value === undefined) continue;
    const fAt = tAt.key(field);
    const n = spec.kind === 'duration' ? durationMs(duration(value, fAt, undefined, { allowZero: false })) : integer(value, fAt, spec.min!, spec.max!);
    (timings as Record<string, number>)[spec.key] = n;
  }
  const membership: MembershipTimings = { ...(profile === 'fast' ? FAST_DETECTION : {}), ...timings };
  try {
    resolveConfig({ ...membership, name: 'check' });
  } catch (e) {
    throw tAt.error(`timings membership accepts (${(e as Error).message})`, g.timings ?? `the ${profile} profile`);
  }

  return {
    name: string(g.name, at.key('name'), hostname() || 'weft-agent'),
    bind,
    ...(advertise ? { advertise } : {}),
    ...(g.secretFile !== undefined ? { secretFile: resolve(baseDir, string(g.secretFile, at.key('secretFile'))) } : {}),
    join: { discovery, retryInitialMs, retryMaxMs },
    profile,
    membership,
    healthCheckMs: durationMs(duration(g.healthCheckInterval, at.key('healthCheckInterval'), 2_000_000_000n, { allowZero: false })),
  };
}
