// TunnelPeers: the connections of one agent to the other agents.
//
// - One session per agent pair. A peer is known by name (config, catalog) and,
//   once it has completed a handshake, by its static key. When two sessions to
//   the same key exist (both agents dialled at once, or a direct one appears
//   beside a relayed one), both sides keep the same one by a rule they compute
//   alike: a direct session beats a relayed one, then the session whose
//   initiator has the lower public key wins; the other is closed with GOAWAY
//   (streams already on it finish).
// - Dials are on demand and shared by concurrent callers. A failed dial puts the
//   peer in backoff (exponential, with jitter, capped); a session lost to an
//   error is re-dialled in the background with the same backoff, for peers that
//   have an address or a route. A session with no streams for idleCloseMs is
//   closed gracefully.
// - Relays (relay.ts): a peer with `via` is reached through that peer when it has
//   no address or its direct dial failed; as the middle hop, streams naming
//   another agent are spliced onto a direct session to it, bounded in number.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { WeftError } from '../errors.js';
import { TunnelErrorCode } from '../kernel/frame.js';
import { runHandshake, type Role } from './handshake.js';
import { formatPublicKey, parsePublicKey, type Identity } from './identity.js';
import { resolveOptions, type TunnelOptions, type TunnelSettings } from './options.js';
import { RELAY_SOURCE, relayServiceId, relayTarget, isRelayService, spliceStreams } from './relay.js';
import { TunnelSession } from './session.js';
import type { StreamInfo, TunnelStream } from './stream.js';

export interface PeerSpec {
  /** How routes and endpoints name the peer (agent name). */
  name: string;
  /** host:port of its tunnel listener, for direct dials. */
  address?: string;
  /** Its static public key (base64 or hex): pins direct dials and is required to relay to it. */
  publicKey?: string;
  /** Name of the peer to relay through when there is no address or the direct dial fails. */
  via?: string;
}

export type PeerState = 'connected' | 'connecting' | 'backoff' | 'idle';
export type SessionPath = 'direct' | 'inbound' | `via ${string}` | `relayed-in via ${string}`;

export interface PeerTotals {
  sessions: number;
  bytesSent: number;
  bytesReceived: number;
  recordsSent: number;
  recordsReceived: number;
  rekeys: number;
  streamsOpened: number;
  streamsAccepted: number;
}

export interface PeerView extends PeerTotals {
  name: string;
  key: string | null;
  address: string | null;
  via: string | null;
  configured: boolean;
  state: PeerState;
  path: SessionPath | null;
  role: Role | null;
  agentId: string | null;
  streams: number;
  rttMs: number | null;
  connectedForMs: number | null;
  failures: number;
  retryInMs: number | null;
  lastError: Record<string, unknown> | null;
}

export interface RelayLimits {
  /** Forward streams for other agents (this agent as the middle hop). */
  enabled: boolean;
  /** Relayed streams through this agent at once. */
  maxStreams: number;
  /** Relayed streams at once arriving on one session (one neighbour). */
  maxStreamsPerSession: number;
}

export type PeerStreamHandler = (stream: TunnelStream, info: StreamInfo, peer: { name: string; key: string }) => void | Promise<void>;

export interface TunnelPeersOptions {
  identity: Identity;
  /** The cluster secret. */
  psk: Uint8Array | string;
  /** Only these static keys (base64/hex) may complete a handshake, either way. */
  pinnedKeys?: readonly string[];
  /** This agent's name, announced in the handshake. */
  agentId: string;
  /** Session knobs (windows, keepalive, rekey, limits): TunnelOptions without identity/psk. */
  session?: Omit<Partial<TunnelOptions>, 'identity' | 'psk' | 'onStream' | 'pinnedKeys' | 'agentId'>;
  /** A stream a peer opened to a service (relay streams are handled here). */
  onStream: PeerStreamHandler;
  dialTimeoutMs?: number;
  /** Close a session with no streams after this long (0 = never). */
  idleCloseMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Inbound handshakes in progress at once; more are dropped at accept. */
  maxPendingHandshakes?: number;
  relay?: Partial<RelayLimits>;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>) => void;
}

const DEFAULT_RELAY: RelayLimits = { enabled: true, maxStreams: 256, maxStreamsPerSession: 64 };

function zeroTotals(): PeerTotals {
  return { sessions: 0, bytesSent: 0, bytesReceived: 0, recordsSent: 0, recordsReceived: 0, rekeys: 0, streamsOpened: 0, streamsAccepted: 0 };
}

