// What the agent sees through gossip, as sync events: members joined / left /
// failed, and the service catalog's entries of other agents — endpoint added /
// updated / removed (with version and weight), health up / down, and service
// added / removed when the first / last endpoint of a service on an agent
// comes / goes. Of the agent's own entries only the health is taken (what the
// cluster routes by); their objects it publishes from its own state
// (sync-catalog.ts), under the same uids, so a consumer of several agents
// sees one object per endpoint.
import type { CatalogEntry, CatalogEvent } from '../gossip/catalog.js';
import type { Member, MembershipEvent } from '../gossip/types.js';
import type { Publish } from './sync-catalog.js';
import { endpointUid, memberUid, serviceUid } from './sync-objects.js';

/** The parts of a GossipNode this needs (structural, so tests can hand in a fake). */
export interface GossipSource {
  readonly id: string;
  onEvent(listener: (e: MembershipEvent) => void): unknown;
  readonly membership: { member(id: string): Member | undefined; allMembers(): Member[] };
  readonly catalog: { onChange(listener: (e: CatalogEvent) => void): void; entries(): CatalogEntry[] };
}

/** A member name as an agent name: the form sync.agent defaults to, so uids agree across agents. */
export function agentToken(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64) || 'weft';
}

const MEMBER_EVENTS = { join: 'joined', leave: 'left', fail: 'failed' } as const;

interface Seen {
  readonly uid: string;
  readonly owner: string;
  readonly json: string;
  readonly health: CatalogEntry['health'];
  readonly object: Record<string, unknown>;
}

export class GossipSync {
  /** member id → the last member event published ('joined' | 'failed'; left ones are forgotten). */
  readonly #members = new Map<string, string>();
  /** (agentId, serviceId, instance) → what was published for that entry. */
  readonly #entries = new Map<string, Seen>();
  /** service uid → how many endpoints of it are known. */
  readonly #services = new Map<string, number>();
  #closed = false;

  /** `ownHealth` receives the health the catalog carries for this agent's own endpoints. */
  constructor(
    private readonly source: GossipSource,
    private readonly publish: Publish,
    private readonly ownHealth: (serviceId: string, instance: string, health: CatalogEntry['health']) => void = () => undefined,
  ) {
    // What happened before attaching (the join) is reported as the current state.
    for (const m of source.membership.allMembers()) if (m.state === 'alive' || m.state === 'suspect') this.#member('join', m);
    for (const e of source.catalog.entries()) this.#upsert(e);
    source.onEvent((e) => {
      if (!this.#closed) this.#member(e.type, e.member);
    });
    source.catalog.onChange((e) => {
      if (this.#closed) return;
      if (e.type === 'upsert') this.#upsert(e.entry);
      else this.#remove(e.entry);
    });
  }

  close(): void {
    this.#closed = true;
  }

  #member(type: MembershipEvent['type'], m: Member): void {
    const event = MEMBER_EVENTS[type as keyof typeof MEMBER_EVENTS];
    if (!event) return; // suspect / alive / update / reap are not catalog changes
    if (this.#members.get(m.id) === event) return;
    if (event === 'left') this.#members.delete(m.id);
    else this.#members.set(m.id, event);
    this.publish('member', event, memberUid(m.id), { id: m.id, name: m.name, agent: agentToken(m.name), address: m.address, state: m.state, incarnation: m.incarnation, self: m.id === this.source.id });
  }

  #owner(agentId: string): string {
    const m = this.source.membership.member(agentId);
    return agentToken(m?.name ?? agentId);
  }

  #upsert(entry: CatalogEntry): void {
    if (entry.agentId === this.source.id) return this.ownHealth(entry.serviceId, entry.instance, entry.health);
    const key = `${entry.agentId}\u0000${entry.serviceId}\u0000${entry.instance}`;
    const seen = this.#entries.get(key);
    // The owner's name is fixed at first sight, so every event about this entry has one uid.
    const owner = seen?.owner ?? this.#owner(entry.agentId);
    const [, meshlet = '', namespace = ''] = entry.serviceId.split('.');
    const object = { agent: owner, agentId: entry.agentId, serviceId: entry.serviceId, namespace, meshlet, instance: entry.instance, version: entry.version, weight: entry.weight };
    const json = JSON.stringify(object);
    const uid = seen?.uid ?? endpointUid(owner, entry.serviceId, entry.instance);
    if (!seen) {
      const service = serviceUid(owner, entry.serviceId);
      const count = this.#services.get(service) ?? 0;
      this.#services.set(service, count + 1);
      if (count === 0) this.publish('service', 'added', service, { agent: owner, id: entry.serviceId, service: entry.serviceId.split('.')[0], meshlet, namespace });
    }
    if (!seen || seen.json !== json) this.publish('endpoint', seen ? 'updated' : 'added', uid, object);
    if (!seen || seen.health !== entry.health) {
      this.publish('health', entry.health === 'UP' ? 'up' : 'down', uid, { agent: owner, serviceId: entry.serviceId, instance: entry.instance, health: entry.health, source: 'gossip' });
    }
    this.#entries.set(key, { uid, owner, json, health: entry.health, object });
  }

  #remove(entry: CatalogEntry): void {
    const key = `${entry.agentId}\u0000${entry.serviceId}\u0000${entry.instance}`;
    const seen = this.#entries.get(key);
    if (!seen) return;
    this.#entries.delete(key);
    this.publish('endpoint', 'removed', seen.uid, seen.object);
    const service = serviceUid(seen.owner, entry.serviceId);
    const count = (this.#services.get(service) ?? 1) - 1;
    if (count > 0) this.#services.set(service, count);
    else {
      this.#services.delete(service);
      const [name, meshlet = '', namespace = ''] = entry.serviceId.split('.');
      this.publish('service', 'removed', service, { agent: seen.owner, id: entry.serviceId, service: name, meshlet, namespace });
    }
  }
}
