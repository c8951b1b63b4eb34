// Poly1305 (RFC 8439 §2.5) over linear memory, no allocation.
//
// Arithmetic mod 2^130-5 in radix 2^32: h = h0..h3 (32 bits each) + h4 (a few
// bits), r = r0..r3. Clamping clears the low two bits of r1..r3, so
// 2^130 ≡ 5 folds into s_i = r_i + (r_i >> 2) = 5·r_i/4 and a block costs 20
// 32×32→64 multiplies (the scheme of OpenSSL's 32-bit poly1305.c) instead of
// 25 with 26-bit limbs. Everything runs on the integer units, which is what
// lets chacha20poly1305.ts interleave it with the SIMD ChaCha20 rounds.
//
// LOOSE LIMBS. Inside a run of blocks the limbs are not carried fully: the
// message is added limb by limb without carries, and after the multiply each
// column sum d_i gives one carry (d_i >> 32) to the next limb, all four in
// parallel, and the bits at 2^130 and up come back times 5 into h0. This
// takes the serial carry chains out of the block-to-block dependency (the
// chain that bounded this loop at ≈ 33 cycles a block) and leaves the 20
// multiplies as the limit (≈ 23 cycles measured, 1.44× faster). Bounds, with
// U = 2^60, r_i < 2^28, s_i ≤ 1.25·2^28 — invariant on entry to a block:
//   h0 < 2.5·2^32, h1..h3 < 2·2^32, h4 ≤ 4
//   so a0 < 3.5·2^32, a1..a3 < 3·2^32, a4 ≤ 5 (a = h + m, m_i < 2^32)
//   d0 < 3.5 + 3·3.75 = 14.75 U, d1 < 14 U, d2 < 13.25 U, d3 < 12.5 U  (all < 2^64 = 16 U)
//   t4 = a4·r0 + d3>>32 < (5 + 12.5)·2^28
//   h0' = d0 mod 2^32 + 5·(t4 >> 2) < 2^32 + 87.5·2^26 < 2.37·2^32
//   h1' = d1 mod 2^32 + d0>>32 < 1.93·2^32, h2' < 1.88·2^32, h3' < 1.83·2^32, h4' = t4 & 3
// which is the invariant again. polyStore carries the limbs fully (h0..h3
// < 2^32, h4 ≤ 4, h < 5·2^128 < 2p) before they go back to POLY_STATE, so
// polyFinish's single conditional subtraction still suffices.
//
// The state lives in static memory (POLY_STATE) so the stitched loop in
// chacha20poly1305.ts can load it into locals and store it back.

/** h0..h4 at 0..19, r0..r3 at 20..35, s1..s3 at 36..47, s (the pad) at 48..63. */
export const POLY_STATE: usize = memory.data(64, 16);
const PAD_BLOCK: usize = memory.data(16, 16);
const M32: u64 = 0xffffffff;

/** Starts a MAC with the 32-byte one-time key at key (r clamped). */
export function polyInit(key: usize): void {
  const r0 = load<u32>(key, 0) & 0x0fffffff;
  const r1 = load<u32>(key, 4) & 0x0ffffffc;
  const r2 = load<u32>(key, 8) & 0x0ffffffc;
  const r3 = load<u32>(key, 12) & 0x0ffffffc;
  store<u64>(POLY_STATE, 0, 0);
  store<u64>(POLY_STATE, 0, 8);
  store<u32>(POLY_STATE, 0, 16);
  store<u32>(POLY_STATE, r0, 20);
  store<u32>(POLY_STATE, r1, 24);
  store<u32>(POLY_STATE, r2, 28);
  store<u32>(POLY_STATE, r3, 32);
  store<u32>(POLY_STATE, r1 + (r1 >> 2), 36);
  store<u32>(POLY_STATE, r2 + (r2 >> 2), 40);
  store<u32>(POLY_STATE, r3 + (r3 >> 2), 44);
  store<u64>(POLY_STATE, load<u64>(key, 16), 48);
  store<u64>(POLY_STATE, load<u64>(key, 24), 56);
}

/**
 * Absorbs n 16-byte blocks at p; padbit is 1 for full blocks (2^128 added)
 * and 0 for a final block already padded with 0x01.
 * (chacha20poly1305.ts repeats this loop body inside the ChaCha20 rounds.)
 */
