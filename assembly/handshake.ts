// Client handshake kernel (version 1, /work/shared/ARCHITECTURE.md "Client handshake"):
// request = version (1) | N (1..255) | N bytes of service ID `<service>.<meshlet>.<ns>`,
// each part an RFC 1123 label: 1..63 of [a-z0-9-], starting and ending alphanumeric.
//
// Fixed memory layout (static data, the module never allocates, memory never grows):
//   INPUT   INPUT_CAPACITY (64 KiB) + 16 slack   request bytes; the slack keeps v128 loads
//                                               of an ID's last block inside memory
//   TABLE   TABLE_CAPACITY (32768) x 3 u32      batch output per request:
//                                               [reply code, ID offset, ID length]
//   CLASS   256 B                               byte class for the scalar validator
//   RESULT  2 x u32                             batch [requests, consumed]
//
// validate() judges one ID; parse_batch() walks requests packed back to back.

export const INPUT_CAPACITY: u32 = 65536;
export const TABLE_CAPACITY: u32 = 32768;

const INPUT = memory.data(INPUT_CAPACITY + 16, 16);
const TABLE = memory.data(TABLE_CAPACITY * 12, 16);
const CLASS = memory.data(256, 16);
const RESULT = memory.data(8, 4);

// Reply codes (ARCHITECTURE.md) this kernel can decide.
const OK: u32 = 0;
const UNSUPPORTED_VERSION: u32 = 1;
const MALFORMED: u32 = 2;
const VERSION: u32 = 1;
const MAX_LABEL: u32 = 63;

// Batch status codes (mirrored in src/kernel/handshake.ts as HandshakeBatchStatus).
const BATCH_OK: u32 = 0;
const BATCH_NEED_MORE: u32 = 1;
const BATCH_TABLE_FULL: u32 = 2;
const BATCH_STOPPED: u32 = 3;
const BAD_ARGUMENT: u32 = 255;

const C_ALNUM: u8 = 1;
const C_HYPHEN: u8 = 2;
const C_DOT: u8 = 3;
for (let c: u32 = 0x61; c <= 0x7a; c++) store<u8>(CLASS + c, C_ALNUM);
for (let c: u32 = 0x30; c <= 0x39; c++) store<u8>(CLASS + c, C_ALNUM);
store<u8>(CLASS + 0x2d, C_HYPHEN);
store<u8>(CLASS + 0x2e, C_DOT);

export function input_ptr(): usize {
  return INPUT;
}
export function table_ptr(): usize {
  return TABLE;
}
export function result_ptr(): usize {
  return RESULT;
}

const HYPHEN: u32 = 0x2d;

/** A label at p of len bytes whose bytes are all [a-z0-9-]: its length and ends. */
// @ts-ignore: decorator
@inline
function labelOk(p: usize, len: u32): bool {
  return len - 1 < MAX_LABEL && u32(load<u8>(p)) != HYPHEN && u32(load<u8>(p + len - 1)) != HYPHEN;
}

/** SIMD: classify 16 bytes per step; the dot positions come from the lane bitmasks. */
function validateSimd(p: usize, n: u32): u32 {
  let dots: u32 = 0;
  let d1: u32 = 0;
  let d2: u32 = 0;
  for (let k: u32 = 0; k < n; k += 16) {
    const v = v128.load(p + k);
    const lower = i8x16.le_u(i8x16.sub(v, i8x16.splat(0x61)), i8x16.splat(25));
    const digit = i8x16.le_u(i8x16.sub(v, i8x16.splat(0x30)), i8x16.splat(9));
    const dot = i8x16.eq(v, i8x16.splat(0x2e));
    const hyphen = i8x16.eq(v, i8x16.splat(0x2d));
    const rem = n - k;
    const live: u32 = rem >= 16 ? 0xffff : (u32(1) << rem) - 1;
    const bad = u32(i8x16.bitmask(v128.not(v128.or(v128.or(lower, digit), v128.or(dot, hyphen))))) & live;
    if (bad != 0) return MALFORMED;
    let dm = u32(i8x16.bitmask(dot)) & live;
    while (dm != 0) {
      const at = k + ctz(dm);
      dots++;
      if (dots == 1) d1 = at;
      else if (dots == 2) d2 = at;
      else return MALFORMED;
      dm &= dm - 1;
    }
  }
  if (dots != 2) return MALFORMED;
  if (!labelOk(p, d1) || !labelOk(p + d1 + 1, d2 - d1 - 1) || !labelOk(p + d2 + 1, n - d2 - 1)) return MALFORMED;
  return OK;
}

/** Scalar: one pass, a label checked at each dot and at the end. */
function validateScalar(p: usize, n: u32): u32 {
  let dots: u32 = 0;
  let start: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const c = load<u8>(CLASS + load<u8>(p + i));
    if (c == C_DOT) {
      if (++dots > 2 || !labelOk(p + start, i - start)) return MALFORMED;
      start = i + 1;
    } else if (c == 0) {
      return MALFORMED;
    }
  }
  if (dots != 2 || !labelOk(p + start, n - start)) return MALFORMED;
  return OK;
}

// @ts-ignore: decorator
@inline
function validateAt(p: usize, n: u32): u32 {
  if (ASC_FEATURE_SIMD) return validateSimd(p, n);
  return validateScalar(p, n);
}

/** Validates INPUT[offset..offset+length) as a service ID: OK (0) or MALFORMED (2). */
export function validate(offset: u32, length: u32): u32 {
  if (offset > INPUT_CAPACITY || length > INPUT_CAPACITY - offset) return BAD_ARGUMENT;
  if (length == 0 || length > 255) return MALFORMED;
  return validateAt(INPUT + offset, length);
}

/**
 * Parses requests packed back to back in INPUT[0..length) into TABLE[0..capacity).
 * `base` is added to ID offsets so they index the caller's buffer. A bad version ends the
 * batch (STOPPED: the request is recorded, its length is unknowable); a partial request at
 * the end is NEED_MORE and is not recorded. RESULT = [requests, consumed].
 */
export function parse_batch(length: u32, base: u32, capacity: u32): u32 {
  store<u32>(RESULT, 0);
  store<u32>(RESULT, 0, 4);
  if (length > INPUT_CAPACITY || capacity > TABLE_CAPACITY) return BAD_ARGUMENT;
  let pos: u32 = 0;
  let n: u32 = 0;
  let status = BATCH_OK;
  let entry = TABLE;
  while (pos < length) {
    if (n == capacity) {
      status = BATCH_TABLE_FULL;
      break;
    }
    if (u32(load<u8>(INPUT + pos)) != VERSION) {
      store<u32>(entry, UNSUPPORTED_VERSION);
      store<u32>(entry, base + pos + 1, 4);
      store<u32>(entry, 0, 8);
      n++;
      pos++;
      status = BATCH_STOPPED;
      break;
    }
    if (length - pos < 2) {
      status = BATCH_NEED_MORE;
      break;
    }
    const idLen = u32(load<u8>(INPUT + pos + 1));
    const idAt = pos + 2;
    let code = MALFORMED;
    if (idLen != 0) {
      if (length - idAt < idLen) {
        status = BATCH_NEED_MORE;
        break;
      }
      code = validateAt(INPUT + idAt, idLen);
    }
    store<u32>(entry, code);
    store<u32>(entry, base + idAt, 4);
    store<u32>(entry, idLen, 8);
    entry += 12;
    n++;
    pos = idAt + idLen;
  }
  store<u32>(RESULT, n);
  store<u32>(RESULT, pos, 4);
  return status;
}
