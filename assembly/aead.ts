// AEAD kernel: ChaCha20-Poly1305 (RFC 8439 §2.8), sealing and opening in place
// in this module's own static memory, one record or a batch per call.
//
// Memory layout (all static data, exported as immutable i32 globals; memory never grows):
//
//   KEY_PTR      32 B   the ChaCha20 key, written by the caller before each call
//   NONCE_PTR    12 B   the nonce (single record) or the nonce base (batch: bytes
//                       4..11 are XORed with the little-endian 64-bit record counter)
//   TAG_PTR      16 B   poly1305_mac output; open's computed tag (scratch)
//   AAD_PTR      AAD_CAPACITY (256 KiB)  additional data, packed back to back in a batch
//   TABLE_PTR    MAX_RECORDS × 8 B  batch table: per record { u32 length, u32 aadLength }
//                       (seal: plaintext length; open: sealed length, tag included)
//   RESULTS_PTR  MAX_RECORDS × 4 B  batch results: i32 per record (a length or an error code)
//   IO_PTR       IO_CAPACITY (4 MiB)  records: plaintext ‖ 16 B tag room, sealed in place;
//                       a batch packs them back to back
//   OUT_PTR      IO_CAPACITY (4 MiB)  plaintext of opened records, written while the
//                       ciphertext is MACed and released only when the tag matches
//                       (open copies it back into IO; open_detached and
//                       open_records leave it here, at the record's IO offset)
//
// Calls (offsets are relative to IO_PTR / AAD_PTR, all i32):
//   seal(offset, length, aadOffset, aadLength) -> length + 16, or an error code
//   open(offset, sealedLength, aadOffset, aadLength) -> plaintext length, or an error code
//   open_detached(...)  as open, plaintext left at OUT_PTR
//   seal_records(count, counterLow, counterHigh) -> total sealed bytes, or an error code
//   open_records(count, counterLow, counterHigh) -> number of records that failed, or an error code
//   chacha20_block / chacha20_xor / poly1305_mac expose the primitives for tests.
//
// open MACs the ciphertext and decrypts it into OUT in the same pass, then
// compares tags in constant time; plaintext reaches IO (or the caller) only on
// a match, and on failure the record stays ciphertext and OUT is wiped. No
// input traps: every length and offset is checked and a negative code returned.
//
// Both directions make one pass over the data: in the SIMD build each 256-byte
// ChaCha20 step runs with the Poly1305 of the previous chunk interleaved into
// its rounds (lib/chacha20poly1305.ts). The first ChaCha20 step (blocks 0..3)
// yields the Poly1305 key and the keystream for the first 192 bytes, so a
// small record costs one step.
import { keystream, xorBytesTo, xorChunk, xorStream, CHUNK } from './lib/chacha20';
import { chachaPolyXor, chachaPolyXor16, chachaPolyKeystream } from './lib/chacha20poly1305';
import { polyInit, polyBlocks, polyPadded, polyFinish, polyMessage } from './lib/poly1305';

/** The tag did not match: nothing was decrypted. */
export const AEAD_AUTH_FAILED: i32 = -1;
/** A record length or offset lies outside the I/O region, or a sealed record is shorter than its tag. */
export const AEAD_BAD_LENGTH: i32 = -2;
/** An AAD length or offset lies outside the AAD region. */
export const AEAD_BAD_AAD: i32 = -3;
/** A batch count is negative or over MAX_RECORDS. */
export const AEAD_BAD_COUNT: i32 = -4;

export const TAG_LENGTH: i32 = 16;
export const AAD_CAPACITY: i32 = 256 << 10;
export const MAX_RECORDS: i32 = 8192;
export const IO_CAPACITY: i32 = 4 << 20;

export const KEY_PTR: usize = memory.data(32, 64);
export const NONCE_PTR: usize = memory.data(16, 16);
export const TAG_PTR: usize = memory.data(16, 16);
/** The current record's nonce in a batch. */
const WORK_NONCE: usize = memory.data(16, 16);
/** The lengths block of the MAC input. */
const LENGTHS: usize = memory.data(16, 16);
/** Keystream of the first step (Poly1305 key + 192 bytes) and of a partial last chunk. */
const KS: usize = memory.data(256, 64);
export const AAD_PTR: usize = memory.data(AAD_CAPACITY, 64);
export const TABLE_PTR: usize = memory.data(MAX_RECORDS * 8, 64);
export const RESULTS_PTR: usize = memory.data(MAX_RECORDS * 4, 64);
export const IO_PTR: usize = memory.data(IO_CAPACITY, 64);
export const OUT_PTR: usize = memory.data(IO_CAPACITY, 64);