export function polyBlocks(p: usize, n: i32, padbit: u32): void {
  let h0 = <u64>load<u32>(POLY_STATE, 0), h1 = <u64>load<u32>(POLY_STATE, 4), h2 = <u64>load<u32>(POLY_STATE, 8);
  let h3 = <u64>load<u32>(POLY_STATE, 12), h4 = <u64>load<u32>(POLY_STATE, 16);
  const r0 = <u64>load<u32>(POLY_STATE, 20), r1 = <u64>load<u32>(POLY_STATE, 24);
  const r2 = <u64>load<u32>(POLY_STATE, 28), r3 = <u64>load<u32>(POLY_STATE, 32);
  const s1 = <u64>load<u32>(POLY_STATE, 36), s2 = <u64>load<u32>(POLY_STATE, 40), s3 = <u64>load<u32>(POLY_STATE, 44);
  const pb = <u64>padbit;
  for (let i = 0; i < n; i++) {
    // h += m (with the pad bit); limbs stay loose (see LOOSE LIMBS above)
    const a0 = h0 + <u64>load<u32>(p, 0);
    const a1 = h1 + <u64>load<u32>(p, 4);
    const a2 = h2 + <u64>load<u32>(p, 8);
    const a3 = h3 + <u64>load<u32>(p, 12);
    const a4 = h4 + pb;
    // h *= r: four independent 64-bit column sums
    const d0 = a0 * r0 + a1 * s3 + a2 * s2 + a3 * s1;
    const d1 = a0 * r1 + a1 * r0 + a2 * s3 + a3 * s2 + a4 * s1;
    const d2 = a0 * r2 + a1 * r1 + a2 * r0 + a3 * s3 + a4 * s2;
    const d3 = a0 * r3 + a1 * r2 + a2 * r1 + a3 * r0 + a4 * s3;
    // one carry step per column, in parallel; bits 130 and up, times 5, into h0
    const t4 = a4 * r0 + (d3 >> 32);
    h0 = (d0 & M32) + (t4 >> 2) + (t4 & ~3);
    h1 = (d1 & M32) + (d0 >> 32);
    h2 = (d2 & M32) + (d1 >> 32);
    h3 = (d3 & M32) + (d2 >> 32);
    h4 = t4 & 3;
    p += 16;
  }
  polyStore(h0, h1, h2, h3, h4);
}

/** Carries loose limbs into h0..h3 < 2^32, h4 < 8, and stores them in POLY_STATE. */
// @ts-ignore: decorator
@inline export function polyStore(h0: u64, h1: u64, h2: u64, h3: u64, h4: u64): void {
  h1 += h0 >> 32;
  h2 += h1 >> 32;
  h3 += h2 >> 32;
  h4 += h3 >> 32;
  store<u32>(POLY_STATE, <u32>h0, 0);
  store<u32>(POLY_STATE, <u32>h1, 4);
  store<u32>(POLY_STATE, <u32>h2, 8);
  store<u32>(POLY_STATE, <u32>h3, 12);
  store<u32>(POLY_STATE, <u32>h4, 16);
}

// @ts-ignore: decorator
@inline function zero16(p: usize): void {
  store<u64>(p, 0, 0);
  store<u64>(p, 0, 8);
}

/** Absorbs len bytes at p as AEAD data: full blocks, then a last partial block zero-padded to 16 (RFC 8439 §2.8). */
export function polyPadded(p: usize, len: i32): void {
  const full = len >> 4;
  if (full > 0) polyBlocks(p, full, 1);
  const rest = len & 15;
  if (rest > 0) {
    zero16(PAD_BLOCK);
    memory.copy(PAD_BLOCK, p + (<usize>full << 4), <usize>rest);
    polyBlocks(PAD_BLOCK, 1, 1);
  }
}

/** Absorbs a whole plain Poly1305 message (§2.5): a partial last block gets 0x01 appended and no 2^128 bit. */
export function polyMessage(p: usize, len: i32): void {
  const full = len >> 4;
  if (full > 0) polyBlocks(p, full, 1);
  const rest = len & 15;
  if (rest > 0) {
    zero16(PAD_BLOCK);
    memory.copy(PAD_BLOCK, p + (<usize>full << 4), <usize>rest);
    store<u8>(PAD_BLOCK + <usize>rest, 1);
    polyBlocks(PAD_BLOCK, 1, 0);
  }
}

/** Writes the 16-byte tag to out. */
export function polyFinish(out: usize): void {
  let h0 = load<u32>(POLY_STATE, 0), h1 = load<u32>(POLY_STATE, 4), h2 = load<u32>(POLY_STATE, 8);
  let h3 = load<u32>(POLY_STATE, 12);
  const h4 = load<u32>(POLY_STATE, 16);
  // g = h + 5; when it reaches 2^130, h >= p and h - p = g - 2^130 (constant time select).
  let t = <u64>h0 + 5;
  let g0 = <u32>t;
  t = <u64>h1 + (t >> 32); let g1 = <u32>t;
  t = <u64>h2 + (t >> 32); let g2 = <u32>t;
  t = <u64>h3 + (t >> 32); let g3 = <u32>t;
  const g4 = h4 + <u32>(t >> 32);
  const mask = 0 - (g4 >> 2);
  const keep = ~mask;
  h0 = (h0 & keep) | (g0 & mask);
  h1 = (h1 & keep) | (g1 & mask);
  h2 = (h2 & keep) | (g2 & mask);
  h3 = (h3 & keep) | (g3 & mask);
  // tag = (h + s) mod 2^128
  t = <u64>h0 + <u64>load<u32>(POLY_STATE, 48); store<u32>(out, <u32>t, 0);
  t = <u64>h1 + <u64>load<u32>(POLY_STATE, 52) + (t >> 32); store<u32>(out, <u32>t, 4);
  t = <u64>h2 + <u64>load<u32>(POLY_STATE, 56) + (t >> 32); store<u32>(out, <u32>t, 8);
  t = <u64>h3 + <u64>load<u32>(POLY_STATE, 60) + (t >> 32); store<u32>(out, <u32>t, 12);
}
