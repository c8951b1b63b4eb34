// The `sync:` section of the agent config. Absent → no catalog events. Present →
// the agent runs a SyncEngine whose sinks are a file sink (`out: DIR`: the
// rotated YAML event log and the deduplicated snapshot) and/or a NATS sink
// (`nats:`). Validated like the rest of the config: every error names file,
// field and expectation (WEFT-A001).
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { durationMs } from '../config/duration.js';
import { FieldPath, duration, integer, isMapping, list, mapping, optionalMapping, string } from '../config/fields.js';
import { SUBJECT_TOKEN } from '../sync/events.js';
import type { JetStreamOptions } from '../sync/nats-sink.js';

export interface SyncNatsConfig {
  readonly servers: readonly string[];
  /** Subject token: subjects are weft.<cluster>.<kind>.<event>. */
  readonly cluster: string;
  /** false = core NATS; otherwise JetStream with these stream limits ({} = defaults). */
  readonly jetstream: false | JetStreamOptions;
  readonly maxBuffered: number;
  readonly reconnectWaitMs: number;
}

export interface SyncConfig {
  /** The agent name stamped on every event; undefined = the gossip name, else the host name. */
  readonly agent?: string;
  /** Absolute output directory of the file sink; undefined = no file sink. */
  readonly out?: string;
  readonly maxLogBytes: number;
  readonly keepLogs: number;
  readonly logStyle: 'block' | 'flow';
  readonly snapshotDebounceMs: number;
  readonly nats?: SyncNatsConfig;
}

const FIELDS = ['agent', 'out', 'maxLogBytes', 'keepLogs', 'logStyle', 'snapshotDebounce', 'nats'] as const;
const NATS_FIELDS = ['servers', 'cluster', 'jetstream', 'maxBuffered', 'reconnectWait'] as const;
const JETSTREAM_FIELDS = ['maxMsgs', 'maxBytes', 'maxAge', 'duplicateWindow', 'storage', 'replicas'] as const;

function token(v: unknown, at: FieldPath, fallback?: string): string {
  const s = string(v, at, fallback);
  if (!SUBJECT_TOKEN.test(s)) throw at.error('a name of 1-64 characters from A-Z a-z 0-9 _ - (it is a NATS subject token)', s);
  return s;
}

function jetstream(v: unknown, at: FieldPath): false | JetStreamOptions {
  if (v === undefined || v === false) return false;
  if (v === true) return {};
  if (!isMapping(v)) throw at.error('true, false, or a mapping of stream limits (maxMsgs, maxBytes, maxAge, duplicateWindow, storage, replicas)', v);
  const m = mapping(v, at, JETSTREAM_FIELDS);
  const ms = (k: 'maxAge' | 'duplicateWindow') => (m[k] === undefined ? undefined : durationMs(duration(m[k], at.key(k), undefined, { allowZero: false })));
  const storage = m.storage === undefined ? undefined : string(m.storage, at.key('storage'));
  if (storage !== undefined && storage !== 'file' && storage !== 'memory') throw at.key('storage').error('file or memory', storage);
  const out: JetStreamOptions = {};
  if (m.maxMsgs !== undefined) out.maxMsgs = integer(m.maxMsgs, at.key('maxMsgs'), 1, Number.MAX_SAFE_INTEGER);
  if (m.maxBytes !== undefined) out.maxBytes = integer(m.maxBytes, at.key('maxBytes'), 1, Number.MAX_SAFE_INTEGER);
  const maxAge = ms('maxAge');
  if (maxAge !== undefined) out.maxAgeMs = maxAge;
  const window = ms('duplicateWindow');
  if (window !== undefined) out.duplicateWindowMs = window;
  if (storage !== undefined) out.storage = storage;
  if (m.replicas !== undefined) out.replicas = integer(m.replicas, at.key('replicas'), 1, 5);
  return out;
}

function nats(v: unknown, at: FieldPath): SyncNatsConfig | undefined {
  if (v === undefined || v === null) return undefined;
  const m = mapping(v, at, NATS_FIELDS);
  const sAt = at.key('servers');
  const raw = typeof m.servers === 'string' ? [m.servers] : list(m.servers, sAt, false);
  const servers = raw.map((s, i) => string(s, typeof m.servers === 'string' ? sAt : sAt.index(i)));
  if (servers.length === 0) throw sAt.error('at least one NATS URL such as nats://127.0.0.1:4222', m.servers);
  return {
    servers,
    cluster: token(m.cluster, at.key('cluster')),
    jetstream: jetstream(m.jetstream, at.key('jetstream')),
    maxBuffered: integer(m.maxBuffered, at.key('maxBuffered'), 2, 100_000_000, 10_000),
    reconnectWaitMs: durationMs(duration(m.reconnectWait, at.key('reconnectWait'), 1_000_000_000n, { allowZero: false })),
  };
}

/** Parses `sync:`; undefined when the section is absent. `baseDir` resolves a relative `out`. */
export function parseSyncConfig(v: unknown, at: FieldPath, baseDir: string): SyncConfig | undefined {
  if (v === undefined || v === null) return undefined;
  const m = optionalMapping(v, at, FIELDS);
  const out = m.out === undefined ? undefined : resolve(baseDir, string(m.out, at.key('out')));
  const natsConfig = nats(m.nats, at.key('nats'));
  if (out === undefined && natsConfig === undefined) throw at.error('out: DIR (file sink) and/or nats: {servers, cluster} (NATS sink)', v);
  const logStyle = string(m.logStyle, at.key('logStyle'), 'block');
  if (logStyle !== 'block' && logStyle !== 'flow') throw at.key('logStyle').error('block or flow', logStyle);
  return {
    ...(m.agent !== undefined ? { agent: token(m.agent, at.key('agent')) } : {}),
    ...(out !== undefined ? { out } : {}),
    maxLogBytes: integer(m.maxLogBytes, at.key('maxLogBytes'), 1024, Number.MAX_SAFE_INTEGER, 16 * 1024 * 1024),
    keepLogs: integer(m.keepLogs, at.key('keepLogs'), 0, 1000, 5),
    logStyle,
    snapshotDebounceMs: durationMs(duration(m.snapshotDebounce, at.key('snapshotDebounce'), 1_000_000_000n, { allowZero: false })),
    ...(natsConfig ? { nats: natsConfig } : {}),
  };
}

/** The host name as a subject token (the default agent name). */
export function hostToken(): string {
  return hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64) || 'weft';
}
