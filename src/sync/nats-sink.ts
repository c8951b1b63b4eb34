// Sync events to NATS: subject weft.<cluster>.<kind>.<event>, JSON payload.
// Core NATS (at-least-once while this process lives: an event counts as
// delivered once a PING/PONG after it returns) or JetStream (stream
// WEFT_<CLUSTER>, one Nats-Msg-Id per event, acks awaited) so a consumer that
// was away catches up. Events wait in a bounded buffer while NATS is away; when
// it overflows the oldest are dropped, counted, logged, and the next event
// delivered carries a Weft-Gap header (plus a gap record on
// weft.<cluster>.sync.gap) — a drop is never silent.
import { EventEmitter } from 'node:events';
import {
  connect,
  headers as natsHeaders,
  nanos,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConnectionOptions,
  type JetStreamClient,
  type MsgHdrs,
  type NatsConnection,
  type StreamConfig,
} from 'nats';
import { WeftError } from '../errors.js';
import { logError } from '../errors-explain.js';
import { Deque } from './deque.js';
import { SUBJECT_TOKEN, type SyncEvent, type SyncSink } from './events.js';

export interface JetStreamOptions {
  /** Stream limits; the oldest messages go first when one is reached. */
  maxMsgs?: number;
  maxBytes?: number;
  maxAgeMs?: number;
  /** Window in which a repeated Nats-Msg-Id is recognised as a duplicate (default 2 min). */
  duplicateWindowMs?: number;
  storage?: 'file' | 'memory';
  replicas?: number;
}

export interface NatsSinkOptions {
  /** nats://host:port, or several. */
  servers: string | string[];
  /** Cluster name: a subject token ([A-Za-z0-9_-]). */
  cluster: string;
  /** Publish through JetStream (true: default limits). */
  jetstream?: boolean | JetStreamOptions;
  /** Events held while NATS is away or unacknowledged (default 10,000). */
  maxBuffered?: number;
  /** Events handed to NATS but not yet acknowledged (default 512; below maxBuffered). */
  maxInFlight?: number;
  /** JetStream ack timeout (default 5000 ms). */
  ackTimeoutMs?: number;
  /** Wait between connection attempts (default 1000 ms). */
  reconnectTimeWaitMs?: number;
  /** Wait before retrying after a refused or timed-out JetStream publish (default 250 ms). */
  retryDelayMs?: number;
  /** Client PINGs the server this often to notice a dead link (default 10 s). */
  pingIntervalMs?: number;
  /** close() waits this long for the buffer to drain, then reports the rest as dropped (default 5000 ms). */
  closeTimeoutMs?: number;
  /** Extra nats.js options (credentials, TLS). */
  connection?: Partial<ConnectionOptions>;
  /** Structured error log (default: one JSON line on stderr). */
  log?: (err: WeftError, context: Record<string, unknown>) => void;
}

export interface GapReport {
  /** Events dropped in this episode. */
  dropped: number;
  firstVersion: number;
  lastVersion: number;
  /** 'overflow': the buffer was full; 'closed': close() gave up on undelivered events. */
  reason: 'overflow' | 'closed';
  /** Version of the event that carries the Weft-Gap header (overflow only). */
  markedVersion?: number;
}

export interface NatsSinkStats {
  written: number;
  published: number;
  retried: number;
  acked: number;
  duplicates: number;
  dropped: number;
  queued: number;
  gaps: number;
  connected: boolean;
}

interface Gap {
  count: number;
  first: number;
  last: number;
}

interface Entry {
  readonly event: SyncEvent;
  /** Sink-local order: the queue stays sorted by it. */
  readonly seq: number;
  gap?: Gap;
  sent: boolean;
  /** Its gap was already reported (a retry resends the header, not the report). */
  gapReported?: boolean;
}

export const GAP_HEADER = 'Weft-Gap';
export const GAP_FIRST_HEADER = 'Weft-Gap-First';
export const GAP_LAST_HEADER = 'Weft-Gap-Last';

