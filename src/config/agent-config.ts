// The agent config (YAML): socket root and permissions, admin address, where the
// meshlets are, limits and timeouts. Every field has a safe default; with no file
// at all the embedded default (default-config.ts) is used.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { WeftError } from '../errors.js';
import { durationMs, formatDuration } from './duration.js';
import { FieldPath, boolean, duration, integer, list, mapping, optionalMapping, string } from './fields.js';
import { parseMeshlet, type MeshletSpec } from './meshlet.js';
import { lookupGroup, lookupUser } from './system-ids.js';
import { parseProxyConfig, type ProxyConfig } from '../proxy/config.js';
import { parseGossipConfig, type GossipConfig } from '../agent/gossip-config.js';
import { parseTunnelConfig, type TunnelConfig } from './tunnel-config.js';
import { parseSyncConfig, type SyncConfig } from '../agent/sync-config.js';

export const AGENT_CONFIG_KIND = 'AgentConfig';

export interface AgentConfig {
  /** Absolute path of the file read, or "(embedded default)". */
  readonly source: string;
  /** Absolute socket root; meshlet instance directories live under it. */
  readonly socketRoot: string;
  readonly sockets: {
    /** uid to chown socket files and directories to; undefined = leave as created. */
    readonly uid?: number;
    readonly gid?: number;
    /** Mode of client/meshless (default 0o660). */
    readonly mode: number;
    /** Mode of the instance, server/ and client/ directories (default 0o770). */
    readonly dirMode: number;
  };
  readonly admin: { readonly host: string; readonly port: number };
  readonly meshlets: {
    /** Absolute files or directories. */
    readonly paths: readonly string[];
    readonly inline: readonly MeshletSpec[];
    readonly watch: boolean;
    readonly debounceMs: number;
  };
  readonly limits: { readonly maxConnections: number; readonly maxPendingHandshakes: number };
  readonly timeouts: {
    readonly handshakeMs: number;
    readonly connectMs: number;
    readonly drainMs: number;
    /** Default idleTimeout (ns) of meshlets that omit it. */
    readonly idleNs: bigint;
  };
  /** Service IDs the agent serves itself with a byte echo (the sample meshlet). */
  readonly demoEcho: readonly string[];
  /** The sidecar HTTP proxy (`proxy:`; off without the section or the CLI flags). */
  readonly proxy: ProxyConfig;
  /** Cluster membership and the service catalog; undefined = gossip off (docs/gossip.md). */
  readonly gossip?: GossipConfig;
  /** Tunnels to other agents (tunnel-config.ts); undefined = disabled. */
  readonly tunnel?: TunnelConfig;
  /** Catalog change events to files and/or NATS (`sync:`; undefined = off, docs/sync.md). */
  readonly sync?: SyncConfig;
  /** The config as written, for /config (redacted there). */
  readonly raw: unknown;
}

const TOP_FIELDS = ['apiVersion', 'kind', 'socketRoot', 'sockets', 'admin', 'meshlets', 'limits', 'timeouts', 'demoEcho', 'proxy', 'gossip', 'tunnel', 'sync'] as const;

function fileMode(v: unknown, at: FieldPath, fallback: number): number {
  if (v === undefined) return fallback;
  const expected = 'an octal mode string such as "0660" (quote it: YAML reads 0660 as decimal)';
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0o777) return v;
  if (typeof v === 'string' && /^(0o?)?[0-7]{1,3}$/.test(v)) return parseInt(v.replace(/^0o?/, '') || '0', 8);
  throw at.error(expected, v);
}

function principal(v: unknown, at: FieldPath, lookup: (name: string) => number | undefined, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  if (typeof v === 'string' && v !== '') {
    const id = lookup(v);
    if (id === undefined) throw at.error(`a numeric id or a ${what} name known to this host`, v);
    return id;
  }
  throw at.error(`a numeric id or a ${what} name`, v);
}

