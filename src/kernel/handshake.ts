// Client handshake (ARCHITECTURE.md, version 1): a resumable per-connection parser whose
// service-ID validation runs in the handshake kernel (assembly/handshake.ts), a batch
// entry for many requests at once, and the request/reply encoders. The plain-TypeScript
// reference is src/kernel/handshake-reference.ts.
import { WeftError } from '../errors.js';
import { loadKernel, preferredVariant, type KernelVariant } from './load.js';

export const HANDSHAKE_VERSION = 1;
export const MAX_SERVICE_ID_LENGTH = 255;
export enum ReplyCode {
  OK = 0,
  UNSUPPORTED_VERSION = 1,
  MALFORMED = 2,
  UNKNOWN_SERVICE = 3,
  FORBIDDEN = 4,
  UNAVAILABLE = 5,
  TUNNEL_FAILED = 6,
  OVERLOADED = 7,
  INTERNAL = 255,
}
export const NEED_MORE = -1;

/** How a batch parse ended. */
export enum HandshakeBatchStatus {
  /** Every byte was consumed as whole requests. */
  OK = 0,
  /** A partial request remains at the end (not in the table). */
  NEED_MORE = 1,
  /** The table filled up; parse again from offset + consumed. */
  TABLE_FULL = 2,
  /** The last request had a bad version: what follows it cannot be framed. */
  STOPPED = 3,
}
const STATUS_BAD_ARGUMENT = 255;

export class HandshakeBatchResult {
  status: HandshakeBatchStatus = HandshakeBatchStatus.OK;
  requests = 0;
  /** Bytes of whole requests from the offset the parse started at. */
  consumed = 0;
}

/**
 * Batch output, three u32 words per request: [reply code, ID offset, ID length]; offsets
 * index the parsed buffer. `result` is reused by every parse into this table.
 */
export class HandshakeTable {
  readonly capacity: number;
  readonly words: Uint32Array;
  count = 0;
  readonly result = new HandshakeBatchResult();
  constructor(capacity = 1024) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new WeftError('WEFT-K003', `handshake table capacity ${capacity}`);
    this.capacity = capacity;
    this.words = new Uint32Array(capacity * 3);
  }
  code(i: number): ReplyCode {
    return this.words[i * 3]!;
  }
  idOffset(i: number): number {
    return this.words[i * 3 + 1]!;
  }
  idLength(i: number): number {
    return this.words[i * 3 + 2]!;
  }
}

interface HandshakeExports {
  input_ptr(): number;
  table_ptr(): number;
  result_ptr(): number;
  validate(offset: number, length: number): number;
  parse_batch(length: number, base: number, capacity: number): number;
  INPUT_CAPACITY: WebAssembly.Global;
  TABLE_CAPACITY: WebAssembly.Global;
}

/** The handshake kernel of one variant, instantiated once per thread. */
export class HandshakeKernel {
  private static readonly loaded = new Map<KernelVariant, HandshakeKernel>();

  static load(variant: KernelVariant = preferredVariant()): HandshakeKernel {
    let k = HandshakeKernel.loaded.get(variant);
    if (!k) {
      k = new HandshakeKernel(variant);
      HandshakeKernel.loaded.set(variant, k);
    }
    return k;
  }

  readonly variant: KernelVariant;
  readonly inputCapacity: number;
  readonly tableCapacity: number;
  private readonly ex: HandshakeExports;
  private readonly bytes: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly inputPtr: number;
  private readonly tableWord: number;
  private readonly resultWord: number;

  private constructor(variant: KernelVariant) {
    const k = loadKernel<HandshakeExports>('handshake', variant);
    this.variant = variant;
    this.ex = k.exports;
    this.bytes = k.bytes;
    this.u32 = new Uint32Array(k.bytes.buffer);
    this.inputCapacity = Number(this.ex.INPUT_CAPACITY.value);
    this.tableCapacity = Number(this.ex.TABLE_CAPACITY.value);
    this.inputPtr = this.ex.input_ptr();
    this.tableWord = this.ex.table_ptr() >>> 2;
    this.resultWord = this.ex.result_ptr() >>> 2;
  }

