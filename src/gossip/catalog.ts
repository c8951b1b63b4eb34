// The service catalog: which meshlet, service, version and health lives on
// which agent. Each agent publishes its own endpoints (a per-agent
// last-writer-wins entry per service instance, through SharedValues on its own
// channel), everyone reads `endpoints(serviceId)`, and every visible change is
// an event for the agent (routing) and the sync engine (sinks). Entries of an
// agent that membership declares failed or gone are removed everywhere.
//
// Value encoding: u8 version 1 | serviceId str | meshlet str | instance str |
//   version str | weight varuint | health u8 (0 DOWN, 1 UP)

import { ByteReader, ByteWriter } from './codec.js';
import type { GossipMux } from './gossiper.js';
import { SharedValues } from './shared-values.js';
import type { Clock } from './types.js';

export type Health = 'UP' | 'DOWN';

export interface CatalogEntry {
  /** The agent (member id) the endpoint lives on. */
  readonly agentId: string;
  /** `<service>.<meshlet>.<ns>`. */
  readonly serviceId: string;
  readonly meshlet: string;
  /** Distinguishes several endpoints of one service on one agent. */
  readonly instance: string;
  readonly version: string;
  /** Relative share of traffic (0 = none). */
  readonly weight: number;
  readonly health: Health;
}

export type PublishedEntry = Omit<CatalogEntry, 'agentId'>;

export type CatalogEvent =
  | { readonly type: 'upsert'; readonly entry: CatalogEntry; readonly previous: CatalogEntry | null }
  | { readonly type: 'remove'; readonly entry: CatalogEntry };

export interface ServiceCatalogOptions {
  mux: GossipMux;
  clock: Clock;
  /** Channel name (default "catalog"). */
  channel?: string;
}

export const MAX_SERVICE_ID_BYTES = 255;
/** The largest effective weight an agent publishes: a 100 % canary share of the
 * router's scale (10,000 per percent), so remote splits match local ones. */
export const MAX_WEIGHT = 1_000_000;
const VERSION = 1;
const SEPARATOR = '\u0000';

export class ServiceCatalog {
  readonly localId: string;
  private readonly values: SharedValues;
  /** serviceId → (agentId + instance) → entry. */
  private readonly byService = new Map<string, Map<string, CatalogEntry>>();
  private readonly listeners: ((event: CatalogEvent) => void)[] = [];
  /** Published values that failed to decode (a newer weft, or garbage from a key holder). */
  malformed = 0;

  constructor(options: ServiceCatalogOptions) {
    this.values = new SharedValues({ mux: options.mux, clock: options.clock, channel: options.channel ?? 'catalog' });
    this.localId = this.values.localId;
    this.values.onChange((key, agentId, value) => this.apply(key, agentId, value));
  }

  /** Publish (or update) one of this agent's endpoints. */
  publish(entry: PublishedEntry): void {
    validate(entry);
    const current = this.byService.get(entry.serviceId)?.get(this.localId + SEPARATOR + entry.instance);
    if (current && sameEntry(current, { ...entry, agentId: this.localId })) return; // nothing to tell anyone
    this.values.share(valueKey(entry.serviceId, entry.instance), encodeEntry(entry));
  }

  /** Change only the health of a published endpoint; false if it is not published. */
  setHealth(serviceId: string, instance: string, health: Health): boolean {
    const current = this.byService.get(serviceId)?.get(this.localId + SEPARATOR + instance);
    if (!current) return false;
    this.publish({ ...current, health });
    return true;
  }

  /** Withdraw one of this agent's endpoints. */
  withdraw(serviceId: string, instance: string): void {
    this.values.unshare(valueKey(serviceId, instance));
  }

  /** Every endpoint of a service, on any agent, UP or DOWN (sorted by agent, instance). */
  endpoints(serviceId: string): CatalogEntry[] {
    return [...(this.byService.get(serviceId)?.values() ?? [])].sort(
      (a, b) => cmp(a.agentId, b.agentId) || cmp(a.instance, b.instance),
    );
  }

  services(): string[] {
    return [...this.byService.keys()].sort();
  }

  entries(): CatalogEntry[] {
    return this.services().flatMap((s) => this.endpoints(s));
  }

  onChange(listener: (event: CatalogEvent) => void): void {
    this.listeners.push(listener);
  }

  private apply(key: string, agentId: string, value: Uint8Array | null): void {
    const sep = key.indexOf(SEPARATOR);
    if (sep < 0) return void this.malformed++;
    const serviceId = key.slice(0, sep);
    const indexKey = agentId + SEPARATOR + key.slice(sep + 1);
    const previous = this.byService.get(serviceId)?.get(indexKey) ?? null;
    const entry = value === null ? null : decodeEntry(agentId, value);
    if (value !== null && (!entry || entry.serviceId !== serviceId || entry.instance !== key.slice(sep + 1))) {
      this.malformed++;
      return;
    }
    if (entry) {
      let instances = this.byService.get(serviceId);
      if (!instances) this.byService.set(serviceId, (instances = new Map()));
      instances.set(indexKey, entry);
      if (!previous || !sameEntry(previous, entry)) this.emit({ type: 'upsert', entry, previous });
    } else if (previous) {
      const instances = this.byService.get(serviceId)!;
      instances.delete(indexKey);
      if (instances.size === 0) this.byService.delete(serviceId);
      this.emit({ type: 'remove', entry: previous });
    }
  }

  private emit(event: CatalogEvent): void {
    for (const l of this.listeners) l(event);
  }
}

function valueKey(serviceId: string, instance: string): string {
  return serviceId + SEPARATOR + instance;
}

function validate(e: PublishedEntry): void {
  if (e.serviceId.length === 0 || new TextEncoder().encode(e.serviceId).length > MAX_SERVICE_ID_BYTES) {
    throw new RangeError(`service id must be 1..${MAX_SERVICE_ID_BYTES} bytes`);
  }
  if (e.serviceId.includes(SEPARATOR) || e.instance.includes(SEPARATOR)) throw new RangeError('NUL in service id or instance');
  if (!Number.isInteger(e.weight) || e.weight < 0 || e.weight > MAX_WEIGHT) throw new RangeError(`weight must be 0..${MAX_WEIGHT}`);
  if (e.health !== 'UP' && e.health !== 'DOWN') throw new RangeError('health must be UP or DOWN');
}

export function encodeEntry(e: PublishedEntry): Uint8Array {
  return new ByteWriter(64)
    .u8(VERSION)
    .string(e.serviceId)
    .string(e.meshlet)
    .string(e.instance)
    .string(e.version)
    .varuint(e.weight)
    .u8(e.health === 'UP' ? 1 : 0)
    .finish();
}

/** Parse a published value; null on any malformed byte (never throws). */
export function decodeEntry(agentId: string, bytes: Uint8Array): CatalogEntry | null {
  const r = new ByteReader(bytes);
  if (r.u8() !== VERSION) return null;
  const serviceId = r.string(MAX_SERVICE_ID_BYTES);
  const meshlet = r.string();
  const instance = r.string();
  const version = r.string();
  const weight = r.varuint();
  const health = r.u8();
  if (!r.done || weight > MAX_WEIGHT || health > 1) return null;
  return { agentId, serviceId, meshlet, instance, version, weight, health: health === 1 ? 'UP' : 'DOWN' };
}

function sameEntry(a: CatalogEntry, b: CatalogEntry): boolean {
  return (
    a.agentId === b.agentId &&
    a.serviceId === b.serviceId &&
    a.meshlet === b.meshlet &&
    a.instance === b.instance &&
    a.version === b.version &&
    a.weight === b.weight &&
    a.health === b.health
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