/** Bytes of data the first step's keystream covers (blocks 1..3). */
const FIRST: i32 = 192;

/** Absorbs the lengths block and writes the tag to out. */
// @ts-ignore: decorator
@inline function macLengthsAndFinish(aadLen: i32, len: i32, out: usize): void {
  store<u64>(LENGTHS, <u64>aadLen, 0);
  store<u64>(LENGTHS, <u64>len, 8);
  polyBlocks(LENGTHS, 1, 1);
  polyFinish(out);
}

/** Starts a record: keystream blocks 0..3 (fewer in the scalar build) into KS, Poly1305 keyed, AAD absorbed. */
// @ts-ignore: decorator
@inline function beginRecord(key: usize, nonce: usize, aad: usize, aadLen: i32, first: i32): void {
  keystream(key, nonce, 0, KS, 1 + ((first + 63) >> 6));
  polyInit(KS);
  polyPadded(aad, aadLen);
}

/**
 * The record pipeline. Step 0 (blocks 0..3) gives the Poly1305 key and the
 * keystream of the first 192 bytes; every later 256-byte step MACs the
 * ciphertext of the step before it (SIMD: inside the same loop, see
 * chacha20poly1305.ts). Sealing: src = dst = p, the ciphertext appears in
 * place. Opening: src = p (ciphertext, MACed as it stands), dst = out.
 * Returns with the whole ciphertext MACed, lengths block included, tag at tagOut.
 */
// @ts-ignore: decorator
@inline function pipeline(key: usize, nonce: usize, aad: usize, aadLen: i32, p: usize, dst: usize, len: i32, tagOut: usize): void {
  const first = len < FIRST ? len : FIRST;
  beginRecord(key, nonce, aad, aadLen, first);
  xorBytesTo(dst, p, KS + 64, first);
  let macAt = p;
  let pending = first; // ciphertext bytes at macAt not yet MACed (a multiple of 16 until the tail)
  let done = first;
  let counter: u32 = 4;
  while (len - done >= CHUNK) {
    const q = p + <usize>done;
    if (ASC_FEATURE_SIMD) {
      if (pending == CHUNK) chachaPolyXor16(key, nonce, counter, q, dst + <usize>done, macAt);
      else chachaPolyXor(key, nonce, counter, q, dst + <usize>done, macAt, pending >> 4);
    } else {
      if (dst != p) memory.copy(dst + <usize>done, q, <usize>CHUNK);
      xorChunk(key, nonce, counter, dst + <usize>done);
      polyBlocks(macAt, pending >> 4, 1);
    }
    macAt = q;
    pending = CHUNK;
    counter += 4;
    done += CHUNK;
  }
  const rest = len - done;
  if (rest > 0) {
    if (ASC_FEATURE_SIMD) {
      chachaPolyKeystream(key, nonce, counter, KS, macAt, pending >> 4);
      macAt += <usize>pending;
    } else {
      keystream(key, nonce, counter, KS, (rest + 63) >> 6);
    }
    xorBytesTo(dst + <usize>done, p + <usize>done, KS, rest);
  }
  polyPadded(macAt, <i32>(p + <usize>len - macAt));
  macLengthsAndFinish(aadLen, len, tagOut);
}

/** Seals len bytes at p in place and writes the tag at p + len (no checks: callers check). */
function sealCore(key: usize, nonce: usize, aad: usize, aadLen: i32, p: usize, len: i32): void {
  pipeline(key, nonce, aad, aadLen, p, p, len, p + <usize>len);
}

/**
 * Opens the record of len ciphertext bytes at p (tag at p + len): the
 * plaintext goes to out while the ciphertext is MACed; only a matching tag
 * (compared in constant time) releases it. On failure out is wiped and the
 * record at p is untouched. Returns len or AEAD_AUTH_FAILED.
 */
