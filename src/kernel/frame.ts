// Tunnel frame codec: typed wrapper over the frame kernel (assembly/frame.ts).
// Wire format and rules: docs/protocol.md. The plain-TypeScript twin used as the
// reference in tests and benches is src/kernel/frame-reference.ts.
import { WeftError } from '../errors.js';
import { loadKernel, preferredVariant, type KernelVariant } from './load.js';

export const FRAME_HEADER_SIZE = 9;
/** Default limit on a frame's payload length; a session may negotiate another. */
export const DEFAULT_MAX_FRAME_SIZE = 16384;
/** The smallest limit a caller may pass: it must admit the largest OPEN payload. */
export const MIN_MAX_FRAME_SIZE = 512;
/** The largest payload length the 24-bit length field can carry. */
export const MAX_FRAME_SIZE_HARD_CAP = 0xffffff;
export const MAX_STREAM_ID = 0x7fffffff;

export enum FrameType {
  DATA = 0x00,
  OPEN = 0x01,
  WINDOW_UPDATE = 0x02,
  FIN = 0x03,
  RST = 0x04,
  PING = 0x05,
  PONG = 0x06,
  GOAWAY = 0x07,
}
/** Types from here up are extensions: a receiver that does not know one skips it. */
export const FIRST_EXTENSION_TYPE = 0x80;

/** Flags defined in version 1 (per type; any other bit on a core type is an error). */
export const FrameFlag = {
  /** On DATA: the last bytes of the stream in this direction (as if a FIN followed). */
  FIN: 0x01,
} as const;

/** Payload sizes fixed by the protocol. */
export const OPEN_MAX_PAYLOAD = 512;
export const WINDOW_UPDATE_PAYLOAD = 4;
export const RST_PAYLOAD = 4;
export const PING_PAYLOAD = 8;
export const GOAWAY_PAYLOAD = 8;

/** Error codes carried in RST and GOAWAY payloads. */
export enum TunnelErrorCode {
  NO_ERROR = 0,
  PROTOCOL_ERROR = 1,
  FLOW_CONTROL_ERROR = 2,
  STREAM_REFUSED = 3,
  CANCEL = 4,
  INTERNAL_ERROR = 5,
  FRAME_SIZE_ERROR = 6,
  UNKNOWN_SERVICE = 7,
  FORBIDDEN = 8,
  UNAVAILABLE = 9,
}

/** Outcome of a batch decode (and the kernel's status codes). */
export enum FrameStatus {
  /** Every byte was consumed as whole frames. */
  OK = 0,
  /** A partial frame remains at the end: keep the tail from offset + consumed. */
  NEED_MORE = 1,
  /** The table filled up; decode again from offset + consumed. */
  TABLE_FULL = 2,
  BAD_TYPE = 16,
  BAD_FLAGS = 17,
  RESERVED_BIT = 18,
  TOO_LARGE = 19,
  BAD_STREAM = 20,
  BAD_LENGTH = 21,
}
/** Kernel-internal: the next header lies beyond the copied window. */
const STATUS_WINDOW = 3;
const STATUS_BAD_ARGUMENT = 255;

export function isFrameError(status: number): boolean {
  return status >= 16;
}

export class DecodeResult {
  status: FrameStatus = FrameStatus.OK;
  /** Whole frames written to the table. */
  frames = 0;
  /** Bytes of whole frames, from the offset the decode started at. */
  consumed = 0;
  /** For an error: absolute offset in the buffer of the bad frame's header; else -1. */
  errorOffset = -1;
  /** For NEED_MORE: bytes still missing for the next frame (header first, then payload). */
  needed = 0;
}

/**
 * Decoded frames, four u32 words each: [type | flags << 8, stream id, payload offset,
 * payload length]. Payload offsets index the buffer that was decoded. Also the input of
 * the batch encoder (payload offset ignored there). `result` is reused by every decode
 * into this table.
 */
export class FrameTable {
  readonly capacity: number;
  readonly words: Uint32Array;
  count = 0;
  readonly result = new DecodeResult();

