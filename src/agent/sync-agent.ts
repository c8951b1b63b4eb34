// The agent's catalog sync (config `sync:`): a SyncEngine stamped with the
// agent's name and its sinks (FileSink for `out`, NatsSink for `nats`), fed
// by the agent's hooks. The agent only says *that* something changed (startup,
// reload, a canary step or action, a health mark); this file reads the
// agent's view and CatalogDiff decides which events that makes. Changes within
// one tick are coalesced, so an admin promote (which also fires the rollout's
// own change callback) is one canary event with cause "promote".
import type { AgentConfig } from '../config/agent-config.js';
import { ERRORS, WeftError } from '../errors.js';
import { teeHealthReporter, type AgentProxyDeps } from '../proxy/agent-proxy.js';
import type { Health } from '../proxy/endpoints.js';
import { SyncEngine, type EventKind, type EventName } from '../sync/events.js';
import { FileSink } from '../sync/file-sink.js';
import { NatsSink, streamNameFor, type GapReport } from '../sync/nats-sink.js';
import type { Counter, MetricsRegistry } from '../admin/metrics.js';
import type { Logger } from './log.js';
import { CatalogDiff, type HealthSource } from './sync-catalog.js';
import { GossipSync, agentToken, type GossipSource } from './sync-gossip.js';
import { hostToken, type SyncConfig, type SyncNatsConfig } from './sync-config.js';
import type { AgentSyncView, CanaryCause } from './sync-objects.js';

export interface AgentSyncOptions {
  config: AgentConfig;
  log: Logger;
  /** The agent's catalog now. */
  view: () => AgentSyncView;
  registry?: MetricsRegistry;
}

/** The name stamped on events and in uids: sync.agent, else the gossip name (as other agents name this one), else the host name. */
export function syncAgentName(config: AgentConfig): string {
  return config.sync?.agent ?? (config.gossip ? agentToken(config.gossip.name) : hostToken());
}

export class AgentSync {
  readonly agent: string;
  readonly engine: SyncEngine;
  readonly config: SyncConfig;
  /** Set by open() when `out` is configured. */
  files: FileSink | undefined;
  /** Set by open() when `nats` is configured (it connects, and reconnects, in the background). */
  nats: NatsSink | undefined;
  readonly #registry: MetricsRegistry | undefined;
  readonly #log: Logger;
  readonly #view: () => AgentSyncView;
  readonly #diff: CatalogDiff;
  #open = false;
  #closed = false;
  #scheduled = false;
  #catalogDirty = false;
  #cause: CanaryCause = 'startup';
  readonly #causes = new Map<string, CanaryCause>();
  readonly #healthMarks: Array<{ serviceId: string; instance: string; health: Health; source: HealthSource }> = [];
  readonly #events: Counter | undefined;
  #gossip: GossipSync | undefined;

  constructor(options: AgentSyncOptions) {
    this.config = options.config.sync!;
    this.agent = syncAgentName(options.config);
    this.#log = options.log;
    this.#view = options.view;
    this.engine = new SyncEngine({ agent: this.agent });
    this.#events = options.registry?.counter('weft_agent_sync_events_total', 'Catalog change events published to the sync sinks.', ['kind', 'event']);
    this.#diff = new CatalogDiff(this.agent, (kind, event, uid, object) => this.#publish(kind, event, uid, object));
    this.#registry = options.registry;
  }