function openCore(key: usize, nonce: usize, aad: usize, aadLen: i32, p: usize, len: i32, out: usize): i32 {
  pipeline(key, nonce, aad, aadLen, p, out, len, TAG_PTR);
  const t = p + <usize>len;
  const diff = (load<u64>(TAG_PTR, 0) ^ load<u64>(t, 0)) | (load<u64>(TAG_PTR, 8) ^ load<u64>(t, 8));
  if (diff != 0) {
    memory.fill(out, 0, <usize>len);
    return AEAD_AUTH_FAILED;
  }
  return len;
}

// @ts-ignore: decorator
@inline function ioOutside(offset: i32, len: i32, extra: i32): bool {
  return offset < 0 || len < 0 || <i64>offset + <i64>len + <i64>extra > <i64>IO_CAPACITY;
}

// @ts-ignore: decorator
@inline function aadOutside(offset: i32, len: i32): bool {
  return offset < 0 || len < 0 || <i64>offset + <i64>len > <i64>AAD_CAPACITY;
}

/** Seals IO[offset, offset+length) in place with KEY/NONCE and AAD[aadOffset, +aadLength); the tag follows. */
export function seal(offset: i32, length: i32, aadOffset: i32, aadLength: i32): i32 {
  if (ioOutside(offset, length, TAG_LENGTH)) return AEAD_BAD_LENGTH;
  if (aadOutside(aadOffset, aadLength)) return AEAD_BAD_AAD;
  sealCore(KEY_PTR, NONCE_PTR, AAD_PTR + <usize>aadOffset, aadLength, IO_PTR + <usize>offset, length);
  return length + TAG_LENGTH;
}

/** Opens the sealed record IO[offset, offset+sealedLength) in place; returns the plaintext length or an error. */
export function open(offset: i32, sealedLength: i32, aadOffset: i32, aadLength: i32): i32 {
  if (ioOutside(offset, sealedLength, 0) || sealedLength < TAG_LENGTH) return AEAD_BAD_LENGTH;
  if (aadOutside(aadOffset, aadLength)) return AEAD_BAD_AAD;
  const p = IO_PTR + <usize>offset;
  const len = sealedLength - TAG_LENGTH;
  const r = openCore(KEY_PTR, NONCE_PTR, AAD_PTR + <usize>aadOffset, aadLength, p, len, OUT_PTR);
  if (r >= 0) memory.copy(p, OUT_PTR, <usize>len);
  return r;
}

/**
 * As open, but the plaintext is left at OUT_PTR (from its start) and the
 * record in IO stays as it was: the data plane copies it out from there.
 */
export function open_detached(offset: i32, sealedLength: i32, aadOffset: i32, aadLength: i32): i32 {
  if (ioOutside(offset, sealedLength, 0) || sealedLength < TAG_LENGTH) return AEAD_BAD_LENGTH;
  if (aadOutside(aadOffset, aadLength)) return AEAD_BAD_AAD;
  return openCore(KEY_PTR, NONCE_PTR, AAD_PTR + <usize>aadOffset, aadLength, IO_PTR + <usize>offset, sealedLength - TAG_LENGTH, OUT_PTR);
}

/** Record i's nonce: the base with bytes 4..11 XORed with counter + i (little-endian). */
// @ts-ignore: decorator
@inline function recordNonce(counter: u64): void {
  store<u32>(WORK_NONCE, load<u32>(NONCE_PTR, 0), 0);
  store<u64>(WORK_NONCE, load<u64>(NONCE_PTR, 4) ^ counter, 4);
}

/**
 * Checks a batch table; returns the total bytes the records occupy in IO
 * (extra = 16 per record when sealing) or an error code. AAD must fit too.
 */
function checkTable(count: i32, extra: i32): i64 {
  if (count < 0 || count > MAX_RECORDS) return AEAD_BAD_COUNT;
  let total: i64 = 0;
  let aadTotal: i64 = 0;
  for (let i = 0; i < count; i++) {
    const row = TABLE_PTR + (<usize>i << 3);
    const len = load<i32>(row, 0);
    const aadLen = load<i32>(row, 4);
    if (len < 0) return AEAD_BAD_LENGTH;
    if (aadLen < 0) return AEAD_BAD_AAD;
    total += <i64>len + <i64>extra;
    aadTotal += <i64>aadLen;
    if (total > <i64>IO_CAPACITY) return AEAD_BAD_LENGTH;
    if (aadTotal > <i64>AAD_CAPACITY) return AEAD_BAD_AAD;
  }
  return total;
}

