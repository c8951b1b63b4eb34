// Turns successive views of the agent's catalog into sync events by diffing
// against what was last published: meshlets, services and endpoints added /
// updated / removed, canary step-changed when a rollout's status moves, health
// up / down when an endpoint's mark changes. Removals go children first
// (endpoints, services, meshlets), additions parents first, so a consumer never
// sees an endpoint of a service it has not seen yet. Seeded from a snapshot,
// a restarted agent reports only what changed while it was away.
import type { Health } from '../proxy/endpoints.js';
import type { EventKind, EventName, SyncEvent } from '../sync/events.js';
import {
  canaryObject,
  catalogObjects,
  endpointUid,
  meshletUid,
  ownedBy,
  type AgentSyncView,
  type CanaryCause,
  type CatalogKind,
} from './sync-objects.js';

export type Publish = (kind: EventKind, event: EventName, uid: string, object: unknown) => void;

/** Where a health mark came from: the proxy's checks, the gossip catalog's entry, or the start of a new agent process (checks begin at UP). */
export type HealthSource = 'health-check' | 'gossip' | 'restart';

interface Published {
  readonly kind: CatalogKind;
  readonly json: string;
  readonly object: unknown;
}

const REMOVAL_ORDER: readonly CatalogKind[] = ['endpoint', 'service', 'meshlet'];

/** The canary object without its cause: two statuses are the same rollout state when these match. */
function canaryKey(object: Record<string, unknown>): string {
  const { cause: _cause, ...rest } = object;
  return JSON.stringify(rest);
}

export class CatalogDiff {
  readonly #objects = new Map<string, Published>();
  /** meshlet uid → canaryKey of the last canary event. */
  readonly #canary = new Map<string, string>();
  /** endpoint uid → the last health published. */
  readonly #health = new Map<string, Health>();
  /** Seeded DOWN marks not yet confirmed by this process: reported UP at the first reconcile (checks start from UP). */
  readonly #staleDown = new Set<string>();

  constructor(
    readonly agent: string,
    private readonly publish: Publish,
  ) {}

  /** Takes over the state of this agent's objects from a snapshot (entries of other agents are ignored). */
  seed(entries: readonly SyncEvent[]): void {
    for (const e of entries) {
      if (!ownedBy(this.agent, e.uid)) continue;
      if (e.kind === 'meshlet' || e.kind === 'service' || e.kind === 'endpoint') {
        this.#objects.set(e.uid, { kind: e.kind, json: JSON.stringify(e.object), object: e.object });
      } else if (e.kind === 'canary' && e.object && typeof e.object === 'object' && !Array.isArray(e.object) && e.object.phase !== 'none') {
        this.#canary.set(e.uid, canaryKey(e.object));
      } else if (e.kind === 'health') {
        const health: Health = e.event === 'down' ? 'DOWN' : 'UP';
        this.#health.set(e.uid, health);
        if (health === 'DOWN') this.#staleDown.add(e.uid);
      }
    }
  }

  has(uid: string): boolean {
    return this.#objects.has(uid);
  }

  get size(): number {
    return this.#objects.size;
  }

  /**
   * Publishes what changed since the last view. `causes` names why a meshlet's
   * rollout moved (an automatic step or an admin action); other canary changes
   * get `cause` (the rollout started with the agent or restarted on a reload).
   */
  reconcile(view: AgentSyncView, cause: CanaryCause, causes: ReadonlyMap<string, CanaryCause> = new Map()): void {
    const next = catalogObjects(this.agent, view);
    const wanted = new Set(next.map((o) => o.uid));
    for (const kind of REMOVAL_ORDER) {
      for (const [uid, cur] of this.#objects) {
        if (cur.kind !== kind || wanted.has(uid)) continue;
        this.#objects.delete(uid);
        this.#health.delete(uid);
        this.#staleDown.delete(uid);
        this.#canary.delete(uid);
        this.publish(kind, 'removed', uid, cur.object);
      }
    }
    for (const o of next) {
      const json = JSON.stringify(o.object);
      const cur = this.#objects.get(o.uid);
      if (cur && cur.json === json) continue;
      this.#objects.set(o.uid, { kind: o.kind, json, object: o.object });
      this.publish(o.kind, cur ? 'updated' : 'added', o.uid, o.object);
    }
    for (const { spec, canary } of view.meshlets) {
      const uid = meshletUid(this.agent, spec.namespace, spec.name);
      const had = this.#canary.get(uid);
      if (!canary) {
        // The canary was taken out of the spec: say so, or the snapshot would keep the old rollout.
        if (had === undefined) continue;
        this.#canary.delete(uid);
        this.publish('canary', 'step-changed', uid, canaryObject(this.agent, spec, undefined, causes.get(spec.key) ?? cause));
        continue;
      }
      const object = canaryObject(this.agent, spec, canary, causes.get(spec.key) ?? cause);
      const key = canaryKey(object);
      if (key === had) continue;
      this.#canary.set(uid, key);
      this.publish('canary', 'step-changed', uid, object);
    }
    for (const uid of this.#staleDown) {
      this.#staleDown.delete(uid);
      if (!this.#objects.has(uid)) continue;
      const o = this.#objects.get(uid)!.object as { serviceId?: string; instance?: string };
      this.#markHealth(uid, o.serviceId ?? '', o.instance ?? '', 'UP', 'restart');
    }
  }

  /** A health mark for one of this agent's endpoints; false when unknown or unchanged. */
  health(serviceId: string, instance: string, health: Health, source: HealthSource = 'health-check'): boolean {
    const uid = endpointUid(this.agent, serviceId, instance);
    if (!this.#objects.has(uid)) return false;
    this.#staleDown.delete(uid);
    return this.#markHealth(uid, serviceId, instance, health, source);
  }

  #markHealth(uid: string, serviceId: string, instance: string, health: Health, source: HealthSource): boolean {
    if (this.#health.get(uid) === health) return false;
    this.#health.set(uid, health);
    this.publish('health', health === 'UP' ? 'up' : 'down', uid, { agent: this.agent, serviceId, instance, health, source });
    return true;
  }
}
