// The agent's side of gossip: runs a GossipNode from the `gossip:` config,
// publishes the services this agent serves (service ID, meshlet, instance,
// version, weight, health) into the cluster's service catalog and withdraws
// them on reload and drain, logs membership changes, and answers the admin
// API (/members, the catalog part of /services, key rotation). Remote
// endpoints are read from here by the tunnel and proxy layers.
import { stat } from 'node:fs/promises';
import type { Agent, AgentGossipView, LocalServiceEndpoint } from './agent.js';
import type { GossipConfig } from './gossip-config.js';
import { GossipMetrics } from './gossip-metrics.js';
import type { Logger } from './log.js';
import { createDiscovery } from '../discovery/index.js';
import { WeftError } from '../errors.js';
import { decodeAgentMeta, type AgentMeta } from '../gossip/agent-meta.js';
import { MAX_WEIGHT, type CatalogEntry, type Health, type PublishedEntry } from '../gossip/catalog.js';
import { GossipNode, loadClusterSecrets, type SeedSource } from '../gossip/node.js';
import type { Member, MembershipEvent } from '../gossip/types.js';
import { WEFT_VERSION } from '../version.js';

/** A catalog endpoint on another agent, with what a tunnel needs to reach that agent. */
export interface RemoteEndpoint extends CatalogEntry {
  readonly agentName: string;
  /** The agent's gossip address. */
  readonly agentAddress: string;
  /** From its metadata; undefined until its tunnel layer publishes them. */
  readonly tunnelAddress?: string;
  readonly tunnelPublicKey?: Uint8Array;
}

export interface AgentGossipOptions {
  env?: NodeJS.ProcessEnv;
}

const SEP = '\u0000';

function published(e: LocalServiceEndpoint, health: Health): PublishedEntry {
  return { serviceId: e.serviceId, meshlet: `${e.meshlet}.${e.namespace}`, instance: e.instance, version: e.version, weight: Math.min(MAX_WEIGHT, e.weight), health };
}

/** UP when the instance's server socket is there (the app listens), DOWN otherwise. */
async function socketHealth(path: string): Promise<Health> {
  try {
    return (await stat(path)).isSocket() ? 'UP' : 'DOWN';
  } catch {
    return 'DOWN';
  }
}

/**
 * What to publish for a local endpoint: DOWN when a proxy health check holds it
 * DOWN; else, for an instance served on its server socket, whether the socket
 * is there. An app on a TCP port (sidecar --service-ports) has no socket to
 * look for: only health checks can mark it DOWN.
 */
async function endpointHealth(e: LocalServiceEndpoint, checked: Health): Promise<Health> {
  if (checked === 'DOWN') return 'DOWN';
  return e.tcpPort !== undefined ? 'UP' : socketHealth(e.socketPath);
}

export class AgentGossip implements AgentGossipView {
  readonly metrics: GossipMetrics;
  /** (serviceId, instance) → what we published, to withdraw what is gone. */
  readonly #published = new Map<string, PublishedEntry>();
  readonly #health = new Map<string, Health>();
  #healthTimer: ReturnType<typeof setInterval> | undefined;
  #draining = false;
  #syncing: Promise<void> = Promise.resolve();

  private constructor(
    readonly node: GossipNode,
    readonly agent: Agent,
    readonly config: GossipConfig,
    readonly log: Logger,
  ) {
    this.metrics = new GossipMetrics(agent.metrics.registry, node);
  }

