// Same-port protocol detection: h2c with prior knowledge starts with the
// HTTP/2 connection preface, which no HTTP/1 request does. The HTTP/1 server
// takes the socket itself (the sniffed bytes are unshifted). The HTTP/2 server
// reads the socket handle directly and would miss unshifted bytes, so it gets a
// Duplex that replays the first chunk and then relays the socket: one extra
// copy per read on h2c connections only.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** True when the first bytes are (a prefix of) the HTTP/2 preface. */
export function isH2Preface(chunk: Buffer): boolean {
  const n = Math.min(chunk.length, PREFACE.length);
  return n >= 3 && chunk.compare(PREFACE, 0, n, 0, n) === 0;
}

export class PrependedStream extends Duplex {
  readonly #socket: Socket;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;

  constructor(socket: Socket, head: Buffer) {
    super({ allowHalfOpen: true });
    this.#socket = socket;
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.push(head);
    socket.on('data', (d: Buffer) => {
      if (!this.push(d)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (e) => this.destroy(e));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#socket.write(chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#socket.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#socket.destroy();
    cb(err);
  }

  setTimeout(ms: number, cb?: () => void): this {
    this.#socket.setTimeout(ms, cb);
    return this;
  }
  setNoDelay(v?: boolean): this {
    this.#socket.setNoDelay(v);
    return this;
  }
  setKeepAlive(enable?: boolean, delay?: number): this {
    this.#socket.setKeepAlive(enable, delay);
    return this;
  }
  ref(): this {
    this.#socket.ref();
    return this;
  }
  unref(): this {
    this.#socket.unref();
    return this;
  }
}
