// Frame codec kernel for the agent-to-agent tunnel (wire format: docs/protocol.md).
//
// Frame header, 9 bytes, big-endian:
//   0  type (u8)   1  flags (u8)   2..5  R(1 bit, zero) | stream id (31 bits)   6..8  payload length (u24)
//
// Fixed memory layout (static data, the module never allocates, memory never grows):
//   INPUT    INPUT_CAPACITY (64 KiB) + 16 slack   a window of the caller's bytes; the slack
//                                                 lets a v128 load at any header start stay inside
//   TABLE    TABLE_CAPACITY (8192) entries x 16 B one per frame, four u32 (little-endian):
//                                                 [type | flags << 8, stream id, payload offset, payload length]
//   HEADERS  TABLE_CAPACITY x 9 B + 16 slack      packed encoded headers (encode output)
//   RULES    256 x u32                            per type: allowed flags (bits 0..7), KNOWN (bit 8),
//                                                 STREAM_ZERO (bit 9), STREAM_NONZERO (bit 10)
//   MIN_LEN, MAX_LEN  256 x u32 each              payload length bounds per type
//   RESULT   4 x u32                              [frames, consumed, needed, bad index]
//
// decode() reads headers only from the window but judges completeness against `available`
// (the caller's whole buffer from the window start), so the JS side can copy just the
// headers of large frames: a call that needs a header beyond the window stops with
// STATUS_WINDOW and the caller copies a new window starting at RESULT.consumed.

export const HEADER_SIZE: u32 = 9;
export const INPUT_CAPACITY: u32 = 65536;
export const TABLE_CAPACITY: u32 = 8192;
export const MAX_FRAME_HARD_CAP: u32 = 0xffffff;

const INPUT = memory.data(INPUT_CAPACITY + 16, 16);
const TABLE = memory.data(TABLE_CAPACITY * 16, 16);
const HEADERS = memory.data(TABLE_CAPACITY * HEADER_SIZE + 16, 16);
const RULES = memory.data(256 * 4, 4);
const MIN_LEN = memory.data(256 * 4, 4);
const MAX_LEN = memory.data(256 * 4, 4);
const RESULT = memory.data(16, 4);

// Status codes (mirrored in src/kernel/frame.ts as FrameStatus).
const STATUS_OK: u32 = 0;
const STATUS_NEED_MORE: u32 = 1;
const STATUS_TABLE_FULL: u32 = 2;
const STATUS_WINDOW: u32 = 3;
const BAD_TYPE: u32 = 16;
const BAD_FLAGS: u32 = 17;
const RESERVED_BIT: u32 = 18;
const TOO_LARGE: u32 = 19;
const BAD_STREAM: u32 = 20;
const BAD_LENGTH: u32 = 21;
const BAD_ARGUMENT: u32 = 255;

const KNOWN: u32 = 1 << 8;
const STREAM_ZERO: u32 = 1 << 9;
const STREAM_NONZERO: u32 = 1 << 10;

function rule(type: u32, flags: u32, stream: u32, minLen: u32, maxLen: u32): void {
  store<u32>(RULES + (type << 2), flags | KNOWN | stream);
  store<u32>(MIN_LEN + (type << 2), minLen);
  store<u32>(MAX_LEN + (type << 2), maxLen);
}

// Types 0x00..0x7F are core: unknown ones are errors. 0x80..0xFF are extensions that a
// receiver which does not know them skips: any flags, any stream, any length up to maxFrame.
for (let t: u32 = 0x80; t < 256; t++) rule(t, 0xff, 0, 0, MAX_FRAME_HARD_CAP);
rule(0x00, 0x01, STREAM_NONZERO, 1, MAX_FRAME_HARD_CAP); // DATA, flag FIN; empty DATA is refused (flood guard)
rule(0x01, 0, STREAM_NONZERO, 4, 512); // OPEN: u8 len, service ID, u8 len, source meshlet
rule(0x02, 0, 0, 4, 4); // WINDOW_UPDATE: stream 0 = connection window
rule(0x03, 0, STREAM_NONZERO, 0, 0); // FIN
rule(0x04, 0, STREAM_NONZERO, 4, 4); // RST: u32 error code
rule(0x05, 0, STREAM_ZERO, 8, 8); // PING: 8 opaque bytes
rule(0x06, 0, STREAM_ZERO, 8, 8); // PONG: the PING's 8 bytes
rule(0x07, 0, STREAM_ZERO, 8, 8); // GOAWAY: u32 last stream id, u32 error code