  /** OK when bytes[offset..offset+length) is a valid service ID, else MALFORMED. */
  validateServiceId(bytes: Uint8Array, offset: number, length: number): ReplyCode.OK | ReplyCode.MALFORMED {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > bytes.length) {
      throw new WeftError('WEFT-K003', `service ID ${offset}+${length} outside ${bytes.length} bytes`);
    }
    if (length === 0 || length > MAX_SERVICE_ID_LENGTH) return ReplyCode.MALFORMED;
    const dst = this.bytes;
    const at = this.inputPtr;
    // Short IDs: a byte loop beats making a subarray for set().
    if (length <= 32) for (let i = 0; i < length; i++) dst[at + i] = bytes[offset + i]!;
    else dst.set(bytes.subarray(offset, offset + length), at);
    return this.ex.validate(0, length) as ReplyCode.OK | ReplyCode.MALFORMED;
  }

  /**
   * Parses the requests packed back to back in buf[offset..] into table, one copy into the
   * kernel per 64 KiB. Returns table.result.
   */
  parseRequestsInto(buf: Uint8Array, offset: number, table: HandshakeTable): HandshakeBatchResult {
    if (!Number.isInteger(offset) || offset < 0 || offset > buf.length) throw new WeftError('WEFT-K003', `offset ${offset} outside ${buf.length} bytes`);
    const capacity = Math.min(table.capacity, this.tableCapacity);
    const u32 = this.u32;
    let base = offset;
    let requests = 0;
    let status: number = HandshakeBatchStatus.OK;
    for (;;) {
      const available = buf.length - base;
      const len = Math.min(available, this.inputCapacity);
      if (len > 0) this.bytes.set(base === 0 && len === buf.length ? buf : buf.subarray(base, base + len), this.inputPtr);
      status = this.ex.parse_batch(len, base, capacity - requests);
      if (status === STATUS_BAD_ARGUMENT) throw new WeftError('WEFT-K003', 'handshake kernel refused its arguments');
      const n = u32[this.resultWord]!;
      if (n > 0) table.words.set(u32.subarray(this.tableWord, this.tableWord + n * 3), requests * 3);
      requests += n;
      base += u32[this.resultWord + 1]!;
      // A window that ended before the buffer did: carry on from where it stopped.
      const windowEnded = status === HandshakeBatchStatus.OK || status === HandshakeBatchStatus.NEED_MORE;
      if (!(windowEnded && len < available)) break;
    }
    table.count = requests;
    const r = table.result;
    r.status = status;
    r.requests = requests;
    r.consumed = base - offset;
    return r;
  }
}

/** ASCII bytes (already validated) to a string. */
function asciiString(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
}

const EMPTY = new Uint8Array(0);
const PHASE_VERSION = 0;
const PHASE_LENGTH = 1;
const PHASE_ID = 2;
const PHASE_DONE = 3;

/** Resumable parser of one client request; one per connection, reusable via reset(). */
export class HandshakeParser {
  private readonly kernel: HandshakeKernel;
  private phase = PHASE_VERSION;
  private idLength = 0;
  private got = 0;
  /** Holds the ID only when it arrives split over chunks. */
  private idBuf: Uint8Array | undefined;
  private code: number = NEED_MORE;
  private id = '';
  private tail: Uint8Array = EMPTY;

  constructor(kernel?: HandshakeKernel) {
    this.kernel = kernel ?? HandshakeKernel.load();
  }