function addStats(t: PeerTotals, st: ReturnType<TunnelSession['stats']>): void {
  t.bytesSent += st.bytesSent;
  t.bytesReceived += st.bytesReceived;
  t.recordsSent += st.recordsSent;
  t.recordsReceived += st.recordsReceived;
  t.rekeys += st.rekeysSent + st.rekeysReceived;
  t.streamsOpened += st.streamsOpened;
  t.streamsAccepted += st.streamsAccepted;
}

function normalizeKey(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const k = parsePublicKey(text);
  if (!k || k.length !== 32) throw new RangeError(`not an X25519 public key (base64 or hex): ${JSON.stringify(text)}`);
  return formatPublicKey(k);
}

/** host:port (IPv6 in brackets) → connect options. */
export function parseHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new RangeError(`not host:port: ${JSON.stringify(address)}`);
  return { host: (m[1] ?? m[2])!, port };
}

class Peer {
  key: string | undefined;
  /** A configured key: direct dials pin it, relays require it. */
  pinKey: string | undefined;
  address: string | undefined;
  via: string | undefined;
  configured = false;
  session: TunnelSession | null = null;
  path: SessionPath | null = null;
  connectedAt = 0;
  dialing: Promise<TunnelSession> | null = null;
  failures = 0;
  retryAt = 0;
  reconnect: NodeJS.Timeout | null = null;
  lastError: WeftError | null = null;
  idleSince = 0;
  readonly totals = zeroTotals();
  constructor(public name: string) {}
}

/** Which of two sessions to the same peer both sides keep (see the top of this file). */
function preferred(a: TunnelSession, aPath: SessionPath, b: TunnelSession, bPath: SessionPath, ownKey: Uint8Array): TunnelSession {
  const direct = (p: SessionPath) => p === 'direct' || p === 'inbound';
  if (direct(aPath) !== direct(bPath)) return direct(aPath) ? a : b;
  const initiator = (s: TunnelSession) => (s.role === 'initiator' ? ownKey : s.peerKey);
  return Buffer.compare(initiator(a), initiator(b)) <= 0 ? a : b;
}

export class TunnelPeers extends EventEmitter {
  readonly id: string;
  readonly #o: TunnelPeersOptions;
  readonly #relay: RelayLimits;
  readonly #byName = new Map<string, Peer>();
  readonly #byKey = new Map<string, Peer>();
  readonly #sessionPath = new Map<TunnelSession, SessionPath>();
  readonly #sockets = new Set<net.Socket>();
  readonly #totals = zeroTotals();
  #server: net.Server | null = null;
  #idleTimer: NodeJS.Timeout | null = null;
  #pending = 0;
  #closing = false;
  relayActive = 0;
  relayTotal = 0;
  relayRefused = 0;