/**
 * Seals count records packed in IO (each length bytes then 16 bytes of tag
 * room) with AAD packed in AAD_PTR, record i under nonce base ⊕ (counter + i).
 * RESULTS[i] = sealed length. Returns the total sealed bytes or an error code
 * (then nothing was sealed).
 */
export function seal_records(count: i32, counterLow: i32, counterHigh: i32): i32 {
  const total = checkTable(count, TAG_LENGTH);
  if (total < 0) return <i32>total;
  const counter = (<u64><u32>counterHigh << 32) | <u64><u32>counterLow;
  let off: usize = 0;
  let aadOff: usize = 0;
  for (let i = 0; i < count; i++) {
    const row = TABLE_PTR + (<usize>i << 3);
    const len = load<i32>(row, 0);
    const aadLen = load<i32>(row, 4);
    recordNonce(counter + <u64>i);
    sealCore(KEY_PTR, WORK_NONCE, AAD_PTR + aadOff, aadLen, IO_PTR + off, len);
    store<i32>(RESULTS_PTR + (<usize>i << 2), len + TAG_LENGTH);
    off += <usize>(len + TAG_LENGTH);
    aadOff += <usize>aadLen;
  }
  return <i32>total;
}

/**
 * Opens count sealed records packed in IO (TABLE lengths include the tag).
 * Record i's plaintext goes to OUT_PTR at the same offset as its sealed
 * record in IO. RESULTS[i] = plaintext length, or AEAD_AUTH_FAILED /
 * AEAD_BAD_LENGTH for that record (its OUT bytes zeroed or untouched). Returns how many records failed, or an error code
 * for the table as a whole (then nothing was opened).
 */
export function open_records(count: i32, counterLow: i32, counterHigh: i32): i32 {
  const total = checkTable(count, 0);
  if (total < 0) return <i32>total;
  const counter = (<u64><u32>counterHigh << 32) | <u64><u32>counterLow;
  let off: usize = 0;
  let aadOff: usize = 0;
  let failed = 0;
  for (let i = 0; i < count; i++) {
    const row = TABLE_PTR + (<usize>i << 3);
    const len = load<i32>(row, 0);
    const aadLen = load<i32>(row, 4);
    let result = AEAD_BAD_LENGTH;
    if (len >= TAG_LENGTH) {
      recordNonce(counter + <u64>i);
      result = openCore(KEY_PTR, WORK_NONCE, AAD_PTR + aadOff, aadLen, IO_PTR + off, len - TAG_LENGTH, OUT_PTR + off);
    }
    if (result < 0) failed++;
    store<i32>(RESULTS_PTR + (<usize>i << 2), result);
    off += <usize>len;
    aadOff += <usize>aadLen;
  }
  return failed;
}

// ---------------------------------------------------------------------------
// The primitives, for the RFC 8439 test vectors.

/** Writes the ChaCha20 block (KEY, NONCE, counter) to IO[offset, +64). */
export function chacha20_block(counter: u32, offset: i32): i32 {
  if (ioOutside(offset, 64, 0)) return AEAD_BAD_LENGTH;
  keystream(KEY_PTR, NONCE_PTR, counter, KS, 1);
  memory.copy(IO_PTR + <usize>offset, KS, 64);
  return 64;
}

/** XORs IO[offset, +length) in place with the ChaCha20 keystream (KEY, NONCE) from block counter. */
export function chacha20_xor(counter: u32, offset: i32, length: i32): i32 {
  if (ioOutside(offset, length, 0)) return AEAD_BAD_LENGTH;
  xorStream(KEY_PTR, NONCE_PTR, counter, IO_PTR + <usize>offset, length, KS);
  return length;
}

/** Poly1305 of IO[offset, +length) under the 32-byte one-time key at KEY; the tag goes to TAG_PTR. */
export function poly1305_mac(offset: i32, length: i32): i32 {
  if (ioOutside(offset, length, 0)) return AEAD_BAD_LENGTH;
  polyInit(KEY_PTR);
  polyMessage(IO_PTR + <usize>offset, length);
  polyFinish(TAG_PTR);
  return TAG_LENGTH;
}
