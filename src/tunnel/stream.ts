// One multiplexed stream of a TunnelSession, as a Node Duplex.
//
// Writable side: chunks wait in the stream (one _writev batch at a time) until
// the session frames them, so write() returns false once the stream's
// highWaterMark is reached and the window is spent: a slow reader on the far
// side never makes this side buffer more than the window plus one batch.
// Readable side: DATA payloads are pushed as slices of the record they came
// in; credit goes back to the peer (WINDOW_UPDATE) as the app consumes them.
//
// end() sends FIN (clean half-close); destroy() sends RST CANCEL (abort); a
// peer's RST destroys the stream with a TunnelStreamError naming the RST
// code; a session that dies destroys its open streams with WEFT-T008 — a
// reset, never a clean end.
//
// Per-stream state is a handful of numbers and references on the Duplex
// itself (test/tunnel/memory.test.ts measures the bytes per idle stream).
import { Duplex } from 'node:stream';
import { WeftError } from '../errors.js';
import { TunnelErrorCode } from '../kernel/frame.js';

export interface StreamInfo {
  /** Destination service ID, `<service>.<meshlet>.<ns>`. */
  service: string;
  /** The meshlet that opened it, `<meshlet>.<ns>`. */
  source: string;
}

/** The RST code's name, e.g. 'UNKNOWN_SERVICE' (or 'CODE_<n>' for a code this version does not name). */
export function rstCodeName(code: number): string {
  return TunnelErrorCode[code] ?? `CODE_${code}`;
}

/** A stream aborted by an RST: `rstCode` is the code, `rstName` its name (docs/protocol.md §1.5). */
export class TunnelStreamError extends WeftError {
  readonly rstCode: number;
  readonly rstName: string;
  constructor(rstCode: number, message: string, details: Record<string, unknown> = {}) {
    super('WEFT-T009', `${rstCodeName(rstCode)}: ${message}`, { rst: rstCodeName(rstCode), ...details });
    this.rstCode = rstCode;
    this.rstName = rstCodeName(rstCode);
  }
}

/** What a stream needs from its session (implemented by TunnelSession). */
export interface StreamOwner {
  _streamWrite(s: TunnelStream): void;
  _streamEnd(s: TunnelStream): void;
  _streamRead(s: TunnelStream): void;
  _streamDestroyed(s: TunnelStream, err: Error | null): void;
  _streamAccept(s: TunnelStream): void;
  _streamReject(s: TunnelStream, code: number): void;
}

export const StreamFlag = {
  /** We sent OPEN. */
  LOCAL: 1,
  /** Accepted (by us for a peer's stream, by the peer for ours). */
  ACCEPTED: 2,
  /** The acceptor refused it. */
  REJECTED: 4,
  /** FIN queued / sent by us. */
  LOCAL_FIN: 8,
  /** FIN received. */
  REMOTE_FIN: 16,
  /** Reset either way, or the session died: nothing more is sent for it. */
  RESET: 32,
  /** In the session's ready list. */
  QUEUED: 64,
} as const;

/**
 * Service and meshlet names are few and streams many: each stream holds the one
 * copy of a name instead of the fresh string decoding an OPEN made (≈ 32 B each
 * per stream). Bounded: the table starts over when it reaches 1,024 names.
 */
const names = new Map<string, string>();
function intern(name: string): string {
  const known = names.get(name);
  if (known !== undefined) return known;
  if (names.size >= 1024) names.clear();
  names.set(name, name);
  return name;
}

export class TunnelStream extends Duplex {
  readonly id: number;
  readonly service: string;
  readonly source: string;
  /** @internal */ owner: StreamOwner;
  /** @internal */ flags: number;
  /** @internal Credit to send (the peer's window for this stream). */ sendWindow: number;
  /** @internal Credit the peer still has toward us. */ recvWindow: number;
  /** @internal Bytes pushed to the readable side, and how many of them were credited back. */ pushed = 0;
  /** @internal */ credited = 0;
  /** @internal Of the bytes pushed, how many the session window has had back. */ sessionCredited = 0;
  /** @internal Chunks waiting to be framed (one _writev batch), the read offset in the first, the bytes left. */
  chunks: Buffer[] | null = null;
  /** @internal */ chunkIndex = 0;
  /** @internal */ chunkOffset = 0;
  /** @internal */ pending = 0;
  /** @internal */ writeCallback: ((err?: Error | null) => void) | null = null;
  /** @internal */ finalCallback: ((err?: Error | null) => void) | null = null;
  /** @internal Payloads received in the current socket read, delivered as one chunk at its end. */ inbox: Buffer[] | null = null;
  /** @internal */ inboxBytes = 0;
  /** @internal The peer's FIN arrived behind data still in the inbox. */ finQueued = false;
  /** @internal Opener side: settles openStream(). */ opened: { resolve: (s: TunnelStream) => void; reject: (e: Error) => void } | null = null;

  /** @internal Streams are made by TunnelSession (openStream, or a peer's OPEN). */
  constructor(owner: StreamOwner, id: number, info: StreamInfo, flags: number, sendWindow: number, recvWindow: number, highWaterMark: number) {
    super({ allowHalfOpen: true, readableHighWaterMark: highWaterMark, writableHighWaterMark: highWaterMark, decodeStrings: true });
    this.owner = owner;
    this.id = id;
    this.service = intern(info.service);
    this.source = intern(info.source);
    this.flags = flags;
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** True when this side opened the stream. */
  get local(): boolean {
    return (this.flags & StreamFlag.LOCAL) !== 0;
  }

  /** Acceptor side: take the stream now (writing to it or returning from onStream also accepts). */
  accept(): void {
    this.owner._streamAccept(this);
  }

  /**
   * Acceptor side: refuse the stream with an RST code (UNKNOWN_SERVICE, FORBIDDEN,
   * UNAVAILABLE, ... — docs/protocol.md §1.5). The stream is then closed quietly here.
   */
  reject(code: TunnelErrorCode | number = TunnelErrorCode.STREAM_REFUSED): void {
    this.owner._streamReject(this, code);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (err?: Error | null) => void): void {
    const list = new Array<Buffer>(chunks.length);
    let n = 0;
    for (let i = 0; i < chunks.length; i++) {
      list[i] = chunks[i]!.chunk;
      n += list[i]!.length;
    }
    this.queue(list, n, callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.queue([chunk], chunk.length, callback);
  }

  private queue(list: Buffer[], n: number, callback: (err?: Error | null) => void): void {
    if (this.flags & StreamFlag.RESET) return callback(new WeftError('WEFT-T008', 'stream is reset'));
    if (n === 0) return callback();
    this.chunks = list;
    this.chunkIndex = 0;
    this.chunkOffset = 0;
    this.pending = n;
    this.writeCallback = callback;
    this.owner._streamWrite(this);
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (this.flags & StreamFlag.RESET) return callback(new WeftError('WEFT-T008', 'stream is reset'));
    this.finalCallback = callback;
    this.owner._streamEnd(this);
  }

  override _read(): void {
    this.owner._streamRead(this);
  }

  /**
   * Credit is given back as the app consumes: _read alone is not enough (Node
   * calls it before the chunk leaves the buffer, then not again until the next
   * push, which a peer out of credit never sends).
   */
  override read(size?: number): any {
    const chunk = super.read(size);
    if (chunk !== null) this.owner._streamRead(this);
    return chunk;
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.owner._streamDestroyed(this, err);
    callback(err);
  }
}