  /** `words`, if given, is the storage (4 per entry); FrameKernel.table uses kernel memory. */
  constructor(capacity = 1024, words?: Uint32Array) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new WeftError('WEFT-K003', `frame table capacity ${capacity}`);
    if (words && words.length < capacity * 4) throw new WeftError('WEFT-K003', `frame table storage of ${words.length} words for ${capacity} entries`);
    this.capacity = capacity;
    this.words = words ?? new Uint32Array(capacity * 4);
  }
  type(i: number): number {
    return this.words[i * 4]! & 0xff;
  }
  flags(i: number): number {
    return this.words[i * 4]! >>> 8;
  }
  streamId(i: number): number {
    return this.words[i * 4 + 1]!;
  }
  payloadOffset(i: number): number {
    return this.words[i * 4 + 2]!;
  }
  payloadLength(i: number): number {
    return this.words[i * 4 + 3]!;
  }
  /** Sets entry i (for the encoder) and returns this. */
  set(i: number, type: number, flags: number, streamId: number, payloadLength: number, payloadOffset = 0): this {
    const w = i * 4;
    this.words[w] = (type & 0xff) | ((flags & 0xff) << 8);
    this.words[w + 1] = streamId;
    this.words[w + 2] = payloadOffset;
    this.words[w + 3] = payloadLength;
    return this;
  }
}

// Per-type rules, the same table the kernel builds: allowed flags, stream rule, length bounds.
const ANY = 0;
const STREAM_ZERO = 1;
const STREAM_NONZERO = 2;
interface TypeRule {
  flags: number;
  stream: number;
  min: number;
  max: number;
}
const RULES: (TypeRule | undefined)[] = new Array(256);
for (let t = FIRST_EXTENSION_TYPE; t < 256; t++) RULES[t] = { flags: 0xff, stream: ANY, min: 0, max: MAX_FRAME_SIZE_HARD_CAP };
RULES[FrameType.DATA] = { flags: FrameFlag.FIN, stream: STREAM_NONZERO, min: 1, max: MAX_FRAME_SIZE_HARD_CAP };
RULES[FrameType.OPEN] = { flags: 0, stream: STREAM_NONZERO, min: 4, max: OPEN_MAX_PAYLOAD };
RULES[FrameType.WINDOW_UPDATE] = { flags: 0, stream: ANY, min: WINDOW_UPDATE_PAYLOAD, max: WINDOW_UPDATE_PAYLOAD };
RULES[FrameType.FIN] = { flags: 0, stream: STREAM_NONZERO, min: 0, max: 0 };
RULES[FrameType.RST] = { flags: 0, stream: STREAM_NONZERO, min: RST_PAYLOAD, max: RST_PAYLOAD };
RULES[FrameType.PING] = { flags: 0, stream: STREAM_ZERO, min: PING_PAYLOAD, max: PING_PAYLOAD };
RULES[FrameType.PONG] = { flags: 0, stream: STREAM_ZERO, min: PING_PAYLOAD, max: PING_PAYLOAD };
RULES[FrameType.GOAWAY] = { flags: 0, stream: STREAM_ZERO, min: GOAWAY_PAYLOAD, max: GOAWAY_PAYLOAD };