export function subjectFor(cluster: string, e: Pick<SyncEvent, 'kind' | 'event'>): string {
  return `weft.${cluster}.${e.kind}.${e.event}`;
}

export function streamNameFor(cluster: string): string {
  return `WEFT_${cluster.toUpperCase()}`;
}

export function msgIdFor(e: Pick<SyncEvent, 'agent' | 'version'>): string {
  return `${e.agent}-${e.version}`;
}

function mergeGap(a: Gap | undefined, b: Gap): Gap {
  if (!a) return { ...b };
  return { count: a.count + b.count, first: Math.min(a.first, b.first), last: Math.max(a.last, b.last) };
}

function positiveInt(name: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt;
  if (!Number.isSafeInteger(x) || x <= 0) throw new WeftError('WEFT-S009', `${name} must be a positive integer, got ${String(v)}`);
  return x;
}

const encoder = new TextEncoder();

export class NatsSink extends EventEmitter implements SyncSink {
  readonly name = 'nats';
  readonly cluster: string;
  readonly stream: string;
  private readonly opts: NatsSinkOptions;
  private readonly js?: JetStreamOptions;
  private readonly maxBuffered: number;
  private readonly maxInFlight: number;
  private readonly log: (err: WeftError, context: Record<string, unknown>) => void;

  private nc?: NatsConnection;
  private jsClient?: JetStreamClient;
  private connected = false;
  private streamReady = false;
  private closing = false;
  private closed = false;
  /** Bumped whenever in-flight entries are requeued: callbacks from an older epoch are stale. */
  private epoch = 0;
  private seq = 0;
  private readonly queue = new Deque<Entry>();
  private readonly inflight = new Set<Entry>();
  private readonly inflightUids = new Set<string>();
  private retryTimer?: NodeJS.Timeout;
  private wake?: () => void;
  private readonly flushWaiters: { seq: number; resolve: () => void }[] = [];
  private dropEpisodeLogged = false;
  private pumping = false;
  private readonly run: Promise<void>;

  private readonly counters = { written: 0, published: 0, retried: 0, acked: 0, duplicates: 0, dropped: 0, gaps: 0 };

  constructor(options: NatsSinkOptions) {
    super();
    if (!SUBJECT_TOKEN.test(options.cluster)) {
      throw new WeftError('WEFT-S009', `cluster name ${JSON.stringify(options.cluster)} must match ${SUBJECT_TOKEN} (it is a NATS subject token)`);
    }
    this.opts = options;
    this.cluster = options.cluster;
    this.stream = streamNameFor(options.cluster);
    this.js = options.jetstream === true ? {} : options.jetstream || undefined;
    this.maxBuffered = positiveInt('maxBuffered', options.maxBuffered, 10_000);
    this.maxInFlight = Math.min(positiveInt('maxInFlight', options.maxInFlight, 512), Math.max(1, this.maxBuffered - 1));
    positiveInt('ackTimeoutMs', options.ackTimeoutMs, 5000);
    this.log = options.log ?? ((err, ctx) => logError(err, ctx));
    this.run = this.connectLoop();
  }

  // ---- metrics ----
  get written(): number { return this.counters.written; }
  /** Events handed to NATS at least once. */
  get published(): number { return this.counters.published; }
  /** Events confirmed: a JetStream ack, or (core) a PONG after the publish. */
  get acked(): number { return this.counters.acked; }
  get dropped(): number { return this.counters.dropped; }
  /** Events held: waiting to be sent or awaiting confirmation. */
  get queued(): number { return this.queue.length + this.inflight.size; }
  get isConnected(): boolean { return this.connected; }

  stats(): NatsSinkStats {
    return { ...this.counters, queued: this.queued, connected: this.connected };
  }

