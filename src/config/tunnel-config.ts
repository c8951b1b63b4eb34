// The agent config's `tunnel:` section: where this agent listens for other
// agents, its identity file, the cluster secret (a file, or WEFT_CLUSTER_SECRET;
// required to enable tunnels; never read into the config object, never logged),
// pinned keys, static peers with the services they serve, relay routes, limits
// and timeouts. docs/tunnel.md ("Agent configuration") documents every field.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { WeftError } from '../errors.js';
import { isServiceId } from '../sdk/service-id.js';
import { AEAD_ENGINE_CHOICES, type AeadEngineChoice } from '../tunnel/aead-engine.js';
import { parsePublicKey, formatPublicKey } from '../tunnel/identity.js';
import { DEFAULT_AEAD_ENGINE } from '../tunnel/options.js';
import { durationMs } from './duration.js';
import { FieldPath, boolean, duration, integer, isMapping, list, mapping, optionalMapping, string } from './fields.js';

export const CLUSTER_SECRET_ENV = 'WEFT_CLUSTER_SECRET';

export interface TunnelServiceConfig {
  readonly id: string;
  readonly version: string;
  readonly weight: number;
}

export interface TunnelPeerConfig {
  readonly name: string;
  /** host:port of its tunnel listener; absent = reachable only through a route. */
  readonly address?: string;
  /** Base64 X25519 key: pins dials to it; required to relay to it. */
  readonly publicKey?: string;
  readonly services: readonly TunnelServiceConfig[];
}

export interface TunnelConfig {
  /** This agent's name in handshakes, peer lists and routes. */
  readonly name: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly identityFile: string;
  /** Absolute path of the cluster secret file; undefined = the WEFT_CLUSTER_SECRET environment variable. */
  readonly secretFile?: string;
  readonly pinnedKeys: readonly string[];
  readonly peers: readonly TunnelPeerConfig[];
  /** Target peer name → the peer name to relay through. */
  readonly routes: Readonly<Record<string, string>>;
  readonly relay: { readonly enabled: boolean; readonly maxStreams: number; readonly maxStreamsPerPeer: number };
  readonly timeouts: {
    readonly handshakeMs: number;
    readonly dialMs: number;
    readonly keepaliveMs: number;
    readonly keepaliveTimeoutMs: number;
    readonly idleCloseMs: number;
  };
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly limits: { readonly maxStreamsPerSession: number; readonly maxPendingHandshakes: number };
  /** Which ChaCha20-Poly1305 seals and opens records: auto (by record size), wasm or native (docs/tunnel.md). */
  readonly aead: AeadEngineChoice;
}

const DNS_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function peerName(v: unknown, at: FieldPath): string {
  const s = string(v, at);
  if (!DNS_NAME.test(s)) throw at.error('a peer name: a DNS label (a-z, 0-9, "-")', v);
  return s;
}

function hostPort(v: unknown, at: FieldPath): { host: string; port: number } {
  const s = string(v, at);
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  if (!m || Number(m[3]) > 65535) throw at.error('host:port (IPv6 in brackets; port 0 = any free port)', v);
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}

function publicKey(v: unknown, at: FieldPath): string {
  const s = string(v, at);
  const k = parsePublicKey(s);
  if (!k || k.length !== 32) throw at.error('an X25519 public key, base64 or hex (as `weft id` prints it)', v);
  return formatPublicKey(k);
}

function service(v: unknown, at: FieldPath): TunnelServiceConfig {
  if (typeof v === 'string') {
    if (!isServiceId(v)) throw at.error('a service ID <service>.<meshlet>.<ns>', v);
    return { id: v, version: 'main', weight: 100 };
  }
  const m = mapping(v, at, ['id', 'version', 'weight']);
  const id = string(m.id, at.key('id'));
  if (!isServiceId(id)) throw at.key('id').error('a service ID <service>.<meshlet>.<ns>', id);
  return { id, version: string(m.version, at.key('version'), 'main'), weight: integer(m.weight, at.key('weight'), 0, 10_000, 100) };
}

