// Splices an accepted client socket to an upstream stream: bytes both ways with
// backpressure (write() false pauses the source until 'drain'), each side's FIN
// passed on separately (half-close), an error or abort on either side destroys
// both, an idle timer closes both when nothing moves. Chunks are forwarded as
// Node hands them over: no copies, no per-chunk allocation here.
//
// Memory per idle splice is kept small because an agent holds one per open
// stream (target < 4 KiB per idle stream, all of it included — docs/tunnel.md):
// the listeners are module-level functions shared by every splice (an emitter
// calls them with `this` = itself, and finds its splice under a symbol), not
// closures per splice; 'drain' listeners exist only while a side is paused; and
// idle timeouts are one sweep timer per timeout value (IdleSweep), not a
// Timeout per socket.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export type SpliceEnd = 'closed' | 'idle' | 'error' | 'aborted';

const kSplice = Symbol('weft.splice');
type Spliced = Duplex & { [kSplice]?: Splice };

export class Splice {
  /** Client → service bytes. */
  bytesUp = 0;
  /** Service → client bytes. */
  bytesDown = 0;
  /** Bytes already reported to metrics (flushMetrics keeps counters live for long streams). */
  reportedUp = 0;
  reportedDown = 0;
  end: SpliceEnd = 'closed';
  readonly startedAt = performance.now();
  /** @internal Sides not closed yet. */ open = 2;
  /** @internal Bytes moved since the idle sweep last looked; its count of quiet sweeps. */ active = false;
  /** @internal */ quiet = 0;
  /** @internal */ sweep: IdleSweep | undefined;

  constructor(
    readonly client: Socket,
    readonly upstream: Duplex,
    idleMs: number,
    /** @internal */ readonly onDone: (splice: Splice) => void,
  ) {
    const c = client as Spliced;
    const u = upstream as Spliced;
    c[kSplice] = this;
    u[kSplice] = this;
    c.on('data', onClientData);
    u.on('data', onUpstreamData);
    c.on('end', onSideEnd);
    u.on('end', onSideEnd);
    c.on('error', onSideError);
    u.on('error', onSideError);
    c.on('close', onSideClose);
    u.on('close', onSideClose);
    if (idleMs > 0) IdleSweep.for(idleMs).add(this);
    c.resume();
  }

  /** Closes both sides now. */
  abort(reason: SpliceEnd): void {
    if (this.end === 'closed') this.end = reason;
    this.client.destroy();
    this.upstream.destroy();
  }

  /** @internal The side the bytes of `side` go to. */
  other(side: Duplex): Duplex {
    return side === this.client ? this.upstream : this.client;
  }
}

// ------------------------------------------------------------ shared listeners (this = the emitter)

function onClientData(this: Spliced, chunk: Buffer): void {
  const s = this[kSplice]!;
  s.bytesUp += chunk.length;
  s.active = true;
  forward(this, s.upstream, chunk);
}

function onUpstreamData(this: Spliced, chunk: Buffer): void {
  const s = this[kSplice]!;
  s.bytesDown += chunk.length;
  s.active = true;
  forward(this, s.client, chunk);
}

/** Writes `chunk` to `to`; when `to` buffers, pauses `from` until `to` drains. */
function forward(from: Spliced, to: Duplex, chunk: Buffer): void {
  if (!to.write(chunk) && !from.isPaused()) {
    from.pause();
    to.on('drain', onDrain);
  }
}

/** On the side that was written to: resume the side that feeds it. */
function onDrain(this: Spliced): void {
  this.off('drain', onDrain);
  const s = this[kSplice];
  if (s) s.other(this).resume();
}

function onSideEnd(this: Spliced): void {
  this[kSplice]?.other(this).end();
}

function onSideError(this: Spliced): void {
  this[kSplice]?.abort('error');
}

function onSideClose(this: Spliced): void {
  const s = this[kSplice];
  if (!s) return;
  const other = s.other(this);
  // A side that closed without finishing both directions was cut: cut the other too.
  if (!other.destroyed && !(this.readableEnded && this.writableFinished)) {
    if (s.end === 'closed') s.end = 'aborted';
    other.destroy();
  }
  if (--s.open === 0) {
    s.sweep?.delete(s);
    s.onDone(s);
  }
}

// ------------------------------------------------------------ idle timeouts

/**
 * One timer for every splice with the same idle timeout: every `period`
 * (1/8 of the timeout, 10 ms to 5 s) it looks at each splice; one that moved
 * bytes since the last look starts counting again, one that did not counts a
 * quiet period, and is closed once its quiet periods add up to the timeout. A
 * stream is therefore closed after between `idleMs` and `idleMs + period` of
 * silence (socket.setTimeout's precision is not needed here, and it costs a
 * Timeout and a bound function per socket, and a timer update per read).
 */
export class IdleSweep {
  static readonly #byTimeout = new Map<number, IdleSweep>();

  /** The sweep for this timeout (made on first use, dropped when it has no splices). */
  static for(idleMs: number): IdleSweep {
    let s = IdleSweep.#byTimeout.get(idleMs);
    if (!s) IdleSweep.#byTimeout.set(idleMs, (s = new IdleSweep(idleMs)));
    return s;
  }

  readonly period: number;
  readonly #quietLimit: number;
  readonly #splices = new Set<Splice>();
  #timer: NodeJS.Timeout | undefined;

  private constructor(readonly idleMs: number) {
    this.period = Math.min(5000, Math.max(10, Math.floor(idleMs / 8)));
    this.#quietLimit = Math.ceil(idleMs / this.period);
  }

  get size(): number {
    return this.#splices.size;
  }

  add(s: Splice): void {
    s.sweep = this;
    // Counted as activity: the quiet count starts at the next tick, so no splice is closed
    // before a full `idleMs` of silence however far into a period it was added.
    s.active = true;
    s.quiet = 0;
    this.#splices.add(s);
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#tick(), this.period);
      this.#timer.unref();
    }
  }

  delete(s: Splice): void {
    s.sweep = undefined;
    this.#splices.delete(s);
    if (this.#splices.size === 0) {
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = undefined;
      IdleSweep.#byTimeout.delete(this.idleMs);
    }
  }

  #tick(): void {
    for (const s of this.#splices) {
      if (s.active) {
        s.active = false;
        s.quiet = 0;
      } else if (++s.quiet >= this.#quietLimit) {
        this.delete(s);
        s.abort('idle');
      }
    }
  }
}
