// Catalog change events and the engine that stamps them and fans them out to
// sinks (NATS, files). Sources (gossip membership, the catalog, the agent's
// meshlets, health checks, canary rollouts) feed it through publish() or by
// being attached as EventEmitters.
import { WeftError } from '../errors.js';

/** Which events each kind has. */
export const EVENT_KINDS = {
  member: ['joined', 'left', 'failed'],
  meshlet: ['added', 'updated', 'removed'],
  service: ['added', 'updated', 'removed'],
  endpoint: ['added', 'updated', 'removed'],
  health: ['up', 'down'],
  canary: ['step-changed'],
} as const;

export type EventKind = keyof typeof EVENT_KINDS;
export type EventName<K extends EventKind = EventKind> = (typeof EVENT_KINDS)[K][number];

/** Plain JSON, as carried in events and written to files. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface SyncEvent {
  /** The object's stable id: the same for every event about one object. */
  readonly uid: string;
  /**
   * Strictly increasing per agent (and so per object, for the events one agent
   * publishes): a hybrid clock, max(previous + 1, wall-clock microseconds), so
   * it also keeps increasing across restarts of the agent as long as the wall
   * clock does not step back by more than the restart took.
   */
  readonly version: number;
  /** RFC 3339, UTC, millisecond precision. */
  readonly timestamp: string;
  /** The agent that saw the change. */
  readonly agent: string;
  readonly kind: EventKind;
  readonly event: EventName;
  readonly object: JsonValue;
}

/** What a source reports: an event before the engine stamps it. */
export interface CatalogChange {
  kind: EventKind;
  event: EventName;
  uid: string;
  object: unknown;
}

/** Where events go. write() must not block or throw for transient trouble: a sink buffers and reports. */
export interface SyncSink {
  readonly name: string;
  write(event: SyncEvent): void;
  /** Resolves once everything written so far is delivered (or reported dropped). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Anything with the EventEmitter shape that emits 'change'. */
export interface ChangeSource {
  on(event: 'change', listener: (payload: any) => void): unknown;
  off?(event: 'change', listener: (payload: any) => void): unknown;
  removeListener?(event: 'change', listener: (payload: any) => void): unknown;
}

/** Maps a source's payload to zero or more changes (default: the payload is a CatalogChange). */
export type ChangeMapper = (payload: any) => CatalogChange | readonly CatalogChange[] | undefined | null;

/** A NATS subject token: agent and cluster names are used in subjects and message ids. */
export const SUBJECT_TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

export function isEventKind(kind: unknown): kind is EventKind {
  return typeof kind === 'string' && Object.hasOwn(EVENT_KINDS, kind);
}

export function isEventName(kind: EventKind, event: unknown): event is EventName {
  return typeof event === 'string' && (EVENT_KINDS[kind] as readonly string[]).includes(event);
}

/** Events after which the object is gone from the catalog (the snapshot drops it). */
export function isTerminal(e: Pick<SyncEvent, 'kind' | 'event'>): boolean {
  return e.event === 'removed' || (e.kind === 'member' && e.event === 'left');
}

/** Checks kind/event/uid, throwing WEFT-S007 with the reason. */
export function checkChange(kind: unknown, event: unknown, uid: unknown): asserts kind is EventKind {
  if (!isEventKind(kind)) throw new WeftError('WEFT-S007', `unknown kind ${JSON.stringify(kind)}; kinds: ${Object.keys(EVENT_KINDS).join(', ')}`);
  if (!isEventName(kind, event)) {
    throw new WeftError('WEFT-S007', `unknown event ${JSON.stringify(event)} for kind ${kind}; events: ${EVENT_KINDS[kind].join(', ')}`);
  }
  if (typeof uid !== 'string' || uid.length === 0 || uid.length > 1024) throw new WeftError('WEFT-S007', `uid must be a non-empty string of at most 1024 characters`);
}

/** A detached plain-JSON copy, so a caller mutating its object later cannot change a published event. */
export function toJson(object: unknown): JsonValue {
  if (object === undefined) return null;
  let text: string;
  try {
    text = JSON.stringify(object);
  } catch (err) {
    throw new WeftError('WEFT-S007', `object is not plain JSON: ${(err as Error).message}`);
  }
  if (text === undefined) throw new WeftError('WEFT-S007', 'object is not plain JSON (a function or symbol)');
  return JSON.parse(text) as JsonValue;
}

/** Validates something that claims to be a stamped event (from stdin or NATS); returns a reason or undefined. */
export function eventProblem(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return 'not a JSON object';
  const e = x as Record<string, unknown>;
  if (!isEventKind(e.kind)) return `unknown kind ${JSON.stringify(e.kind)}`;
  if (!isEventName(e.kind, e.event)) return `unknown event ${JSON.stringify(e.event)} for kind ${e.kind}`;
  if (typeof e.uid !== 'string' || e.uid.length === 0) return 'uid must be a non-empty string';
  if (typeof e.version !== 'number' || !Number.isSafeInteger(e.version) || e.version < 0) return 'version must be a non-negative integer';
  if (typeof e.timestamp !== 'string' || Number.isNaN(Date.parse(e.timestamp))) return 'timestamp must be RFC 3339';
  if (typeof e.agent !== 'string' || e.agent.length === 0) return 'agent must be a non-empty string';
  if (!('object' in e)) return 'object is missing';
  return undefined;
}

export interface SyncEngineOptions {
  /** This agent's name: a NATS subject token ([A-Za-z0-9_-], up to 64). */
  agent: string;
  /** Wall clock in milliseconds (tests inject one). */
  now?: () => number;
  sinks?: SyncSink[];
}

/**
 * Stamps changes into events (uid, version, timestamp, agent) and hands each
 * to every sink, in publish order. Ordering guarantee: versions are strictly
 * increasing in publish order within one engine, so for any one object the
 * events an agent publishes carry increasing versions; sinks preserve that
 * per-object order (see docs/sync.md). Versions of different agents are
 * comparable only approximately (both follow the wall clock).
 */
export class SyncEngine {
  readonly agent: string;
  private readonly now: () => number;
  private readonly sinks: SyncSink[] = [];
  private lastVersion = 0;
  private closed = false;
  private readonly detachers = new Set<() => void>();