  /** Reads the secret (WEFT-G002 without one), binds, starts membership and the first join attempt. */
  static async start(agent: Agent, config: GossipConfig, log: Logger, options: AgentGossipOptions = {}): Promise<AgentGossip> {
    const secrets = loadClusterSecrets({ ...(config.secretFile !== undefined ? { secretFile: config.secretFile } : {}), env: options.env ?? process.env });
    let seeds: SeedSource = [];
    if (config.join.discovery.length) {
      const provider = createDiscovery(config.join.discovery, { onError: (e) => log.warn('gossip discovery problem', { error: e }) });
      seeds = (() => provider.discover()) as SeedSource;
    }
    const node = await GossipNode.create({
      name: config.name,
      bindHost: config.bind.host,
      bindPort: config.bind.port,
      ...(config.advertise?.host !== undefined ? { advertiseHost: config.advertise.host } : {}),
      ...(config.advertise?.port !== undefined ? { advertisePort: config.advertise.port } : {}),
      secrets,
      seeds,
      joinRetry: { initialMs: config.join.retryInitialMs, maxMs: config.join.retryMaxMs },
      membership: config.membership,
      meta: { weftVersion: WEFT_VERSION },
      log,
    });
    const g = new AgentGossip(node, agent, config, log);
    node.onEvent((e) => g.#onMember(e));
    node.catalog.onChange((e) => {
      const entry = e.entry;
      log.debug('gossip catalog change', { change: e.type, serviceId: entry.serviceId, agent: entry.agentId, instance: entry.instance, version: entry.version, weight: entry.weight, health: entry.health });
    });
    agent.onRoutesChanged(() => g.sync());
    // A health check's verdict goes out now, not at the next periodic sync.
    agent.healthMarks.onChange(() => void g.sync());
    agent.onDrain(() => g.withdrawAll());
    agent.gossip = g;
    await node.start();
    g.sync();
    g.#healthTimer = setInterval(() => g.sync(), config.healthCheckMs);
    g.#healthTimer.unref();
    return g;
  }

  #onMember(e: MembershipEvent): void {
    const m = e.member;
    this.log.info('gossip member', { event: e.type, id: m.id, name: m.name, address: m.address, incarnation: m.incarnation, state: m.state });
  }

  /** Publishes what the agent serves now (with fresh health) and withdraws what it no longer serves. Serialized. */
  sync(): Promise<void> {
    this.#syncing = this.#syncing.then(() => this.#sync()).catch((e) => this.log.error('gossip catalog sync failed', { error: e as Error }));
    return this.#syncing;
  }

  async #sync(): Promise<void> {
    if (this.#draining) return;
    const endpoints = this.agent.localEndpoints();
    const marks = this.agent.healthMarks;
    const healths = await Promise.all(endpoints.map((e) => endpointHealth(e, marks.get(e.serviceId, e.instance))));
    if (this.#draining) return;
    const keep = new Set<string>();
    endpoints.forEach((e, i) => {
      const key = e.serviceId + SEP + e.instance;
      keep.add(key);
      const entry = published(e, healths[i]!);
      const before = this.#health.get(key);
      if (before !== undefined && before !== entry.health) this.log.info('gossip endpoint health changed', { serviceId: e.serviceId, instance: e.instance, health: entry.health });
      this.#health.set(key, entry.health);
      this.node.catalog.publish(entry); // a no-op when unchanged
      this.#published.set(key, entry);
    });
    for (const [key, entry] of this.#published) {
      if (keep.has(key)) continue;
      this.node.catalog.withdraw(entry.serviceId, entry.instance);
      this.#published.delete(key);
      this.#health.delete(key);
    }
  }

  /** Drain: withdraw every endpoint so other agents stop choosing this one. */
  withdrawAll(): void {
    this.#draining = true;
    for (const entry of this.#published.values()) this.node.catalog.withdraw(entry.serviceId, entry.instance);
    this.#published.clear();
  }

  /** Leaves the cluster gracefully (the withdrawals and the 'left' spread first), then closes the socket. */
  async stop(): Promise<void> {
    if (this.#healthTimer) clearInterval(this.#healthTimer);
    this.withdrawAll();
    try {
      await this.node.leave();
    } finally {
      await this.node.shutdown();
    }
    this.log.info('gossip left the cluster', { id: this.node.id });
  }

  /** Endpoints of a service on other agents, with their tunnel address and key when published. */
  remoteEndpoints(serviceId: string): RemoteEndpoint[] {
    const out: RemoteEndpoint[] = [];
    for (const e of this.node.catalog.endpoints(serviceId)) {
      if (e.agentId === this.node.id) continue;
      const m = this.node.membership.member(e.agentId);
      if (!m || (m.state !== 'alive' && m.state !== 'suspect')) continue;
      const meta: AgentMeta = decodeAgentMeta(m.meta) ?? {};
      out.push({
        ...e,
        agentName: m.name,
        agentAddress: m.address,
        ...(meta.tunnelAddress !== undefined ? { tunnelAddress: meta.tunnelAddress } : {}),
        ...(meta.tunnelPublicKey !== undefined ? { tunnelPublicKey: meta.tunnelPublicKey } : {}),
      });
    }
    return out;
  }

  // ---- admin views ---------------------------------------------------------------

  membersView(): unknown {
    const node = this.node;
    const view = (m: Member) => {
      const meta = decodeAgentMeta(m.meta);
      return {
        id: m.id,
        name: m.name,
        address: m.address,
        state: m.state,
        incarnation: m.incarnation,
        self: m.id === node.id,
        ...(meta?.weftVersion ? { version: meta.weftVersion } : {}),
        ...(meta?.tunnelAddress ? { tunnelAddress: meta.tunnelAddress } : {}),
      };
    };
    const all = node.allMembers().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1));
    const byState: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const m of all) byState[m.state] = (byState[m.state] ?? 0) + 1;
    return {
      self: { id: node.id, name: node.membership.localMember.name, address: node.address, bound: node.boundAddress },
      join: node.joinStatus,
      health: node.membership.health,
      counts: byState,
      members: all.map(view),
    };
  }