/** The first rule a header breaks (docs/protocol.md order), or FrameStatus.OK. */
export function frameHeaderError(type: number, flags: number, streamId: number, length: number, maxFrame: number): FrameStatus {
  const r = RULES[type];
  if (r === undefined) return FrameStatus.BAD_TYPE;
  if ((flags & ~r.flags & 0xff) !== 0 || flags > 0xff) return FrameStatus.BAD_FLAGS;
  if (streamId > MAX_STREAM_ID) return FrameStatus.RESERVED_BIT;
  if (length > maxFrame) return FrameStatus.TOO_LARGE;
  if (r.stream === STREAM_ZERO && streamId !== 0) return FrameStatus.BAD_STREAM;
  if (r.stream === STREAM_NONZERO && streamId === 0) return FrameStatus.BAD_STREAM;
  if (length < r.min || length > r.max) return FrameStatus.BAD_LENGTH;
  return FrameStatus.OK;
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

function checkMaxFrame(maxFrame: number): void {
  if (!Number.isInteger(maxFrame) || maxFrame < MIN_MAX_FRAME_SIZE || maxFrame > MAX_FRAME_SIZE_HARD_CAP) {
    throw new WeftError('WEFT-K003', `max frame size ${maxFrame} outside ${MIN_MAX_FRAME_SIZE}..${MAX_FRAME_SIZE_HARD_CAP}`);
  }
}

function checkRange(buf: Uint8Array, offset: number, need: number): void {
  if (!(buf instanceof Uint8Array)) throw new WeftError('WEFT-K003', 'expected a Uint8Array');
  if (!Number.isInteger(offset) || offset < 0 || offset + need > buf.length) {
    throw new WeftError('WEFT-K003', `offset ${offset} (+${need}) outside a buffer of ${buf.length} bytes`);
  }
  if (buf.length > 0xffffffff) throw new WeftError('WEFT-K003', 'buffers over 4 GiB cannot be decoded');
}

/**
 * Writes one 9-byte header at out[offset] and returns the offset after it; throws
 * WEFT-K004 for a header the decoder would reject under maxFrame. Plain stores: one
 * header is less work than a crossing into the kernel (the batch form uses the kernel).
 */
export function encodeFrameHeaderInto(
  out: Uint8Array,
  offset: number,
  type: number,
  flags: number,
  streamId: number,
  length: number,
  maxFrame = MAX_FRAME_SIZE_HARD_CAP,
): number {
  checkRange(out, offset, FRAME_HEADER_SIZE);
  checkMaxFrame(maxFrame);
  if (!isU32(type) || !isU32(flags) || !isU32(streamId) || !isU32(length)) {
    throw new WeftError('WEFT-K003', 'frame header fields must be integers in 0..2^32-1', { type, flags, streamId, length });
  }
  const err = frameHeaderError(type, flags, streamId, length, maxFrame);
  if (err !== FrameStatus.OK) throw new WeftError('WEFT-K004', `refusing to encode: ${FrameStatus[err]}`, { type, flags, streamId, length });
  out[offset] = type;
  out[offset + 1] = flags;
  out[offset + 2] = streamId >>> 24;
  out[offset + 3] = streamId >>> 16;
  out[offset + 4] = streamId >>> 8;
  out[offset + 5] = streamId;
  out[offset + 6] = length >>> 16;
  out[offset + 7] = length >>> 8;
  out[offset + 8] = length;
  return offset + FRAME_HEADER_SIZE;
}

interface FrameExports {
  input_ptr(): number;
  table_ptr(): number;
  headers_ptr(): number;
  result_ptr(): number;
  decode(windowLen: number, available: number, base: number, maxFrame: number, first: number, capacity: number): number;
  encode(first: number, count: number, maxFrame: number): number;
  INPUT_CAPACITY: WebAssembly.Global;
  TABLE_CAPACITY: WebAssembly.Global;
}

/** The first window copied into the kernel; it grows while headers are dense. */
const FIRST_WINDOW = 4096;
/** The window after a jump over a large payload: room for the next header and a few more. */
const SPARSE_WINDOW = 64;
/**
 * A jump past the window by more than this means large payloads: copying them would cost
 * more than a call per header (measured: ~100 ns a call, ~0.03 ns a copied byte).
 */
const SPARSE_JUMP = 4096;

/** The frame kernel of one variant, instantiated once per thread. */
export class FrameKernel {
  private static readonly loaded = new Map<KernelVariant, FrameKernel>();

  /** The kernel of a variant (default: the preferred one), loaded once per thread. */
  static load(variant: KernelVariant = preferredVariant()): FrameKernel {
    let k = FrameKernel.loaded.get(variant);
    if (!k) {
      k = new FrameKernel(variant);
      FrameKernel.loaded.set(variant, k);
    }
    return k;
  }

  readonly variant: KernelVariant;
  /** Bytes the kernel decodes per window, and frames per call. */
  readonly inputCapacity: number;
  readonly tableCapacity: number;
  /** The kernel's input window: write bytes here and call decodeInputInto to skip the copy. */
  readonly input: Uint8Array;
  /**
   * A table stored in the kernel's own memory: decoding into it skips copying the entries
   * out. Its contents are valid until the next decode or encode on this kernel.
   */
  readonly table: FrameTable;
  private readonly ex: FrameExports;
  private readonly bytes: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly inputPtr: number;
  private readonly tableWord: number;
  private readonly headersPtr: number;
  private readonly resultWord: number;

  private constructor(variant: KernelVariant) {
    const k = loadKernel<FrameExports>('frame', variant);
    this.variant = variant;
    this.ex = k.exports;
    this.bytes = k.bytes;
    this.u32 = new Uint32Array(k.bytes.buffer);
    this.inputCapacity = Number(this.ex.INPUT_CAPACITY.value);
    this.tableCapacity = Number(this.ex.TABLE_CAPACITY.value);
    this.inputPtr = this.ex.input_ptr();
    this.tableWord = this.ex.table_ptr() >>> 2;
    this.headersPtr = this.ex.headers_ptr();
    this.resultWord = this.ex.result_ptr() >>> 2;
    this.input = k.bytes.subarray(this.inputPtr, this.inputPtr + this.inputCapacity);
    this.table = new FrameTable(this.tableCapacity, this.u32.subarray(this.tableWord, this.tableWord + this.tableCapacity * 4));
  }

  /**
   * Decodes the whole frames in buf[offset..] into table (up to table.capacity). Only headers
   * need to be in the kernel: the bytes are copied in windows that grow while headers are
   * dense and shrink to one header's neighbourhood after a payload of more than 4 KiB, so a
   * buffer of large DATA frames costs a call per frame rather than a copy of its payloads.
   * Returns table.result.
   */
  decodeFramesInto(buf: Uint8Array, offset: number, maxFrame: number, table: FrameTable): DecodeResult {
    checkRange(buf, offset, 0);
    checkMaxFrame(maxFrame);
    const ex = this.ex;
    const u32 = this.u32;
    const rw = this.resultWord;
    let base = offset;
    let frames = 0;
    /** Entries in the kernel's table not yet copied to the caller's. */
    let pending = 0;
    let window = FIRST_WINDOW;
    for (;;) {
      const available = buf.length - base;
      const len = Math.min(available, window, this.inputCapacity);
      if (len > 0) this.bytes.set(base === 0 && len === buf.length ? buf : buf.subarray(base, base + len), this.inputPtr);
      const room = Math.min(table.capacity - frames, this.tableCapacity - pending);
      const status = ex.decode(len, available, base, maxFrame, pending, room);
      if (status === STATUS_BAD_ARGUMENT) throw new WeftError('WEFT-K003', 'frame kernel refused its arguments');
      const n = u32[rw]!;
      frames += n;
      pending += n;
      const consumed = u32[rw + 1]!;
      base += consumed;
      if (status === STATUS_WINDOW) {
        // A header beyond the window. After a long jump over a payload, copy just the next
        // header's neighbourhood; otherwise headers are dense enough to copy a bigger window.
        window = consumed - len > SPARSE_JUMP ? SPARSE_WINDOW : window * 4;
        continue;
      }
      if (status === FrameStatus.TABLE_FULL && frames < table.capacity) {
        // The kernel's table is full, the caller's is not: flush and go on.
        this.flush(table, frames - pending, pending);
        pending = 0;
        window = FIRST_WINDOW;
        continue;
      }
      this.flush(table, frames - pending, pending);
      return this.finish(status, frames, base - offset, base, u32[rw + 2]!, table);
    }
  }

  private flush(table: FrameTable, at: number, count: number): void {
    if (table === this.table) return; // the kernel wrote the entries in place
    if (count > 0) table.words.set(this.u32.subarray(this.tableWord, this.tableWord + count * 4), at * 4);
  }

  /** Decodes `length` bytes already written to `input` (no copy in); payload offsets index `input`. */
  decodeInputInto(length: number, maxFrame: number, table: FrameTable): DecodeResult {
    if (!Number.isInteger(length) || length < 0 || length > this.inputCapacity) {
      throw new WeftError('WEFT-K003', `input length ${length} outside 0..${this.inputCapacity}`);
    }
    checkMaxFrame(maxFrame);
    const status = this.ex.decode(length, length, 0, maxFrame, 0, Math.min(table.capacity, this.tableCapacity));
    const rw = this.resultWord;
    const consumed = this.u32[rw + 1]!;
    const frames = this.u32[rw]!;
    this.flush(table, 0, frames);
    return this.finish(status, frames, consumed, consumed, this.u32[rw + 2]!, table);
  }

  private finish(status: number, frames: number, consumed: number, at: number, needed: number, table: FrameTable): DecodeResult {
    table.count = frames;
    const r = table.result;
    r.status = status;
    r.frames = frames;
    r.consumed = consumed;
    r.errorOffset = isFrameError(status) ? at : -1;
    r.needed = status === FrameStatus.NEED_MORE ? needed : 0;
    return r;
  }

  /**
   * Encodes frames[first..first+count) as packed 9-byte headers at out[outOffset] (header i
   * at outOffset + 9 i, ready to be gathered with its payload, e.g. by writev) and returns
   * the bytes written. Throws WEFT-K004 (details.index) for a frame the decoder would reject.
   * Filling `this.table` instead of a JS table skips copying the entries in.
   */
  encodeFrameHeadersInto(
    frames: FrameTable,
    first: number,
    count: number,
    out: Uint8Array,
    outOffset: number,
    maxFrame = MAX_FRAME_SIZE_HARD_CAP,
  ): number {
    if (!Number.isInteger(first) || !Number.isInteger(count) || first < 0 || count < 0 || first + count > frames.capacity) {
      throw new WeftError('WEFT-K003', `frames ${first}..${first + count} outside a table of ${frames.capacity}`);
    }
    checkRange(out, outOffset, count * FRAME_HEADER_SIZE);
    checkMaxFrame(maxFrame);
    let done = 0;
    while (done < count) {
      const n = Math.min(count - done, this.tableCapacity);
      let from = first + done;
      if (frames !== this.table) {
        // Entries in a JS table are copied into the kernel's; the kernel's own are read in place.
        this.u32.set(frames.words.subarray(from * 4, (from + n) * 4), this.tableWord);
        from = 0;
      }
      const status = this.ex.encode(from, n, maxFrame);
      if (status !== FrameStatus.OK) {
        const index = first + done + this.u32[this.resultWord + 3]!;
        throw new WeftError('WEFT-K004', `refusing to encode frame ${index}: ${FrameStatus[status] ?? status}`, { index, status });
      }
      const bytes = n * FRAME_HEADER_SIZE;
      out.set(this.bytes.subarray(this.headersPtr, this.headersPtr + bytes), outOffset + done * FRAME_HEADER_SIZE);
      done += n;
    }
    return count * FRAME_HEADER_SIZE;
  }
}

/** decodeFramesInto with the preferred kernel variant. */
export function decodeFramesInto(buf: Uint8Array, offset: number, maxFrame: number, table: FrameTable): DecodeResult {
  return FrameKernel.load().decodeFramesInto(buf, offset, maxFrame, table);
}

/** encodeFrameHeadersInto with the preferred kernel variant. */
export function encodeFrameHeadersInto(
  frames: FrameTable,
  first: number,
  count: number,
  out: Uint8Array,
  outOffset: number,
  maxFrame = MAX_FRAME_SIZE_HARD_CAP,
): number {
  return FrameKernel.load().encodeFrameHeadersInto(frames, first, count, out, outOffset, maxFrame);
}

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  /** A subarray of the decoded buffer. */
  payload: Uint8Array;
}