export function input_ptr(): usize {
  return INPUT;
}
export function table_ptr(): usize {
  return TABLE;
}
export function headers_ptr(): usize {
  return HEADERS;
}
export function result_ptr(): usize {
  return RESULT;
}

/** The first rule a header breaks, in the order docs/protocol.md gives; 0 when valid. */
function headerError(type: u32, flags: u32, stream: u32, len: u32, maxFrame: u32): u32 {
  const r = load<u32>(RULES + (type << 2));
  if ((r & KNOWN) == 0) return BAD_TYPE;
  if ((flags & ~r & 0xff) != 0) return BAD_FLAGS;
  if ((stream >>> 31) != 0) return RESERVED_BIT;
  if (len > maxFrame) return TOO_LARGE;
  if ((r & STREAM_ZERO) != 0 && stream != 0) return BAD_STREAM;
  if ((r & STREAM_NONZERO) != 0 && stream == 0) return BAD_STREAM;
  const lo = load<u32>(MIN_LEN + (type << 2));
  const hi = load<u32>(MAX_LEN + (type << 2));
  if (len < lo || len > hi) return BAD_LENGTH;
  return 0;
}

/** One branch for the common case: true when any rule may be broken (headerError decides). */
// @ts-ignore: decorator
@inline
function suspicious(type: u32, flags: u32, stream: u32, len: u32, maxFrame: u32): bool {
  const r = load<u32>(RULES + (type << 2));
  const lo = load<u32>(MIN_LEN + (type << 2));
  const hi = load<u32>(MAX_LEN + (type << 2));
  const zeroBad = ((r >>> 9) & 1) & u32(stream != 0);
  const nonzeroBad = ((r >>> 10) & 1) & u32(stream == 0);
  return ((~r & KNOWN) | (flags & ~r & 0xff) | (stream >>> 31) | u32(len > maxFrame) | zeroBad | nonzeroBad | u32(len - lo > hi - lo)) != 0;
}

/**
 * Decodes whole frames from INPUT[0..windowLen) into TABLE[first..first+capacity).
 * `available` (>= windowLen) is how many bytes the caller has from the window start;
 * `base` is added to payload offsets so they index the caller's buffer.
 * Returns a status; RESULT holds frames decoded, bytes consumed (from the window start),
 * and for NEED_MORE the bytes still missing for the next frame.
 */