  constructor(options: SyncEngineOptions) {
    if (!SUBJECT_TOKEN.test(options.agent)) {
      throw new WeftError('WEFT-S009', `agent name ${JSON.stringify(options.agent)} must match ${SUBJECT_TOKEN} (it is used in NATS message ids)`);
    }
    this.agent = options.agent;
    this.now = options.now ?? Date.now;
    for (const s of options.sinks ?? []) this.addSink(s);
  }

  addSink(sink: SyncSink): void {
    this.sinks.push(sink);
  }

  /** Ensures later versions are above `version` (e.g. the highest version found in a loaded snapshot). */
  advanceVersion(version: number): void {
    if (version > this.lastVersion) this.lastVersion = version;
  }

  /** The version the next event would get at least. */
  get version(): number {
    return this.lastVersion;
  }

  /** Stamps one change and fans it out; returns the event. Throws WEFT-S007 on an invalid change. */
  publish(kind: EventKind, event: EventName, uid: string, object: unknown): SyncEvent {
    if (this.closed) throw new WeftError('WEFT-S007', 'the sync engine is closed');
    checkChange(kind, event, uid);
    const json = toJson(object);
    const ms = this.now();
    const version = Math.max(this.lastVersion + 1, Math.floor(ms * 1000));
    this.lastVersion = version;
    const stamped: SyncEvent = Object.freeze({
      uid,
      version,
      timestamp: new Date(ms).toISOString(),
      agent: this.agent,
      kind,
      event,
      object: json,
    });
    for (const sink of this.sinks) sink.write(stamped);
    return stamped;
  }

  /**
   * Subscribes to a source's 'change' events. Invalid changes are reported
   * through `onError` (default: thrown back into the emitter). Returns a function
   * that detaches.
   */
  attach(source: ChangeSource, map?: ChangeMapper, onError?: (err: unknown, payload: unknown) => void): () => void {
    const listener = (payload: unknown): void => {
      try {
        const out = map ? map(payload) : (payload as CatalogChange);
        if (out === undefined || out === null) return;
        const changes = Array.isArray(out) ? (out as readonly CatalogChange[]) : [out as CatalogChange];
        for (const c of changes) this.publish(c.kind, c.event, c.uid, c.object);
      } catch (err) {
        if (onError) onError(err, payload);
        else throw err;
      }
    };
    source.on('change', listener);
    const detach = (): void => {
      if (!this.detachers.delete(detach)) return;
      if (source.off) source.off('change', listener);
      else source.removeListener?.('change', listener);
    };
    this.detachers.add(detach);
    return detach;
  }

  async flush(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.flush()));
  }

  /** Detaches every source, then flushes and closes every sink. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const d of [...this.detachers]) d();
    await Promise.all(this.sinks.map((s) => s.close()));
  }
}