  constructor(options: TunnelPeersOptions) {
    super();
    this.#o = options;
    this.#relay = { ...DEFAULT_RELAY, ...options.relay };
    this.id = formatPublicKey(options.identity.publicKey);
    // Validate the session knobs once, here, rather than at the first dial.
    resolveOptions(this.#tunnelOptions(undefined));
    const idle = options.idleCloseMs ?? 0;
    if (idle > 0) {
      this.#idleTimer = setInterval(() => this.#closeIdle(), Math.max(20, Math.min(idle / 4, 5_000)));
      this.#idleTimer.unref();
    }
  }

  // ------------------------------------------------------------------ config

  /** Sets the known peers (static config, or the gossip catalog); peers not listed keep only live sessions. */
  setPeers(specs: readonly PeerSpec[]): void {
    const seen = new Set<string>();
    for (const spec of specs) {
      seen.add(spec.name);
      const pin = normalizeKey(spec.publicKey);
      let p = this.#byName.get(spec.name);
      if (!p && pin) p = this.#byKey.get(pin);
      if (!p) {
        p = new Peer(spec.name);
      } else if (p.name !== spec.name) {
        this.#byName.delete(p.name);
        p.name = spec.name;
      }
      this.#byName.set(p.name, p);
      p.configured = true;
      p.address = spec.address;
      p.via = spec.via;
      p.pinKey = pin;
      if (pin) this.#bindKey(p, pin);
    }
    for (const p of this.#byName.values()) {
      if (p.configured && !seen.has(p.name)) {
        p.configured = false;
        p.address = undefined;
        p.via = undefined;
        p.pinKey = undefined;
        if (p.reconnect) clearTimeout(p.reconnect);
        p.reconnect = null;
      }
    }
  }

  /** Records that p is the peer with static key `key`, merging a record made for that key earlier (e.g. by an inbound session). */
  #bindKey(p: Peer, key: string): void {
    const other = this.#byKey.get(key);
    if (other && other !== p) {
      for (const k of Object.keys(p.totals) as (keyof PeerTotals)[]) p.totals[k] += other.totals[k];
      if (this.#byName.get(other.name) === other) this.#byName.delete(other.name);
      if (other.reconnect) clearTimeout(other.reconnect);
      const s = other.session;
      const path = other.path;
      other.session = null;
      if (s && !s.closed) this.#adopt(p, s, path ?? 'inbound');
    }
    if (p.key && p.key !== key && this.#byKey.get(p.key) === p) this.#byKey.delete(p.key);
    p.key = key;
    this.#byKey.set(key, p);
  }

  #lookup(ref: string): Peer | undefined {
    return this.#byName.get(ref) ?? this.#byKey.get(ref);
  }

  // ------------------------------------------------------------------ listening

  /** Listens for other agents; resolves with the bound address (port 0 = ephemeral). */
  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    const server = net.createServer({ allowHalfOpen: false, noDelay: true }, (sock) => this.#onInbound(sock));
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const a = server.address() as net.AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  #onInbound(sock: net.Socket): void {
    const max = this.#o.maxPendingHandshakes ?? 128;
    if (this.#closing || this.#pending >= max) {
      sock.destroy();
      return;
    }
    this.#pending++;
    this.#sockets.add(sock);
    sock.once('close', () => this.#sockets.delete(sock));
    const hop = { name: '', relays: 0 };
    this.#handshake(sock, 'responder', hop, this.#o.pinnedKeys).then(
      (s) => {
        this.#pending--;
        hop.name = this.#peerFor(s).name;
        this.#adopt(this.#peerFor(s), s, 'inbound');
      },
      (e: WeftError) => {
        this.#pending--;
        this.#o.log?.('warn', 'tunnel handshake refused', { remote: `${sock.remoteAddress}:${sock.remotePort}`, error: e });
      },
    );
  }

  /** The peer record for a session's key: known, or a configured peer that announced this name and has no key yet, or new. */
  #peerFor(s: TunnelSession): Peer {
    const key = s.peerId;
    let p = this.#byKey.get(key);
    if (p) return p;
    const named = this.#byName.get(s.peerSettings.agentId);
    if (named && !named.key && !named.pinKey) p = named;
    else {
      let name = s.peerSettings.agentId || key.slice(0, 8);
      if (this.#byName.has(name)) name = `${name}#${key.slice(0, 8)}`;
      p = new Peer(name);
      this.#byName.set(name, p);
    }
    this.#bindKey(p, key);
    return p;
  }

  // ------------------------------------------------------------------ sessions

  #tunnelOptions(onStream: TunnelOptions['onStream'], pinnedKeys?: readonly string[]): TunnelOptions {
    return {
      ...this.#o.session,
      identity: this.#o.identity,
      psk: this.#o.psk,
      agentId: this.#o.agentId,
      ...(pinnedKeys && pinnedKeys.length ? { pinnedKeys } : {}),
      ...(onStream ? { onStream } : {}),
    };
  }

  #handshake(sock: Duplex, role: Role, hop: { name: string; relays: number }, pinnedKeys: readonly string[] | undefined): Promise<TunnelSession> {
    const o = resolveOptions(this.#tunnelOptions((stream, info) => this.#onStream(stream, info, hop), pinnedKeys));
    const settings: TunnelSettings = {
      agentId: this.#o.agentId,
      maxFrameSize: o.maxFrameSize,
      initialStreamWindow: o.initialStreamWindow,
      initialSessionWindow: o.initialSessionWindow,
      features: o.features,
    };
    return runHandshake(sock, role, { identity: o.identity, psk: o.psk, settings, pinnedKeys: o.pinnedKeys, timeoutMs: o.handshakeTimeoutMs, x25519: o.x25519 }).then(
      (hs) => new TunnelSession(sock, role, hs, settings, o),
    );
  }