export function decode(windowLen: u32, available: u32, base: u32, maxFrame: u32, first: u32, capacity: u32): u32 {
  store<u32>(RESULT, 0);
  store<u32>(RESULT, 0, 4);
  store<u32>(RESULT, 0, 8);
  if (windowLen > INPUT_CAPACITY || windowLen > available || maxFrame > MAX_FRAME_HARD_CAP) return BAD_ARGUMENT;
  if (first > TABLE_CAPACITY || capacity > TABLE_CAPACITY - first) return BAD_ARGUMENT;
  let pos: u32 = 0;
  let n: u32 = 0;
  let status: u32 = STATUS_OK;
  let needed: u32 = 0;
  let entry = TABLE + (first << 4);
  while (true) {
    if (pos == available) break;
    if (n == capacity) {
      status = STATUS_TABLE_FULL;
      break;
    }
    const rem = available - pos;
    if (rem < HEADER_SIZE) {
      status = STATUS_NEED_MORE;
      needed = HEADER_SIZE - rem;
      break;
    }
    if (pos + HEADER_SIZE > windowLen) {
      status = STATUS_WINDOW;
      break;
    }
    const p = INPUT + pos;
    let type: u32, flags: u32, stream: u32, len: u32;
    if (ASC_FEATURE_SIMD) {
      // One load and one shuffle turn the big-endian header into the table entry.
      const h = v128.load(p);
      const e = i8x16.shuffle(h, i8x16.splat(0), 0, 1, 16, 16, 5, 4, 3, 2, 16, 16, 16, 16, 8, 7, 6, 16);
      const typeFlags = u32(i32x4.extract_lane(e, 0));
      type = typeFlags & 0xff;
      flags = typeFlags >>> 8;
      stream = u32(i32x4.extract_lane(e, 1));
      len = u32(i32x4.extract_lane(e, 3));
      if (suspicious(type, flags, stream, len, maxFrame)) {
        status = headerError(type, flags, stream, len, maxFrame);
        break;
      }
      const end = pos + HEADER_SIZE + len;
      if (end > available) {
        status = STATUS_NEED_MORE;
        needed = end - available;
        break;
      }
      v128.store(entry, i32x4.replace_lane(e, 2, base + pos + HEADER_SIZE));
      pos = end;
    } else {
      type = load<u8>(p);
      flags = load<u8>(p, 1);
      stream = bswap<u32>(load<u32>(p, 2));
      len = bswap<u32>(load<u32>(p, 5)) & 0xffffff;
      if (suspicious(type, flags, stream, len, maxFrame)) {
        status = headerError(type, flags, stream, len, maxFrame);
        break;
      }
      const end = pos + HEADER_SIZE + len;
      if (end > available) {
        status = STATUS_NEED_MORE;
        needed = end - available;
        break;
      }
      store<u32>(entry, type | (flags << 8));
      store<u32>(entry, stream, 4);
      store<u32>(entry, base + pos + HEADER_SIZE, 8);
      store<u32>(entry, len, 12);
      pos = end;
    }
    entry += 16;
    n++;
  }
  store<u32>(RESULT, n);
  store<u32>(RESULT, pos, 4);
  store<u32>(RESULT, needed, 8);
  return status;
}

/**
 * Encodes TABLE[first..first+count) (payload offset ignored) into HEADERS as packed 9-byte
 * headers, refusing any frame the decoder would reject under maxFrame: then RESULT[3] is
 * the index (from first) of the bad entry and the error status is returned.
 */
export function encode(first: u32, count: u32, maxFrame: u32): u32 {
  store<u32>(RESULT, 0, 12);
  if (first > TABLE_CAPACITY || count > TABLE_CAPACITY - first || maxFrame > MAX_FRAME_HARD_CAP) return BAD_ARGUMENT;
  let entry = TABLE + (first << 4);
  let out = HEADERS;
  for (let i: u32 = 0; i < count; i++) {
    const typeFlags = load<u32>(entry);
    const stream = load<u32>(entry, 4);
    const len = load<u32>(entry, 12);
    const type = typeFlags & 0xff;
    const flags = typeFlags >>> 8;
    // A typeFlags word with bits above the flags byte is no header at all.
    if (flags > 0xff) {
      store<u32>(RESULT, i, 12);
      return BAD_FLAGS;
    }
    if (len > MAX_FRAME_HARD_CAP || suspicious(type, flags, stream, len, maxFrame)) {
      store<u32>(RESULT, i, 12);
      return len > MAX_FRAME_HARD_CAP ? TOO_LARGE : headerError(type, flags, stream, len, maxFrame);
    }
    if (ASC_FEATURE_SIMD) {
      // Entry lanes [typeFlags, stream, -, len] -> t f s3 s2 s1 s0 l2 l1 l0; the 7 bytes
      // written past the header are overwritten by the next one (HEADERS has slack).
      const e = v128.load(entry);
      v128.store(out, i8x16.shuffle(e, e, 0, 1, 7, 6, 5, 4, 14, 13, 12, 0, 0, 0, 0, 0, 0, 0));
    } else {
      store<u8>(out, type);
      store<u8>(out, flags, 1);
      store<u32>(out, bswap<u32>(stream), 2);
      store<u8>(out, len >>> 16, 6);
      store<u8>(out, len >>> 8, 7);
      store<u8>(out, len, 8);
    }
    entry += 16;
    out += HEADER_SIZE;
  }
  return STATUS_OK;
}