  /** Feeds the next chunk. Returns NEED_MORE, or a final ReplyCode: OK when the request is
   *  whole and well-formed, UNSUPPORTED_VERSION (decided on the first byte) or MALFORMED.
   *  Once final, further push() calls return the same code and consume nothing. */
  push(chunk: Uint8Array): number {
    if (this.phase === PHASE_DONE) return this.code;
    const n = chunk.length;
    let i = 0;
    if (this.phase === PHASE_VERSION) {
      if (i === n) return NEED_MORE;
      if (chunk[i++] !== HANDSHAKE_VERSION) return this.finish(ReplyCode.UNSUPPORTED_VERSION, chunk, i);
      this.phase = PHASE_LENGTH;
    }
    if (this.phase === PHASE_LENGTH) {
      if (i === n) return NEED_MORE;
      this.idLength = chunk[i++]!;
      if (this.idLength === 0) return this.finish(ReplyCode.MALFORMED, chunk, i);
      this.phase = PHASE_ID;
    }
    const want = this.idLength - this.got;
    const avail = n - i;
    if (this.got === 0 && avail >= want) {
      // The whole ID is in this chunk: validate it where it lies.
      const code = this.kernel.validateServiceId(chunk, i, want);
      if (code === ReplyCode.OK) this.id = asciiString(chunk, i, i + want);
      return this.finish(code, chunk, i + want);
    }
    const take = Math.min(want, avail);
    const idBuf = (this.idBuf ??= new Uint8Array(MAX_SERVICE_ID_LENGTH));
    idBuf.set(chunk.subarray(i, i + take), this.got);
    this.got += take;
    if (this.got < this.idLength) return NEED_MORE;
    const code = this.kernel.validateServiceId(idBuf, 0, this.idLength);
    if (code === ReplyCode.OK) this.id = asciiString(idBuf, 0, this.idLength);
    return this.finish(code, chunk, i + take);
  }

  private finish(code: number, chunk: Uint8Array, end: number): number {
    this.phase = PHASE_DONE;
    this.code = code;
    this.tail = chunk.subarray(end);
    return code;
  }

  /** After OK: the destination service ID (ASCII); '' otherwise. */
  get serviceId(): string {
    return this.id;
  }

  /** After a final result: the bytes of the chunk that produced it that came after the
   *  request (a subarray, possibly empty) — the agent keeps and delivers them. */
  get rest(): Uint8Array {
    return this.tail;
  }

  reset(): void {
    this.phase = PHASE_VERSION;
    this.idLength = 0;
    this.got = 0;
    this.code = NEED_MORE;
    this.id = '';
    this.tail = EMPTY;
  }
}

/** [1, N, ...id]. Throws WEFT-K003 unless the ID is 1..255 ASCII characters (label rules
 *  are the agent's to judge, so a client can be made to send a bad one). */
export function encodeRequest(serviceId: string): Uint8Array {
  const n = serviceId.length;
  if (n < 1 || n > MAX_SERVICE_ID_LENGTH) throw new WeftError('WEFT-K003', `service ID of ${n} characters (1..${MAX_SERVICE_ID_LENGTH})`);
  const out = new Uint8Array(2 + n);
  out[0] = HANDSHAKE_VERSION;
  out[1] = n;
  for (let i = 0; i < n; i++) {
    const c = serviceId.charCodeAt(i);
    if (c > 0x7f) throw new WeftError('WEFT-K003', 'service ID must be ASCII');
    out[2 + i] = c;
  }
  return out;
}

/** [1, code]. */
export function encodeReply(code: ReplyCode): Uint8Array {
  if (!Number.isInteger(code) || code < 0 || code > 255) throw new WeftError('WEFT-K003', `reply code ${code}`);
  return Uint8Array.of(HANDSHAKE_VERSION, code);
}

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const SERVICE_ID = new RegExp(`^(${LABEL})\\.(${LABEL})\\.(${LABEL})$`);

/** Splits a service ID into its parts or returns null if not <service>.<meshlet>.<ns> of DNS labels. */
export function parseServiceId(id: string): { service: string; meshlet: string; namespace: string } | null {
  if (id.length > MAX_SERVICE_ID_LENGTH) return null;
  const m = SERVICE_ID.exec(id);
  return m ? { service: m[1]!, meshlet: m[2]!, namespace: m[3]! } : null;
}