  /** Keeps s as p's session unless p already has one that wins (the loser is closed gracefully). */
  #adopt(p: Peer, s: TunnelSession, path: SessionPath): TunnelSession {
    if (!this.#sessionPath.has(s)) {
      this.#sessionPath.set(s, path);
      this.#totals.sessions++;
      p.totals.sessions++;
      s.once('close', (err: WeftError | null) => this.#onSessionClosed(s, err));
    }
    if (this.#closing) {
      void s.close();
      return s;
    }
    const cur = p.session;
    if (cur && cur !== s && !cur.closed) {
      const keep = preferred(cur, p.path!, s, path, this.#o.identity.publicKey);
      const drop = keep === cur ? s : cur;
      this.#o.log?.('debug', 'duplicate tunnel session closed', { peer: p.name, kept: keep === cur ? p.path : path });
      void drop.close();
      if (keep === cur) return cur;
    }
    p.session = s;
    p.path = path;
    p.connectedAt = performance.now();
    p.idleSince = 0;
    p.failures = 0;
    p.retryAt = 0;
    p.lastError = null;
    if (p.reconnect) clearTimeout(p.reconnect);
    p.reconnect = null;
    this.#o.log?.('info', 'tunnel session up', { peer: p.name, key: s.peerId, path, role: s.role });
    this.emit('session', p.name, s);
    return s;
  }

  #onSessionClosed(s: TunnelSession, err: WeftError | null): void {
    this.#sessionPath.delete(s);
    const stats = s.stats();
    addStats(this.#totals, stats);
    const p = this.#byKey.get(s.peerId);
    if (!p) return;
    addStats(p.totals, stats);
    if (p.session !== s) return;
    p.session = null;
    p.path = null;
    this.#o.log?.(err ? 'warn' : 'info', 'tunnel session closed', { peer: p.name, ...(err ? { error: err } : {}) });
    if (err) p.lastError = err;
    if (err && !this.#closing && p.configured && (p.address || p.via)) this.#scheduleReconnect(p);
  }

  #backoff(failures: number): number {
    const initial = this.#o.backoffInitialMs ?? 200;
    const max = this.#o.backoffMaxMs ?? 10_000;
    const d = Math.min(max, initial * 2 ** Math.min(failures, 20));
    return d / 2 + Math.random() * (d / 2); // equal jitter: never less than half the step
  }

  #scheduleReconnect(p: Peer): void {
    if (p.reconnect || this.#closing) return;
    const delay = Math.max(0, p.retryAt - Date.now(), this.#backoff(p.failures));
    p.reconnect = setTimeout(() => {
      p.reconnect = null;
      if (p.session || !p.configured) return;
      this.#dial(p, false).catch(() => this.#scheduleReconnect(p));
    }, delay);
    p.reconnect.unref();
  }

  /**
   * The session to a peer (by name or key): the open one, a dial in progress,
   * or a new dial (direct, else through its relay). Rejects with WEFT-T015 when
   * the peer is unknown, unreachable or in backoff; `signal` stops the wait (not
   * a dial other callers share).
   */
  session(ref: string, options: { signal?: AbortSignal; directOnly?: boolean } = {}): Promise<TunnelSession> {
    const p = this.#lookup(ref);
    if (!p) return Promise.reject(new WeftError('WEFT-T015', `no tunnel peer named ${ref}`, { peer: ref }));
    const cur = p.session;
    if (cur && cur.usable && (!options.directOnly || this.#isDirect(cur))) return Promise.resolve(cur);
    let dial = p.dialing;
    if (!dial) {
      if (Date.now() < p.retryAt) {
        return Promise.reject(new WeftError('WEFT-T015', `peer ${p.name} is in reconnect backoff`, { peer: p.name, retryInMs: p.retryAt - Date.now(), lastError: p.lastError?.message }));
      }
      dial = this.#dial(p, options.directOnly ?? false);
    }
    return withSignal(dial, options.signal);
  }

  #isDirect(s: TunnelSession): boolean {
    const path = this.#sessionPath.get(s);
    return path === 'direct' || path === 'inbound';
  }

  #dial(p: Peer, directOnly: boolean): Promise<TunnelSession> {
    if (p.dialing) return p.dialing;
    const run = async (): Promise<TunnelSession> => {
      let directError: unknown;
      if (p.address) {
        try {
          return await this.#dialDirect(p);
        } catch (e) {
          directError = e;
        }
      }
      if (p.via && !directOnly) return this.#dialRelayed(p);
      if (directError) throw directError;
      throw new WeftError('WEFT-T015', `peer ${p.name} has no address${directOnly ? '' : ' and no relay route'}`, { peer: p.name });
    };
    const dial = run().then(
      (s) => {
        p.dialing = null;
        return s;
      },
      (e: unknown) => {
        p.dialing = null;
        p.failures++;
        p.retryAt = Date.now() + this.#backoff(p.failures - 1);
        const err = e instanceof WeftError && e.code === 'WEFT-T015' ? e : new WeftError('WEFT-T015', `peer ${p.name}: ${(e as Error).message}`, { peer: p.name, cause: (e as WeftError).code ?? (e as NodeJS.ErrnoException).code });
        p.lastError = err;
        throw err;
      },
    );
    p.dialing = dial;
    dial.catch(() => {}); // callers see it; a background reconnect may not be awaited
    return dial;
  }

  async #dialDirect(p: Peer): Promise<TunnelSession> {
    const { host, port } = parseHostPort(p.address!);
    const sock = await connectTcp(host, port, this.#o.dialTimeoutMs ?? 5_000);
    this.#sockets.add(sock);
    sock.once('close', () => this.#sockets.delete(sock));
    const hop = { name: p.name, relays: 0 };
    const s = await this.#handshake(sock, 'initiator', hop, p.pinKey ? [p.pinKey] : this.#o.pinnedKeys);
    const owner = this.#peerFor(s) === p ? p : this.#reconcile(p, s);
    return this.#adopt(owner, s, 'direct');
  }

  /** A dial answered by another key than the record had (no pin): bind the key to this peer. */
  #reconcile(p: Peer, s: TunnelSession): Peer {
    this.#bindKey(p, s.peerId);
    return p;
  }

  async #dialRelayed(p: Peer): Promise<TunnelSession> {
    const target = p.pinKey ?? p.key;
    if (!target) throw new WeftError('WEFT-T015', `peer ${p.name}: relaying needs its public key (tunnel.peers[].publicKey)`, { peer: p.name });
    const hopSession = await this.session(p.via!, { directOnly: true });
    const stream = await hopSession.openStream(relayServiceId(target), RELAY_SOURCE);
    const hop = { name: p.via!, relays: 0 };
    // The nested handshake pins the target: the relay has the cluster secret but not C's key.
    const s = await this.#handshake(stream, 'initiator', hop, [target]);
    return this.#adopt(p, s, `via ${p.via!}`);
  }

  // ------------------------------------------------------------------ streams from peers

  #onStream(stream: TunnelStream, info: StreamInfo, hop: { name: string; relays: number }): void | Promise<void> {
    if (!isRelayService(info.service)) {
      const p = this.#byName.get(hop.name);
      return this.#o.onStream(stream, info, { name: hop.name, key: p?.key ?? '' });
    }
    const target = relayTarget(info.service);
    if (!target) return stream.reject(TunnelErrorCode.UNKNOWN_SERVICE);
    if (target === this.id) return this.#terminateRelay(stream, hop);
    return this.#forwardRelay(stream, info, target, hop);
  }