  catalogView(): unknown {
    const node = this.node;
    return node.catalog.services().map((serviceId) => ({
      serviceId,
      endpoints: node.catalog.endpoints(serviceId).map((e) => {
        const m = node.membership.member(e.agentId);
        return { agentId: e.agentId, agentName: m?.name ?? null, agentAddress: m?.address ?? null, local: e.agentId === node.id, meshlet: e.meshlet, instance: e.instance, version: e.version, weight: e.weight, health: e.health };
      }),
    }));
  }

  /** Keyring operation from the admin API; answers fingerprints only, never the secret. */
  keyOperation(op: string, body: { secret?: unknown; fingerprint?: unknown }): { op: string; fingerprint: string; primary: string; fingerprints: string[] } {
    const secret = typeof body.secret === 'string' && body.secret !== '' ? body.secret : undefined;
    const fingerprint = typeof body.fingerprint === 'string' && body.fingerprint !== '' ? body.fingerprint : undefined;
    let fp: string;
    try {
      if (op === 'install') {
        if (!secret) throw new WeftError('WEFT-G102', 'install needs {"secret": "..."} in the body', { status: 400 });
        fp = this.node.installKey(secret);
      } else if (op === 'use' || op === 'remove') {
        const which = secret ?? fingerprint;
        if (!which) throw new WeftError('WEFT-G102', `${op} needs {"secret": "..."} or {"fingerprint": "..."} in the body`, { status: 400 });
        fp = op === 'use' ? this.node.useKey(which) : this.node.removeKey(which);
      } else {
        throw new WeftError('WEFT-A009', `unknown keyring operation ${op}; one of install, use, remove`, { status: 404 });
      }
    } catch (e) {
      // Keyring refusals (too short, not installed, removing the primary) are the caller's conflict, not a server error.
      if (e instanceof WeftError && typeof e.details.status !== 'number') throw new WeftError(e.code, e.message.replace(/^WEFT-\S+ [^:]+: /, ''), { ...e.details, status: 409 });
      throw e;
    }
    this.log.info('gossip keyring changed', { op, fingerprint: fp, primary: this.node.keys().primary, installed: this.node.keys().fingerprints.length });
    return { op, fingerprint: fp, ...this.node.keys() };
  }
}
