// The agent's tunnel side, when the config has a `tunnel:` section: its
// identity (created 0600 on first start), the cluster secret, the connections
// to other agents (TunnelPeers: one session per pair, reconnect, idle close,
// relays), remote endpoints merged into the routes (a RemoteEndpointSource),
// delivery to them (TunnelUpstream), streams from peers (InboundStreams), the
// /peers view and metrics.
import type { MetricsRegistry } from '../admin/metrics.js';
import { readClusterSecret, type TunnelConfig } from '../config/tunnel-config.js';
import { formatPublicKey, loadOrCreateIdentity, type Identity } from '../tunnel/identity.js';
import { TunnelPeers, type PeerView } from '../tunnel/peers.js';
import { handshakeStats, type HandshakeStats } from '../tunnel/handshake.js';
import { tunnelResources } from '../tunnel/resources.js';
import type { Logger } from './log.js';
import type { ServiceRouter } from './routing.js';
import { CombinedEndpointSource, StaticEndpointSource, type RemoteEndpointSource } from './tunnel-endpoints.js';
import { GossipEndpointSource } from './tunnel-gossip-source.js';
import type { AgentGossip } from './gossip-agent.js';
import { WEFT_VERSION } from '../version.js';
import { InboundStreams } from './tunnel-inbound.js';
import { registerTunnelMetrics } from './tunnel-metrics.js';
import { TunnelUpstream } from './tunnel-upstream.js';
import type { Upstream } from './upstream.js';

export interface AgentTunnelsOptions {
  config: TunnelConfig;
  router: ServiceRouter;
  /** Delivery to local server sockets. */
  local: Upstream;
  connectMs: number;
  log: Logger;
  registry: MetricsRegistry;
  /** Where remote endpoints come from (default: the static config). */
  source?: RemoteEndpointSource;
}

export interface TunnelsView {
  name: string;
  publicKey: string;
  listen: string;
  handshakes: HandshakeStats;
  relay: { active: number; total: number; refused: number };
  inbound: { accepted: number; active: number; refused: Record<string, number> };
  /** What is held open now: handshakes being accepted, sockets, sessions (leak checks). */
  resources: { pendingHandshakes: number; sockets: number; sessions: number; handshakesInProgress: number };
  peers: PeerView[];
}

export class AgentTunnels {
  readonly upstream: TunnelUpstream;
  readonly inbound: InboundStreams;
  identity: Identity | undefined;
  peers: TunnelPeers | undefined;
  /** host:port actually bound (port 0 resolved). */
  address = '';
  readonly #o: AgentTunnelsOptions;
  #source: RemoteEndpointSource | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(options: AgentTunnelsOptions) {
    this.#o = options;
    this.upstream = new TunnelUpstream(options.local);
    this.inbound = new InboundStreams(options.router, options.local, options.connectMs, options.log);
    registerTunnelMetrics(options.registry, () => (this.peers ? { peers: this.peers, inbound: this.inbound, upstream: this.upstream } : undefined));
  }

  get publicKey(): string {
    return this.identity ? formatPublicKey(this.identity.publicKey) : '';
  }

  /** Loads the identity and secret, starts listening, applies the remote endpoints. */
  async start(): Promise<void> {
    const c = this.#o.config;
    const log = this.#o.log;
    this.identity = await loadOrCreateIdentity(c.identityFile);
    const psk = readClusterSecret(c);
    const peers = new TunnelPeers({
      identity: this.identity,
      psk,
      ...(c.pinnedKeys.length ? { pinnedKeys: c.pinnedKeys } : {}),
      agentId: c.name,
      session: {
        handshakeTimeoutMs: c.timeouts.handshakeMs,
        keepaliveIntervalMs: c.timeouts.keepaliveMs,
        keepaliveTimeoutMs: c.timeouts.keepaliveTimeoutMs,
        maxStreams: c.limits.maxStreamsPerSession,
        aead: c.aead,
      },
      onStream: (stream, info, peer) => this.inbound.handle(stream, info, peer.name),
      dialTimeoutMs: c.timeouts.dialMs,
      idleCloseMs: c.timeouts.idleCloseMs,
      backoffInitialMs: c.backoff.initialMs,
      backoffMaxMs: c.backoff.maxMs,
      maxPendingHandshakes: c.limits.maxPendingHandshakes,
      relay: { enabled: c.relay.enabled, maxStreams: c.relay.maxStreams, maxStreamsPerSession: c.relay.maxStreamsPerPeer },
      log: (level, msg, fields) => log.log(level, msg, fields),
    });
    this.peers = peers;
    this.upstream.peers = peers;
    this.#use(this.#o.source ?? new StaticEndpointSource(c));
    const bound = await peers.listen(c.listen.host, c.listen.port);
    this.#bound = bound;
    this.address = bound.host.includes(':') ? `[${bound.host}]:${bound.port}` : `${bound.host}:${bound.port}`;
  }

  #bound: { host: string; port: number } | undefined;

  /** Takes remote endpoints and peers from `source` from now on (the previous one is closed). */
  #use(source: RemoteEndpointSource): void {
    this.#unsubscribe?.();
    const peers = this.peers!;
    this.#source = source;
    const apply = () => {
      peers.setPeers(source.peers());
      this.#o.router.setRemoteEndpoints(source.endpoints());
    };
    apply();
    this.#unsubscribe = source.onChange(apply);
  }

  /**
   * Gossip is up: advertise this agent's tunnel address and key in its member
   * metadata, and take remote endpoints from the catalog (plus the static peers).
   */
  useGossip(gossip: AgentGossip): void {
    if (!this.peers || !this.identity || !this.#bound) return;
    let host = this.#bound.host;
    // Listening on every interface: others reach us where they reach our gossip.
    if (host === '0.0.0.0' || host === '::') host = gossip.node.address.slice(0, gossip.node.address.lastIndexOf(':')).replace(/^\[|\]$/g, '');
    const tunnelAddress = host.includes(':') ? `[${host}]:${this.#bound.port}` : `${host}:${this.#bound.port}`;
    gossip.node.setMeta({ weftVersion: WEFT_VERSION, tunnelAddress, tunnelPublicKey: this.identity.publicKey });
    const prior = this.#source;
    const statics = new StaticEndpointSource(this.#o.config);
    this.#use(new CombinedEndpointSource([statics, new GossipEndpointSource(gossip)]));
    if (prior && prior !== statics) prior.close();
  }

  /** Graceful: GOAWAY on every session, open streams finish (bounded by the caller's drain deadline). */
  async close(): Promise<void> {
    this.#unsubscribe?.();
    this.#source?.close();
    await this.peers?.close();
  }

  /** Drain deadline reached: reset what is left. */
  destroy(): void {
    this.inbound.abortAll();
    this.peers?.destroy();
  }

  view(): TunnelsView {
    const p = this.peers;
    return {
      name: this.#o.config.name,
      publicKey: this.publicKey,
      listen: this.address,
      handshakes: handshakeStats(),
      relay: { active: p?.relayActive ?? 0, total: p?.relayTotal ?? 0, refused: p?.relayRefused ?? 0 },
      inbound: { accepted: this.inbound.counters.accepted, active: this.inbound.counters.active, refused: { ...this.inbound.counters.refused } },
      resources: { ...(p?.resources() ?? { pendingHandshakes: 0, sockets: 0, sessions: 0 }), handshakesInProgress: tunnelResources().handshake },
      peers: p?.peers() ?? [],
    };
  }
}