/** Validates a parsed agent config document; `baseDir` resolves relative paths. */
export function parseAgentConfig(doc: unknown, source: string, baseDir: string): AgentConfig {
  const at = new FieldPath(source, '');
  const top = doc === null || doc === undefined ? {} : mapping(doc, at, TOP_FIELDS);
  if (top.kind !== undefined && top.kind !== AGENT_CONFIG_KIND) throw at.key('kind').error(JSON.stringify(AGENT_CONFIG_KIND), top.kind);

  const socketRoot = resolve(baseDir, string(top.socketRoot, at.key('socketRoot'), './.weft/sockets'));

  const sAt = at.key('sockets');
  const s = optionalMapping(top.sockets, sAt, ['owner', 'group', 'mode', 'dirMode']);
  const uid = principal(s.owner, sAt.key('owner'), lookupUser, 'user');
  const gid = principal(s.group, sAt.key('group'), lookupGroup, 'group');

  const aAt = at.key('admin');
  const a = optionalMapping(top.admin, aAt, ['host', 'port']);

  const tAt = at.key('timeouts');
  const t = optionalMapping(top.timeouts, tAt, ['handshake', 'connect', 'drain', 'idle']);
  const timeouts = {
    handshakeMs: durationMs(duration(t.handshake, tAt.key('handshake'), 5_000_000_000n, { allowZero: false })),
    connectMs: durationMs(duration(t.connect, tAt.key('connect'), 2_000_000_000n, { allowZero: false })),
    drainMs: durationMs(duration(t.drain, tAt.key('drain'), 20_000_000_000n, { allowZero: true })),
    idleNs: duration(t.idle, tAt.key('idle'), 3_600_000_000_000n, { allowZero: true }),
  };

  const lAt = at.key('limits');
  const l = optionalMapping(top.limits, lAt, ['maxConnections', 'maxPendingHandshakes']);

  const mAt = at.key('meshlets');
  const m = optionalMapping(top.meshlets, mAt, ['paths', 'inline', 'watch', 'debounce']);
  const paths = list(m.paths, mAt.key('paths')).map((p, i) => resolve(baseDir, string(p, mAt.key('paths').index(i))));
  const inline = list(m.inline, mAt.key('inline')).map((doc, i) => parseMeshlet(doc, mAt.key('inline').index(i), { idleTimeoutNs: timeouts.idleNs }));

  const demoEcho = list(top.demoEcho, at.key('demoEcho')).map((v, i) => string(v, at.key('demoEcho').index(i)));
  const gossip = parseGossipConfig(top.gossip, at.key('gossip'), baseDir);
  const tunnel = parseTunnelConfig(top.tunnel, at.key('tunnel'), baseDir);
  const sync = parseSyncConfig(top.sync, at.key('sync'), baseDir);

  return {
    source,
    socketRoot,
    sockets: {
      ...(uid !== undefined ? { uid } : {}),
      ...(gid !== undefined ? { gid } : {}),
      mode: fileMode(s.mode, sAt.key('mode'), 0o660),
      dirMode: fileMode(s.dirMode, sAt.key('dirMode'), 0o770),
    },
    admin: {
      host: string(a.host, aAt.key('host'), '127.0.0.1'),
      port: integer(a.port, aAt.key('port'), 0, 65535, 9901),
    },
    meshlets: {
      paths,
      inline,
      watch: boolean(m.watch, mAt.key('watch'), true),
      debounceMs: durationMs(duration(m.debounce, mAt.key('debounce'), 200_000_000n, { allowZero: true })),
    },
    limits: {
      maxConnections: integer(l.maxConnections, lAt.key('maxConnections'), 1, 10_000_000, 10_000),
      maxPendingHandshakes: integer(l.maxPendingHandshakes, lAt.key('maxPendingHandshakes'), 1, 10_000_000, 1_024),
    },
    timeouts,
    demoEcho,
    proxy: parseProxyConfig(top.proxy, at.key('proxy'), baseDir),
    ...(gossip ? { gossip } : {}),
    ...(tunnel ? { tunnel } : {}),
    ...(sync ? { sync } : {}),
    raw: doc ?? {},
  };
}

/** Reads and validates an agent config file. */
export function loadAgentConfig(file: string): AgentConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (e) {
    throw new WeftError('WEFT-A002', `${abs}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { file: abs });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    if (e instanceof YAMLParseError) {
      throw new WeftError('WEFT-A001', `${abs}: not valid YAML: ${e.message.split('\n')[0]}`, { file: abs, expected: 'valid YAML' });
    }
    throw e;
  }
  return parseAgentConfig(doc, abs, dirname(abs));
}

/** A human summary of the timeouts, for the banner. */
export function describeTimeouts(c: AgentConfig): string {
  const ms = (n: number) => formatDuration(BigInt(n) * 1_000_000n);
  return `handshake ${ms(c.timeouts.handshakeMs)}, connect ${ms(c.timeouts.connectMs)}, drain ${ms(c.timeouts.drainMs)}, default idle ${formatDuration(c.timeouts.idleNs)}`;
}