/** Convenience (allocating) form: the whole frames in buf[offset..] and the decode outcome. */
export function decodeFrames(
  buf: Uint8Array,
  offset = 0,
  maxFrame = DEFAULT_MAX_FRAME_SIZE,
): { frames: Frame[]; status: FrameStatus; consumed: number; errorOffset: number; needed: number } {
  const table = new FrameTable(256);
  const frames: Frame[] = [];
  let at = offset;
  for (;;) {
    const r = decodeFramesInto(buf, at, maxFrame, table);
    for (let i = 0; i < r.frames; i++) {
      const p = table.payloadOffset(i);
      frames.push({ type: table.type(i), flags: table.flags(i), streamId: table.streamId(i), payload: buf.subarray(p, p + table.payloadLength(i)) });
    }
    at += r.consumed;
    if (r.status !== FrameStatus.TABLE_FULL) {
      return { frames, status: r.status, consumed: at - offset, errorOffset: r.errorOffset, needed: r.needed };
    }
  }
}

/** Convenience (allocating) form: one whole frame, header and payload. */
export function encodeFrame(type: number, flags: number, streamId: number, payload: Uint8Array = new Uint8Array(0), maxFrame = MAX_FRAME_SIZE_HARD_CAP): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_SIZE + payload.length);
  encodeFrameHeaderInto(out, 0, type, flags, streamId, payload.length, maxFrame);
  out.set(payload, FRAME_HEADER_SIZE);
  return out;
}