  /** The last hop: a nested session, this agent as responder, inside the relayed stream. */
  #terminateRelay(stream: TunnelStream, hop: { name: string; relays: number }): void {
    stream.accept();
    const inner = { name: '', relays: 0 };
    this.#handshake(stream, 'responder', inner, this.#o.pinnedKeys).then(
      (s) => {
        const p = this.#peerFor(s);
        inner.name = p.name;
        this.#adopt(p, s, `relayed-in via ${hop.name}`);
      },
      (e: WeftError) => this.#o.log?.('warn', 'relayed tunnel handshake refused', { via: hop.name, error: e }),
    );
  }

  /** The middle hop: splice onto a direct session to the target, within the relay limits. */
  async #forwardRelay(stream: TunnelStream, info: StreamInfo, target: string, hop: { name: string; relays: number }): Promise<void> {
    const r = this.#relay;
    const p = this.#byKey.get(target);
    if (!r.enabled || this.relayActive >= r.maxStreams || hop.relays >= r.maxStreamsPerSession) {
      this.relayRefused++;
      return stream.reject(TunnelErrorCode.STREAM_REFUSED);
    }
    if (!p) {
      this.relayRefused++;
      return stream.reject(TunnelErrorCode.UNKNOWN_SERVICE);
    }
    this.relayActive++;
    hop.relays++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.relayActive--;
      hop.relays--;
    };
    try {
      const abort = AbortSignal.timeout(this.#o.dialTimeoutMs ?? 5_000);
      const next = await this.session(p.name, { directOnly: true, signal: abort });
      const out = await next.openStream(info.service, info.source, { signal: abort });
      if (stream.destroyed) {
        out.destroy();
        return release();
      }
      stream.accept();
      this.relayTotal++;
      spliceStreams(stream, out, release);
      this.emit('relay', { from: hop.name, to: p.name, inbound: stream, outbound: out });
    } catch (e) {
      release();
      this.relayRefused++;
      this.#o.log?.('warn', 'relay to peer failed', { from: hop.name, to: p.name, error: e as Error });
      if (!stream.destroyed) stream.reject(TunnelErrorCode.UNAVAILABLE);
    }
  }

  // ------------------------------------------------------------------ idle, views, shutdown

  #closeIdle(): void {
    const idleMs = this.#o.idleCloseMs ?? 0;
    const now = performance.now();
    for (const p of this.#byName.values()) {
      const s = p.session;
      if (!s || s.closed) continue;
      if (s.streamCount > 0) {
        p.idleSince = 0;
        continue;
      }
      if (p.idleSince === 0) p.idleSince = now;
      else if (now - p.idleSince >= idleMs) {
        p.idleSince = 0;
        this.#o.log?.('debug', 'closing idle tunnel session', { peer: p.name });
        void s.close();
      }
    }
  }

  peers(): PeerView[] {
    const now = performance.now();
    return [...this.#byName.values()].map((p) => {
      const s = p.session && !p.session.closed ? p.session : null;
      const totals = { ...p.totals };
      let st: ReturnType<TunnelSession['stats']> | null = null;
      if (s) {
        st = s.stats();
        addStats(totals, st);
      }
      const state: PeerState = s ? 'connected' : p.dialing ? 'connecting' : Date.now() < p.retryAt || p.reconnect ? 'backoff' : 'idle';
      return {
        name: p.name,
        key: p.key ?? p.pinKey ?? null,
        address: p.address ?? null,
        via: p.via ?? null,
        configured: p.configured,
        state,
        path: s ? p.path : null,
        role: s ? s.role : null,
        agentId: s ? s.peerSettings.agentId : null,
        streams: st ? st.streamsActive : 0,
        rttMs: st && st.rttMs >= 0 ? Math.round(st.rttMs * 1000) / 1000 : null,
        connectedForMs: s ? Math.round(now - p.connectedAt) : null,
        failures: p.failures,
        retryInMs: p.retryAt > Date.now() ? p.retryAt - Date.now() : null,
        lastError: p.lastError ? p.lastError.toJSON() : null,
        ...totals,
      };
    });
  }

  /** Every session ever (closed ones summed, live ones now), and the live count by path. */
  totals(): PeerTotals & { active: number; activeRelayed: number; streams: number } {
    const t = { ...this.#totals, active: 0, activeRelayed: 0, streams: 0 };
    for (const [s, path] of this.#sessionPath) {
      if (s.closed) continue;
      addStats(t, s.stats());
      t.active++;
      if (path !== 'direct' && path !== 'inbound') t.activeRelayed++;
      t.streams += s.streamCount;
    }
    return t;
  }

  /** Handshakes being accepted now, and sockets this manager holds (tests: nothing leaks). */
  resources(): { pendingHandshakes: number; sockets: number; sessions: number } {
    return { pendingHandshakes: this.#pending, sockets: this.#sockets.size, sessions: this.#sessionPath.size };
  }

  /** Stops listening and dialling; every session is closed with GOAWAY (open streams may finish). */
  async close(): Promise<void> {
    this.#closing = true;
    if (this.#idleTimer) clearInterval(this.#idleTimer);
    this.#idleTimer = null;
    for (const p of this.#byName.values()) {
      if (p.reconnect) clearTimeout(p.reconnect);
      p.reconnect = null;
    }
    const closed = this.#server ? new Promise<void>((r) => this.#server!.close(() => r())) : Promise.resolve();
    await Promise.all([...this.#sessionPath.keys()].map((s) => s.close()));
    for (const sock of this.#sockets) sock.destroy();
    await closed;
  }

  /** Closes everything now: open streams are reset. */
  destroy(): void {
    this.#closing = true;
    for (const s of [...this.#sessionPath.keys()]) s.destroy();
    for (const sock of this.#sockets) sock.destroy();
    this.#server?.close();
  }
}

function connectTcp(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(Object.assign(new Error(`connect to ${host}:${port} timed out`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.off('error', onError);
      resolve(sock);
    });
    const onError = (e: Error) => {
      clearTimeout(timer);
      reject(e);
    };
    sock.once('error', onError);
  });
}

function withSignal<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new WeftError('WEFT-T015', 'gave up waiting for the tunnel session', { cause: 'timeout' }));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new WeftError('WEFT-T015', 'gave up waiting for the tunnel session', { cause: 'timeout' }));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