  /** Resolves once connected (and, with JetStream, the stream is ensured). */
  async ready(): Promise<void> {
    if (this.connected && (!this.js || this.streamReady)) return;
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.closed || (this.connected && (!this.js || this.streamReady))) {
          this.off('ready', check);
          resolve();
        }
      };
      this.on('ready', check);
    });
  }

  write(event: SyncEvent): void {
    this.counters.written++;
    if (this.closing) {
      this.counters.dropped++;
      this.log(new WeftError('WEFT-S001', 'event written after close() began'), { sink: 'nats', version: event.version, uid: event.uid });
      return;
    }
    const entry: Entry = { event, seq: ++this.seq, sent: false };
    if (this.queue.length + this.inflight.size >= this.maxBuffered) this.dropOldest(entry);
    this.queue.push(entry);
    this.schedulePump();
  }

  flush(): Promise<void> {
    const seq = this.seq;
    if (this.oldestOutstanding() > seq) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push({ seq, resolve }));
  }

  async close(): Promise<void> {
    if (this.closing) return this.run;
    this.closing = true;
    const timeoutMs = this.opts.closeTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.closed = true;
    clearTimeout(this.retryTimer);
    const left = [...this.inflight, ...this.queue];
    if (left.length) {
      let gap: Gap | undefined;
      for (const e of left) gap = mergeGap(gap, { count: 1, first: e.event.version, last: e.event.version });
      this.counters.dropped += left.length;
      this.report({ dropped: gap!.count, firstVersion: gap!.first, lastVersion: gap!.last, reason: 'closed' });
    }
    this.inflight.clear();
    this.inflightUids.clear();
    while (this.queue.length) this.queue.shift();
    this.settleFlushWaiters(true);
    this.wake?.();
    this.emit('ready');
    const nc = this.nc;
    this.nc = undefined;
    if (nc && !nc.isClosed()) await nc.close().catch(() => undefined);
    await this.run;
  }

  // ---- buffer ----

  /**
   * Drops the oldest unsent event to make room; the gap (with any gap it was
   * carrying) moves to the next event in line. The queue is never empty here:
   * maxInFlight < maxBuffered, so a full buffer has unsent events.
   */
  private dropOldest(incoming: Entry): void {
    const victim = this.queue.shift()!;
    const gap = mergeGap(victim.gap, { count: 1, first: victim.event.version, last: victim.event.version });
    this.counters.dropped++;
    const carrier = this.queue.peek() ?? incoming;
    carrier.gap = mergeGap(carrier.gap, gap);
    if (!this.dropEpisodeLogged) {
      this.dropEpisodeLogged = true;
      this.log(new WeftError('WEFT-S001', `buffer of ${this.maxBuffered} events is full, dropping the oldest`), {
        sink: 'nats',
        cluster: this.cluster,
        firstDroppedVersion: gap.first,
        connected: this.connected,
      });
    }
    this.settleFlushWaiters(false);
  }

  private oldestOutstanding(): number {
    let min = this.queue.peek()?.seq ?? Infinity;
    for (const e of this.inflight) if (e.seq < min) min = e.seq;
    return min;
  }

  private settleFlushWaiters(all: boolean): void {
    if (this.flushWaiters.length === 0) return;
    const oldest = all ? Infinity : this.oldestOutstanding();
    for (let i = this.flushWaiters.length - 1; i >= 0; i--) {
      const w = this.flushWaiters[i]!;
      if (w.seq < oldest) {
        this.flushWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private delivered(e: Entry): void {
    this.inflight.delete(e);
    this.inflightUids.delete(e.event.uid);
    this.counters.acked++;
    this.settleFlushWaiters(false);
  }

  /** Puts every in-flight event back at the head of the queue, in order; later callbacks for them are ignored. */
  private requeueInflight(): void {
    this.epoch++;
    if (this.inflight.size === 0) return;
    const back = [...this.inflight].sort((a, b) => a.seq - b.seq);
    this.inflight.clear();
    this.inflightUids.clear();
    this.queue.unshiftAll(back);
  }

  // ---- sending ----

  private schedulePump(): void {
    if (this.pumping) return;
    this.pumping = true;
    queueMicrotask(() => {
      this.pumping = false;
      this.pump();
    });
  }

  private canSend(): boolean {
    return !this.closed && this.connected && this.nc !== undefined && (!this.js || this.streamReady) && this.retryTimer === undefined;
  }

  private pump(): void {
    if (!this.canSend()) return;
    const nc = this.nc!;
    const batch: Entry[] = [];
    while (this.queue.length && this.inflight.size < this.maxInFlight) {
      const e = this.queue.peek()!;
      // One unacknowledged event per object, so a retry can never land after a newer version of it.
      if (this.js && this.inflightUids.has(e.event.uid)) break;
      this.queue.shift();
      this.inflight.add(e);
      this.inflightUids.add(e.event.uid);
      if (e.sent) this.counters.retried++;
      else {
        e.sent = true;
        this.counters.published++;
      }
      const h = this.headersFor(e, nc);
      const subject = subjectFor(this.cluster, e.event);
      const data = encoder.encode(JSON.stringify(e.event));
      if (this.js) this.sendJetStream(e, subject, data, h);
      else {
        nc.publish(subject, data, { headers: h });
        batch.push(e);
      }
    }
    if (batch.length) this.confirmCore(nc, batch);
  }

  private headersFor(e: Entry, nc: NatsConnection): MsgHdrs {
    const h = natsHeaders();
    h.set('Nats-Msg-Id', msgIdFor(e.event));
    if (e.gap) {
      h.set(GAP_HEADER, String(e.gap.count));
      h.set(GAP_FIRST_HEADER, String(e.gap.first));
      h.set(GAP_LAST_HEADER, String(e.gap.last));
      if (!e.gapReported) {
        e.gapReported = true;
        const report: GapReport = { dropped: e.gap.count, firstVersion: e.gap.first, lastVersion: e.gap.last, reason: 'overflow', markedVersion: e.event.version };
        // A record consumers can see even if they only watch the gap subject.
        nc.publish(`weft.${this.cluster}.sync.gap`, encoder.encode(JSON.stringify({ agent: e.event.agent, ...report })));
        this.report(report);
        this.dropEpisodeLogged = false;
      }
    }
    return h;
  }

  private report(r: GapReport): void {
    this.counters.gaps++;
    this.log(new WeftError('WEFT-S001', `${r.dropped} events dropped (versions ${r.firstVersion}..${r.lastVersion}, ${r.reason})`), {
      sink: 'nats',
      cluster: this.cluster,
      ...r,
    });
    this.emit('gap', r);
  }

  /** Core NATS: a flush (PING/PONG) that returns proves the server received everything before it. */
  private confirmCore(nc: NatsConnection, batch: Entry[]): void {
    const epoch = this.epoch;
    nc.flush().then(
      () => {
        if (epoch !== this.epoch) return;
        for (const e of batch) this.delivered(e);
        this.schedulePump();
      },
      () => {
        if (epoch !== this.epoch) return;
        this.lost('flush failed');
      },
    );
  }

  private sendJetStream(e: Entry, subject: string, data: Uint8Array, h: MsgHdrs): void {
    const epoch = this.epoch;
    this.jsClient!.publish(subject, data, { msgID: msgIdFor(e.event), headers: h, timeout: this.opts.ackTimeoutMs ?? 5000 }).then(
      (ack) => {
        if (epoch !== this.epoch) return;
        if (ack.duplicate) this.counters.duplicates++;
        this.delivered(e);
        this.schedulePump();
      },
      (err: unknown) => {
        if (epoch !== this.epoch || this.closed) return;
        this.log(new WeftError('WEFT-S004', (err as Error).message), { sink: 'nats', stream: this.stream, version: e.event.version, uid: e.event.uid });
        this.requeueInflight();
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.schedulePump();
        }, this.opts.retryDelayMs ?? 250);
      },
    );
  }

  // ---- connection ----

  private lost(why: string): void {
    if (this.connected) {
      this.connected = false;
      this.log(new WeftError('WEFT-S002', why), { sink: 'nats', servers: this.opts.servers, queued: this.queued });
      this.emit('disconnected');
    }
    this.streamReady = false;
    this.requeueInflight();
  }

  private async onConnected(): Promise<void> {
    this.connected = true;
    if (this.js) {
      this.streamReady = false;
      await this.ensureStreamWithRetry();
      if (!this.connected || this.closed) return;
    }
    this.emit('ready');
    this.schedulePump();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async ensureStreamWithRetry(): Promise<void> {
    let delay = this.opts.retryDelayMs ?? 250;
    while (this.connected && !this.closed) {
      try {
        await this.ensureStream();
        this.streamReady = true;
        return;
      } catch (err) {
        this.log(new WeftError('WEFT-S003', (err as Error).message), { sink: 'nats', stream: this.stream });
        await this.sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  /** Creates the stream, or updates its subjects and limits if it exists. */
  private async ensureStream(): Promise<void> {
    const nc = this.nc!;
    const jsm = await nc.jetstreamManager();
    const j = this.js!;
    const maxAgeMs = j.maxAgeMs ?? 7 * 24 * 3600 * 1000;
    // The server refuses a duplicate window longer than the retention.
    const duplicateWindowMs = Math.min(j.duplicateWindowMs ?? 120_000, maxAgeMs);
    const config: Partial<StreamConfig> = {
      name: this.stream,
      subjects: [`weft.${this.cluster}.>`],
      retention: RetentionPolicy.Limits,
      storage: j.storage === 'memory' ? StorageType.Memory : StorageType.File,
      discard: DiscardPolicy.Old,
      max_msgs: j.maxMsgs ?? 1_000_000,
      max_bytes: j.maxBytes ?? 1024 * 1024 * 1024,
      max_age: nanos(maxAgeMs),
      duplicate_window: nanos(duplicateWindowMs),
      num_replicas: j.replicas ?? 1,
    };
    let exists = true;
    try {
      await jsm.streams.info(this.stream);
    } catch (err) {
      const code = (err as { api_error?: { err_code?: number } }).api_error?.err_code;
      if (code === 10059 || /stream not found/i.test((err as Error).message)) exists = false;
      else throw err;
    }
    if (exists) {
      const { name: _n, storage: _s, ...changeable } = config;
      await jsm.streams.update(this.stream, changeable);
    } else {
      await jsm.streams.add(config);
    }
    this.jsClient = nc.jetstream();
  }

  private async connectLoop(): Promise<void> {
    const wait = this.opts.reconnectTimeWaitMs ?? 1000;
    // First connection: our own loop, so close() can stop it; afterwards nats.js reconnects forever.
    while (!this.closed) {
      try {
        this.nc = await connect({
          ...this.opts.connection,
          servers: this.opts.servers,
          name: `weft-sync-${this.cluster}`,
          reconnect: true,
          maxReconnectAttempts: -1,
          reconnectTimeWait: wait,
          reconnectJitter: Math.min(100, wait),
          pingInterval: this.opts.pingIntervalMs ?? 10_000,
          maxPingOut: 2,
          timeout: Math.max(wait, 2000),
        });
        break;
      } catch (err) {
        this.log(new WeftError('WEFT-S002', `cannot connect: ${(err as Error).message}`), { sink: 'nats', servers: this.opts.servers, queued: this.queued });
        await this.sleep(wait);
      }
    }
    const nc = this.nc;
    if (!nc) return;
    if (this.closed) {
      await nc.close();
      return;
    }
    void this.onConnected();
    (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.lost(`disconnected from ${String(s.data)}`);
        else if (s.type === 'reconnecting') this.emit('reconnecting');
        else if (s.type === 'reconnect') void this.onConnected();
      }
    })().catch(() => undefined);
    await nc.closed();
    this.connected = false;
  }
}