  /** Opens the sinks: the file sink loads its snapshot (so a restart reports only what changed meanwhile); the NATS sink starts connecting. */
  async open(): Promise<void> {
    if (this.config.out !== undefined) {
      this.files = await FileSink.open({
        dir: this.config.out,
        maxLogBytes: this.config.maxLogBytes,
        keepLogs: this.config.keepLogs,
        logStyle: this.config.logStyle,
        snapshotDebounceMs: this.config.snapshotDebounceMs,
        log: (err, ctx) => this.#sinkLog(err, ctx),
      });
      this.engine.advanceVersion(this.files.maxVersion);
      this.#diff.seed(this.files.entries());
      this.engine.addSink(this.files);
    }
    if (this.config.nats) this.engine.addSink((this.nats = this.#natsSink(this.config.nats)));
    this.#open = true;
  }

  #natsSink(n: SyncNatsConfig): NatsSink {
    const sink = new NatsSink({
      servers: [...n.servers],
      cluster: n.cluster,
      jetstream: n.jetstream,
      maxBuffered: n.maxBuffered,
      reconnectTimeWaitMs: n.reconnectWaitMs,
      log: (err, ctx) => this.#sinkLog(err, ctx),
    });
    const registry = this.#registry;
    if (!registry) return sink;
    const gaps = registry.counter('weft_agent_sync_gaps_total', 'Episodes of sync events dropped by the NATS sink (each reported with Weft-Gap).', ['reason']);
    sink.on('gap', (r: GapReport) => gaps.inc({ reason: r.reason }));
    const queued = registry.gauge('weft_agent_sync_nats_queued', 'Sync events waiting for NATS or awaiting its confirmation.');
    const connected = registry.gauge('weft_agent_sync_nats_connected', '1 while the NATS sink is connected.');
    const dropped = registry.counter('weft_agent_sync_nats_dropped_total', 'Sync events the NATS sink dropped (buffer full or undelivered at close).');
    registry.addCollector(() => {
      const s = sink.stats();
      queued.set(s.queued);
      connected.set(s.connected ? 1 : 0);
      const d = s.dropped - dropped.get();
      if (d > 0) dropped.inc(d);
    });
    return sink;
  }

  /**
   * The agent's catalog may have changed. `cause` says why, for canary events:
   * with a meshlet key it is that meshlet's rollout (an automatic step or an
   * admin action); without, it is the whole catalog (startup or reload).
   */
  changed(cause: CanaryCause, meshletKey?: string): void {
    if (this.#closed) return;
    if (meshletKey === undefined) this.#cause = cause;
    else this.#causes.set(meshletKey, cause);
    this.#catalogDirty = true;
    this.#schedule();
  }

  /** A health mark of one of this agent's endpoints (the proxy's health checks, or the gossip catalog's entry). */
  health(serviceId: string, instance: string, health: Health, source: HealthSource = 'health-check'): void {
    if (this.#closed) return;
    this.#healthMarks.push({ serviceId, instance, health, source });
    this.#schedule();
  }

  /**
   * Publishes membership and the other agents' catalog entries as gossip
   * reports them, starting with the current state (call after start()); the
   * catalog's health of this agent's own endpoints goes with the health marks.
   */
  attachGossip(source: GossipSource): void {
    if (this.#closed || this.#gossip) return;
    this.#gossip = new GossipSync(
      source,
      (kind, event, uid, object) => {
        if (!this.#open || this.#closed) return;
        try {
          this.#publish(kind, event, uid, object);
        } catch (e) {
          this.#log.error('sync event not published', { error: e instanceof WeftError ? e : new WeftError('WEFT-S007', String(e)) });
        }
      },
      (serviceId, instance, health) => this.health(serviceId, instance, health, 'gossip'),
    );
  }

  /** The proxy's dependencies with the health reporter teed through here (to the gossip catalog as before). */
  proxyDeps(deps: AgentProxyDeps | undefined): AgentProxyDeps {
    return teeHealthReporter(deps, (serviceId, instance, health) => this.health(serviceId, instance, health));
  }

  #schedule(): void {
    if (this.#scheduled || !this.#open) return;
    this.#scheduled = true;
    queueMicrotask(() => this.flushChanges());
  }

  /** Publishes what is pending now (normally a microtask after the change). */
  flushChanges(): void {
    this.#scheduled = false;
    if (!this.#open || this.#closed) return;
    try {
      if (this.#catalogDirty) {
        this.#catalogDirty = false;
        const causes = new Map(this.#causes);
        this.#causes.clear();
        this.#diff.reconcile(this.#view(), this.#cause, causes);
        this.#cause = 'reload';
      }
      for (const m of this.#healthMarks.splice(0)) this.#diff.health(m.serviceId, m.instance, m.health, m.source);
    } catch (e) {
      this.#log.error('sync event not published', { error: e instanceof WeftError ? e : new WeftError('WEFT-S007', String(e)) });
    }
  }

  #publish(kind: EventKind, event: EventName, uid: string, object: unknown): void {
    this.engine.publish(kind, event, uid, object);
    this.#events?.inc({ kind, event });
  }

  #sinkLog(err: WeftError, context: Record<string, unknown>): void {
    const level = err.severity === 'warning' ? 'warn' : err.severity === 'info' ? 'info' : 'error';
    this.#log.log(level, ERRORS[err.code].title, { ...context, error: err });
  }

  /** Resolves once every event so far is delivered by every sink (or reported dropped). */
  async flush(): Promise<void> {
    this.flushChanges();
    await this.engine.flush();
  }

  /** Publishes what is pending, then flushes and closes the sinks (NATS waits up to 5 s, then reports the rest as a gap). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.flushChanges();
    this.#closed = true;
    this.#gossip?.close();
    await this.engine.close();
    const nats = this.nats?.stats();
    this.#log.info('sync closed', {
      agent: this.agent,
      ...(this.files ? { file: { dir: this.files.dir, entries: this.files.entries().length } } : {}),
      ...(nats ? { nats: { written: nats.written, acked: nats.acked, dropped: nats.dropped, gaps: nats.gaps } } : {}),
    });
  }

  /** For the banner. */
  describe(): string {
    const parts: string[] = [`agent ${this.agent}`];
    if (this.config.out !== undefined) parts.push(`files ${this.config.out}`);
    const n = this.config.nats;
    if (n) parts.push(`nats ${n.servers.join(',')} weft.${n.cluster}.>${n.jetstream === false ? '' : ` (JetStream ${streamNameFor(n.cluster)})`}`);
    return parts.join('; ');
  }
}