/** Parses `tunnel:`; undefined when the section is absent (tunnels disabled). */
export function parseTunnelConfig(v: unknown, at: FieldPath, baseDir: string): TunnelConfig | undefined {
  if (v === undefined || v === null) return undefined;
  const t = mapping(v, at, ['name', 'listen', 'identityFile', 'secretFile', 'pinnedKeys', 'peers', 'routes', 'relay', 'timeouts', 'backoff', 'limits', 'aead']);
  const secretFile = t.secretFile === undefined ? undefined : resolve(baseDir, string(t.secretFile, at.key('secretFile')));
  const name = t.name === undefined ? hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 63).replace(/^-+|-+$/g, '') || 'agent' : peerName(t.name, at.key('name'));

  const pAt = at.key('peers');
  const peers = list(t.peers, pAt).map((pv, i): TunnelPeerConfig => {
    const at_ = pAt.index(i);
    const p = mapping(pv, at_, ['name', 'address', 'publicKey', 'services']);
    const address = p.address === undefined ? undefined : string(p.address, at_.key('address'));
    if (address !== undefined) hostPort(address, at_.key('address'));
    return {
      name: peerName(p.name, at_.key('name')),
      ...(address !== undefined ? { address } : {}),
      ...(p.publicKey !== undefined ? { publicKey: publicKey(p.publicKey, at_.key('publicKey')) } : {}),
      services: list(p.services, at_.key('services')).map((s, k) => service(s, at_.key('services').index(k))),
    };
  });
  const names = new Set<string>();
  peers.forEach((p, i) => {
    if (p.name === name) throw pAt.index(i).key('name').error(`a name other than this agent's own (${name})`, p.name);
    if (names.has(p.name)) throw pAt.index(i).key('name').error('a name not used by another peer', p.name);
    names.add(p.name);
  });

  const rAt = at.key('routes');
  const routes: Record<string, string> = {};
  if (t.routes !== undefined && t.routes !== null) {
    if (!isMapping(t.routes)) throw rAt.error('a mapping of target peer → relay peer', t.routes);
    for (const [target, via] of Object.entries(t.routes)) {
      const tp = peers.find((p) => p.name === target);
      if (!tp) throw rAt.key(target).error('a route whose target is a peer listed in tunnel.peers', target);
      if (!tp.publicKey) throw rAt.key(target).error(`peer ${target} to have a publicKey (the relayed session is pinned to it, so the relay cannot read it)`, target);
      const v_ = peerName(via, rAt.key(target));
      const vp = peers.find((p) => p.name === v_);
      if (!vp || !vp.address) throw rAt.key(target).error('a relay peer listed in tunnel.peers with an address', via);
      routes[target] = v_;
    }
  }

  const relAt = at.key('relay');
  const rel = optionalMapping(t.relay, relAt, ['enabled', 'maxStreams', 'maxStreamsPerPeer']);
  const toAt = at.key('timeouts');
  const to = optionalMapping(t.timeouts, toAt, ['handshake', 'dial', 'keepalive', 'keepaliveTimeout', 'idleClose']);
  const bAt = at.key('backoff');
  const b = optionalMapping(t.backoff, bAt, ['initial', 'max']);
  const lAt = at.key('limits');
  const l = optionalMapping(t.limits, lAt, ['maxStreamsPerSession', 'maxPendingHandshakes']);
  const ms = (x: unknown, a: FieldPath, def: bigint, allowZero = false) => durationMs(duration(x, a, def, { allowZero }));
  const S = 1_000_000_000n;
  const aead = string(t.aead, at.key('aead'), DEFAULT_AEAD_ENGINE) as AeadEngineChoice;
  if (!AEAD_ENGINE_CHOICES.includes(aead)) throw at.key('aead').error('auto, wasm or native', t.aead);
  return {
    name,
    listen: hostPort(t.listen ?? '127.0.0.1:0', at.key('listen')),
    identityFile: resolve(baseDir, string(t.identityFile, at.key('identityFile'), './.weft/identity.json')),
    ...(secretFile !== undefined ? { secretFile } : {}),
    pinnedKeys: list(t.pinnedKeys, at.key('pinnedKeys')).map((k, i) => publicKey(k, at.key('pinnedKeys').index(i))),
    peers,
    routes,
    relay: {
      enabled: boolean(rel.enabled, relAt.key('enabled'), true),
      maxStreams: integer(rel.maxStreams, relAt.key('maxStreams'), 0, 1_000_000, 256),
      maxStreamsPerPeer: integer(rel.maxStreamsPerPeer, relAt.key('maxStreamsPerPeer'), 0, 1_000_000, 64),
    },
    timeouts: {
      handshakeMs: ms(to.handshake, toAt.key('handshake'), 10n * S),
      dialMs: ms(to.dial, toAt.key('dial'), 5n * S),
      keepaliveMs: ms(to.keepalive, toAt.key('keepalive'), 15n * S),
      keepaliveTimeoutMs: ms(to.keepaliveTimeout, toAt.key('keepaliveTimeout'), 10n * S),
      idleCloseMs: ms(to.idleClose, toAt.key('idleClose'), 300n * S, true),
    },
    backoff: {
      initialMs: ms(b.initial, bAt.key('initial'), 200_000_000n),
      maxMs: ms(b.max, bAt.key('max'), 10n * S),
    },
    limits: {
      maxStreamsPerSession: integer(l.maxStreamsPerSession, lAt.key('maxStreamsPerSession'), 1, 1 << 20, 16_384),
      maxPendingHandshakes: integer(l.maxPendingHandshakes, lAt.key('maxPendingHandshakes'), 1, 1_000_000, 128),
    },
    aead,
  };
}

/** Reads the cluster secret (file, else WEFT_CLUSTER_SECRET). The value is returned, never logged. */
export function readClusterSecret(c: TunnelConfig): Uint8Array {
  if (c.secretFile !== undefined) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(c.secretFile);
    } catch (e) {
      throw new WeftError('WEFT-A002', `tunnel.secretFile ${c.secretFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { file: c.secretFile });
    }
    // A trailing newline from `echo secret > file` is not part of the secret.
    let end = bytes.length;
    while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
    if (end === 0) throw new WeftError('WEFT-A001', `tunnel.secretFile ${c.secretFile} is empty`, { file: c.secretFile });
    return new Uint8Array(bytes.subarray(0, end));
  }
  const env = process.env[CLUSTER_SECRET_ENV];
  if (!env) {
    throw new WeftError('WEFT-A001', `tunnel: no cluster secret: set tunnel.secretFile or the environment variable ${CLUSTER_SECRET_ENV} (required to enable tunnels)`, {
      field: 'tunnel.secretFile',
    });
  }
  return new TextEncoder().encode(env);
}
