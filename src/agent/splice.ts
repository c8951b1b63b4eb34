// Splices an accepted client socket to an upstream stream: bytes both ways with
// backpressure (write() false pauses the source until 'drain'), each side's FIN
// passed on separately (half-close), an error or abort on either side destroys
// both, an idle timer closes both when nothing moves. Chunks are forwarded as
// Node hands them over: no copies, no per-chunk allocation here.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export type SpliceEnd = 'closed' | 'idle' | 'error' | 'aborted';

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
  #open = 2;

  constructor(
    readonly client: Socket,
    readonly upstream: Duplex,
    idleMs: number,
    onDone: (splice: Splice) => void,
  ) {
    const c = client;
    const u = upstream;
    c.on('data', (chunk: Buffer) => {
      this.bytesUp += chunk.length;
      if (!u.write(chunk)) c.pause();
    });
    u.on('drain', () => c.resume());
    u.on('data', (chunk: Buffer) => {
      this.bytesDown += chunk.length;
      if (!c.write(chunk)) u.pause();
    });
    c.on('drain', () => u.resume());
    c.on('end', () => u.end());
    u.on('end', () => c.end());
    const onError = () => this.abort('error');
    c.on('error', onError);
    u.on('error', onError);
    const closed = (self: Duplex, other: Duplex) => () => {
      // A side that closed without finishing both directions was cut: cut the other too.
      if (!other.destroyed && !(self.readableEnded && self.writableFinished)) {
        if (this.end === 'closed') this.end = 'aborted';
        other.destroy();
      }
      if (--this.#open === 0) onDone(this);
    };
    c.on('close', closed(c, u));
    u.on('close', closed(u, c));
    if (idleMs > 0) {
      c.setTimeout(idleMs);
      c.on('timeout', () => this.abort('idle'));
    }
    c.resume();
  }

  /** Closes both sides now. */
  abort(reason: SpliceEnd): void {
    if (this.end === 'closed') this.end = reason;
    this.client.destroy();
    this.upstream.destroy();
  }
}
