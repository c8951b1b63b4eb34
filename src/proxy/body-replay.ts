// A request body fed to the current upstream attempt while it is kept (up to a
// cap) for retries, like Envoy's per-request buffer: a retry first replays what
// was kept, then goes on with what is still arriving. Past the cap the request
// can no longer be retried. Backpressure: the client is paused while the
// current attempt does not take more.
import type { Readable, Writable } from 'node:stream';

export class BodyReplay {
  readonly #src: Readable;
  readonly #cap: number;
  #chunks: Buffer[] = [];
  #size = 0;
  #overflow = false;
  #ended = false;
  #target: Writable | undefined;
  bytes = 0;

  constructor(src: Readable, cap: number) {
    this.#src = src;
    this.#cap = cap;
    src.on('data', (c: Buffer) => {
      this.bytes += c.length;
      if (!this.#overflow) {
        if (this.#size + c.length > this.#cap) {
          this.#overflow = true;
          this.#chunks = [];
        } else {
          this.#chunks.push(c);
          this.#size += c.length;
        }
      }
      const t = this.#target;
      if (t && !t.destroyed && !t.write(c)) src.pause();
    });
    src.on('end', () => {
      this.#ended = true;
      const t = this.#target;
      if (t && !t.destroyed) t.end();
    });
    src.pause();
  }

  /** Whether a new attempt can get the whole body. */
  get replayable(): boolean {
    return !this.#overflow;
  }

  /** Makes `target` the current attempt: writes what was kept, then streams the rest. */
  pipeTo(target: Writable): void {
    this.#target = target;
    for (const c of this.#chunks) target.write(c);
    target.on('drain', () => {
      if (this.#target === target) this.#src.resume();
    });
    if (this.#ended) target.end();
    else this.#src.resume();
  }

  /** The current attempt was abandoned. */
  detach(): void {
    this.#target = undefined;
  }
}
