// Poly1305 (RFC 8439 §2.5) over linear memory, no allocation.
//
// Arithmetic mod 2^130-5 in five 26-bit limbs with 64-bit products (the
// poly1305-donna-32 scheme). The scalar state lives in globals; one message is
// in flight at a time (the kernel is single-threaded).
//
// SIMD (ASC_FEATURE_SIMD): four accumulators run side by side, lane k taking
// blocks 4j+k, each step H = H·r^4 + M. Limb i of the four lanes is one i32x4;
// products are i64x2.extmul_low/high_i32x4_u (two lanes each), carries run on
// i64x2 and the result is narrowed back to i32x4. The scalar accumulator enters
// lane 0 at the start (poly4Begin) and the lanes fold back into it at the end
// (poly4End: multiply by r^4, r^3, r^2, r and add across lanes), so AAD and
// tails stay on the scalar path. The vector state is kept in static memory
// because v128 globals would not build without SIMD.

const MASK26: u32 = 0x3ffffff;
const HIBIT: u32 = 1 << 24;

let h0: u32 = 0, h1: u32 = 0, h2: u32 = 0, h3: u32 = 0, h4: u32 = 0;
let r0: u32 = 0, r1: u32 = 0, r2: u32 = 0, r3: u32 = 0, r4: u32 = 0;
let pad0: u32 = 0, pad1: u32 = 0, pad2: u32 = 0, pad3: u32 = 0;
let vectorStarted: bool = false;

/** Scratch block for padded tails. */
const PAD_BLOCK: usize = memory.data(16, 16);
/** Limbs of r, r^2, r^3, r^4 (5 × u32 each). */
const POWERS: usize = memory.data(80, 16);
/** SIMD state: H (5 × v128), R4 and 5·R4 (10 × v128), RF = (r^4,r^3,r^2,r) per lane and 5·RF (10 × v128). */
const VSTATE: usize = memory.data(400, 16);
const V_H: usize = VSTATE;
const V_R4: usize = VSTATE + 80;
const V_RF: usize = VSTATE + 240;

/** Starts a MAC with the 32-byte one-time key at key (r clamped, s = pad). */
export function polyInit(key: usize): void {
  r0 = load<u32>(key, 0) & 0x3ffffff;
  r1 = (load<u32>(key, 3) >> 2) & 0x3ffff03;
  r2 = (load<u32>(key, 6) >> 4) & 0x3ffc0ff;
  r3 = (load<u32>(key, 9) >> 6) & 0x3f03fff;
  r4 = (load<u32>(key, 12) >> 8) & 0x00fffff;
  pad0 = load<u32>(key, 16);
  pad1 = load<u32>(key, 20);
  pad2 = load<u32>(key, 24);
  pad3 = load<u32>(key, 28);
  h0 = 0; h1 = 0; h2 = 0; h3 = 0; h4 = 0;
  vectorStarted = false;
}

/** Absorbs n full 16-byte blocks at p; hibit is 1<<24 (full block) or 0 (already padded final block). */
export function polyBlocks(p: usize, n: i32, hibit: u32): void {
  const lr0 = <u64>r0, lr1 = <u64>r1, lr2 = <u64>r2, lr3 = <u64>r3, lr4 = <u64>r4;
  const s1 = lr1 * 5, s2 = lr2 * 5, s3 = lr3 * 5, s4 = lr4 * 5;
  let a0 = h0, a1 = h1, a2 = h2, a3 = h3, a4 = h4;
  for (let i = 0; i < n; i++) {
    a0 += load<u32>(p, 0) & MASK26;
    a1 += (load<u32>(p, 3) >> 2) & MASK26;
    a2 += (load<u32>(p, 6) >> 4) & MASK26;
    a3 += (load<u32>(p, 9) >> 6) & MASK26;
    a4 += (load<u32>(p, 12) >> 8) | hibit;
    const b0 = <u64>a0, b1 = <u64>a1, b2 = <u64>a2, b3 = <u64>a3, b4 = <u64>a4;
    const d0 = b0 * lr0 + b1 * s4 + b2 * s3 + b3 * s2 + b4 * s1;
    let d1 = b0 * lr1 + b1 * lr0 + b2 * s4 + b3 * s3 + b4 * s2;
    let d2 = b0 * lr2 + b1 * lr1 + b2 * lr0 + b3 * s4 + b4 * s3;
    let d3 = b0 * lr3 + b1 * lr2 + b2 * lr1 + b3 * lr0 + b4 * s4;
    let d4 = b0 * lr4 + b1 * lr3 + b2 * lr2 + b3 * lr1 + b4 * lr0;
    let c = <u32>(d0 >> 26); a0 = <u32>d0 & MASK26;
    d1 += c; c = <u32>(d1 >> 26); a1 = <u32>d1 & MASK26;
    d2 += c; c = <u32>(d2 >> 26); a2 = <u32>d2 & MASK26;
    d3 += c; c = <u32>(d3 >> 26); a3 = <u32>d3 & MASK26;
    d4 += c; c = <u32>(d4 >> 26); a4 = <u32>d4 & MASK26;
    a0 += c * 5; c = a0 >> 26; a0 &= MASK26;
    a1 += c;
    p += 16;
  }
  h0 = a0; h1 = a1; h2 = a2; h3 = a3; h4 = a4;
}

/** Absorbs len bytes at p as AEAD data: full blocks, then a last partial block zero-padded to 16 (RFC 8439 §2.8). */
export function polyPadded(p: usize, len: i32): void {
  const full = len >> 4;
  if (full > 0) polyBlocks(p, full, HIBIT);
  const rest = len & 15;
  if (rest > 0) {
    v128Zero16(PAD_BLOCK);
    memory.copy(PAD_BLOCK, p + (<usize>full << 4), <usize>rest);
    polyBlocks(PAD_BLOCK, 1, HIBIT);
  }
}

/** Absorbs a final partial block (1..15 bytes) the plain Poly1305 way: append 0x01, zero-fill, no high bit. */
export function polyFinalPartial(p: usize, rest: i32): void {
  v128Zero16(PAD_BLOCK);
  memory.copy(PAD_BLOCK, p, <usize>rest);
  store<u8>(PAD_BLOCK + <usize>rest, 1);
  polyBlocks(PAD_BLOCK, 1, 0);
}

// @ts-ignore: decorator
@inline function v128Zero16(p: usize): void {
  store<u64>(p, 0, 0);
  store<u64>(p, 0, 8);
}

/** Writes the 16-byte tag to out and ends the MAC. */
export function polyFinish(out: usize): void {
  let a0 = h0, a1 = h1, a2 = h2, a3 = h3, a4 = h4;
  let c = a1 >> 26; a1 &= MASK26;
  a2 += c; c = a2 >> 26; a2 &= MASK26;
  a3 += c; c = a3 >> 26; a3 &= MASK26;
  a4 += c; c = a4 >> 26; a4 &= MASK26;
  a0 += c * 5; c = a0 >> 26; a0 &= MASK26;
  a1 += c;
  // g = h + 5 - 2^130; take g when it did not go negative (constant time).
  let g0 = a0 + 5; c = g0 >> 26; g0 &= MASK26;
  let g1 = a1 + c; c = g1 >> 26; g1 &= MASK26;
  let g2 = a2 + c; c = g2 >> 26; g2 &= MASK26;
  let g3 = a3 + c; c = g3 >> 26; g3 &= MASK26;
  let g4 = a4 + c - (1 << 26);
  let mask = (g4 >> 31) - 1;
  g0 &= mask; g1 &= mask; g2 &= mask; g3 &= mask; g4 &= mask;
  mask = ~mask;
  a0 = (a0 & mask) | g0; a1 = (a1 & mask) | g1; a2 = (a2 & mask) | g2;
  a3 = (a3 & mask) | g3; a4 = (a4 & mask) | g4;
  // h mod 2^128, plus s.
  const w0 = a0 | (a1 << 26);
  const w1 = (a1 >> 6) | (a2 << 20);
  const w2 = (a2 >> 12) | (a3 << 14);
  const w3 = (a3 >> 18) | (a4 << 8);
  let f = <u64>w0 + <u64>pad0; store<u32>(out, <u32>f, 0);
  f = <u64>w1 + <u64>pad1 + (f >> 32); store<u32>(out, <u32>f, 4);
  f = <u64>w2 + <u64>pad2 + (f >> 32); store<u32>(out, <u32>f, 8);
  f = <u64>w3 + <u64>pad3 + (f >> 32); store<u32>(out, <u32>f, 12);
}

/** Absorbs len bytes at p as a whole plain Poly1305 message (tests; §2.5): vector path when long. */
export function polyMessage(p: usize, len: i32): void {
  let full = len >> 4;
  if (ASC_FEATURE_SIMD) {
    if (len >= VECTOR_MIN) {
      poly4Prepare();
      poly4Begin();
      const groups = len >> 6;
      poly4Groups(p, groups);
      poly4End();
      p += <usize>groups << 6;
      full -= groups << 2;
    }
  }
  if (full > 0) polyBlocks(p, full, HIBIT);
  const rest = len & 15;
  if (rest > 0) polyFinalPartial(p + (<usize>full << 4), rest);
}

/** Shortest run of message bytes for which the vector path's setup (r^2..r^4) pays. */
export const VECTOR_MIN: i32 = 256;

// ---------------------------------------------------------------------------
// Vector path (only compiled into the SIMD build).

/** dst = a·b mod 2^130-5, limbs fully carried (a, b, dst: 5 × u32 in memory). */
function mulLimbs(dst: usize, a: usize, b: usize): void {
  const a0 = <u64>load<u32>(a, 0), a1 = <u64>load<u32>(a, 4), a2 = <u64>load<u32>(a, 8), a3 = <u64>load<u32>(a, 12), a4 = <u64>load<u32>(a, 16);
  const b0 = <u64>load<u32>(b, 0), b1 = <u64>load<u32>(b, 4), b2 = <u64>load<u32>(b, 8), b3 = <u64>load<u32>(b, 12), b4 = <u64>load<u32>(b, 16);
  const s1 = b1 * 5, s2 = b2 * 5, s3 = b3 * 5, s4 = b4 * 5;
  const d0 = a0 * b0 + a1 * s4 + a2 * s3 + a3 * s2 + a4 * s1;
  let d1 = a0 * b1 + a1 * b0 + a2 * s4 + a3 * s3 + a4 * s2;
  let d2 = a0 * b2 + a1 * b1 + a2 * b0 + a3 * s4 + a4 * s3;
  let d3 = a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0 + a4 * s4;
  let d4 = a0 * b4 + a1 * b3 + a2 * b2 + a3 * b1 + a4 * b0;
  let c = <u32>(d0 >> 26); let e0 = <u32>d0 & MASK26;
  d1 += c; c = <u32>(d1 >> 26); let e1 = <u32>d1 & MASK26;
  d2 += c; c = <u32>(d2 >> 26); const e2 = <u32>d2 & MASK26;
  d3 += c; c = <u32>(d3 >> 26); const e3 = <u32>d3 & MASK26;
  d4 += c; c = <u32>(d4 >> 26); const e4 = <u32>d4 & MASK26;
  e0 += c * 5; c = e0 >> 26; e0 &= MASK26;
  e1 += c;
  store<u32>(dst, e0, 0); store<u32>(dst, e1, 4); store<u32>(dst, e2, 8); store<u32>(dst, e3, 12); store<u32>(dst, e4, 16);
}

/** Computes r^2, r^3, r^4 and lays out the vector multipliers. */
export function poly4Prepare(): void {
  const p1 = POWERS, p2 = POWERS + 20, p3 = POWERS + 40, p4 = POWERS + 60;
  store<u32>(p1, r0, 0); store<u32>(p1, r1, 4); store<u32>(p1, r2, 8); store<u32>(p1, r3, 12); store<u32>(p1, r4, 16);
  mulLimbs(p2, p1, p1);
  mulLimbs(p3, p2, p1);
  mulLimbs(p4, p2, p2);
  for (let i: usize = 0; i < 5; i++) {
    const x4 = load<u32>(p4 + (i << 2)), x3 = load<u32>(p3 + (i << 2)), x2 = load<u32>(p2 + (i << 2)), x1 = load<u32>(p1 + (i << 2));
    v128.store(V_R4 + (i << 4), i32x4.splat(x4));
    v128.store(V_R4 + 80 + (i << 4), i32x4.splat(x4 * 5));
    v128.store(V_RF + (i << 4), i32x4(x4, x3, x2, x1));
    v128.store(V_RF + 80 + (i << 4), i32x4(x4 * 5, x3 * 5, x2 * 5, x1 * 5));
  }
}

/** Moves the scalar accumulator into lane 0 of the vector one. */
export function poly4Begin(): void {
  v128.store(V_H, i32x4(h0, 0, 0, 0), 0);
  v128.store(V_H, i32x4(h1, 0, 0, 0), 16);
  v128.store(V_H, i32x4(h2, 0, 0, 0), 32);
  v128.store(V_H, i32x4(h3, 0, 0, 0), 48);
  v128.store(V_H, i32x4(h4, 0, 0, 0), 64);
  vectorStarted = false;
}

/** Sum over limbs (a_i · b_j) for one half (low lanes 0,1 or high lanes 2,3) — see mulVec. */
// @ts-ignore: decorator
@inline function dot5lo(a0: v128, b0: v128, a1: v128, b1: v128, a2: v128, b2: v128, a3: v128, b3: v128, a4: v128, b4: v128): v128 {
  return i64x2.add(
    i64x2.add(i64x2.add(i64x2.extmul_low_i32x4_u(a0, b0), i64x2.extmul_low_i32x4_u(a1, b1)), i64x2.add(i64x2.extmul_low_i32x4_u(a2, b2), i64x2.extmul_low_i32x4_u(a3, b3))),
    i64x2.extmul_low_i32x4_u(a4, b4),
  );
}
// @ts-ignore: decorator
@inline function dot5hi(a0: v128, b0: v128, a1: v128, b1: v128, a2: v128, b2: v128, a3: v128, b3: v128, a4: v128, b4: v128): v128 {
  return i64x2.add(
    i64x2.add(i64x2.add(i64x2.extmul_high_i32x4_u(a0, b0), i64x2.extmul_high_i32x4_u(a1, b1)), i64x2.add(i64x2.extmul_high_i32x4_u(a2, b2), i64x2.extmul_high_i32x4_u(a3, b3))),
    i64x2.extmul_high_i32x4_u(a4, b4),
  );
}

/** Narrows two i64x2 (lanes 0,1 and 2,3) holding values < 2^32 into one i32x4. */
// @ts-ignore: decorator
@inline function narrow(lo: v128, hi: v128): v128 {
  return i8x16.shuffle(lo, hi, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
}

/**
 * H = H·R lane by lane (R and 5·R at rp, rp+80), partially carried (limbs just
 * over 26 bits at most), result stored back to V_H. The carry runs as two
 * interleaved chains (0→1→2→3, 3→4→0→1) to shorten the dependency path.
 */
// @ts-ignore: decorator
@inline function mulVec(a0: v128, a1: v128, a2: v128, a3: v128, a4: v128, rp: usize): void {
  const b0 = v128.load(rp, 0), b1 = v128.load(rp, 16), b2 = v128.load(rp, 32), b3 = v128.load(rp, 48), b4 = v128.load(rp, 64);
  const s1 = v128.load(rp, 96), s2 = v128.load(rp, 112), s3 = v128.load(rp, 128), s4 = v128.load(rp, 144);
  const m = i64x2.splat(MASK26);
  let d0l = dot5lo(a0, b0, a1, s4, a2, s3, a3, s2, a4, s1);
  let d0h = dot5hi(a0, b0, a1, s4, a2, s3, a3, s2, a4, s1);
  let d1l = dot5lo(a0, b1, a1, b0, a2, s4, a3, s3, a4, s2);
  let d1h = dot5hi(a0, b1, a1, b0, a2, s4, a3, s3, a4, s2);
  let d2l = dot5lo(a0, b2, a1, b1, a2, b0, a3, s4, a4, s3);
  let d2h = dot5hi(a0, b2, a1, b1, a2, b0, a3, s4, a4, s3);
  let d3l = dot5lo(a0, b3, a1, b2, a2, b1, a3, b0, a4, s4);
  let d3h = dot5hi(a0, b3, a1, b2, a2, b1, a3, b0, a4, s4);
  let d4l = dot5lo(a0, b4, a1, b3, a2, b2, a3, b1, a4, b0);
  let d4h = dot5hi(a0, b4, a1, b3, a2, b2, a3, b1, a4, b0);
  // stage 1: 0→1, 3→4
  let cl = i64x2.shr_u(d0l, 26), ch = i64x2.shr_u(d0h, 26);
  d0l = v128.and(d0l, m); d0h = v128.and(d0h, m); d1l = i64x2.add(d1l, cl); d1h = i64x2.add(d1h, ch);
  cl = i64x2.shr_u(d3l, 26); ch = i64x2.shr_u(d3h, 26);
  d3l = v128.and(d3l, m); d3h = v128.and(d3h, m); d4l = i64x2.add(d4l, cl); d4h = i64x2.add(d4h, ch);
  // stage 2: 1→2, 4→0 (×5)
  cl = i64x2.shr_u(d1l, 26); ch = i64x2.shr_u(d1h, 26);
  d1l = v128.and(d1l, m); d1h = v128.and(d1h, m); d2l = i64x2.add(d2l, cl); d2h = i64x2.add(d2h, ch);
  cl = i64x2.shr_u(d4l, 26); ch = i64x2.shr_u(d4h, 26);
  d4l = v128.and(d4l, m); d4h = v128.and(d4h, m);
  d0l = i64x2.add(d0l, i64x2.add(cl, i64x2.shl(cl, 2))); d0h = i64x2.add(d0h, i64x2.add(ch, i64x2.shl(ch, 2)));
  // stage 3: 2→3, 0→1
  cl = i64x2.shr_u(d2l, 26); ch = i64x2.shr_u(d2h, 26);
  d2l = v128.and(d2l, m); d2h = v128.and(d2h, m); d3l = i64x2.add(d3l, cl); d3h = i64x2.add(d3h, ch);
  cl = i64x2.shr_u(d0l, 26); ch = i64x2.shr_u(d0h, 26);
  d0l = v128.and(d0l, m); d0h = v128.and(d0h, m); d1l = i64x2.add(d1l, cl); d1h = i64x2.add(d1h, ch);
  // stage 4: 3→4
  cl = i64x2.shr_u(d3l, 26); ch = i64x2.shr_u(d3h, 26);
  d3l = v128.and(d3l, m); d3h = v128.and(d3h, m); d4l = i64x2.add(d4l, cl); d4h = i64x2.add(d4h, ch);
  v128.store(V_H, narrow(d0l, d0h), 0);
  v128.store(V_H, narrow(d1l, d1h), 16);
  v128.store(V_H, narrow(d2l, d2h), 32);
  v128.store(V_H, narrow(d3l, d3h), 48);
  v128.store(V_H, narrow(d4l, d4h), 64);
}

/** Adds the four blocks at p (one per lane) to H. */
// @ts-ignore: decorator
@inline function addBlocks4(p: usize): void {
  const m = i32x4.splat(MASK26);
  const b0 = v128.load(p, 0), b1 = v128.load(p, 16), b2 = v128.load(p, 32), b3 = v128.load(p, 48);
  const t0 = i8x16.shuffle(b0, b1, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const t1 = i8x16.shuffle(b2, b3, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const t2 = i8x16.shuffle(b0, b1, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  const t3 = i8x16.shuffle(b2, b3, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  const w0 = i8x16.shuffle(t0, t1, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const w1 = i8x16.shuffle(t0, t1, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const w2 = i8x16.shuffle(t2, t3, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const w3 = i8x16.shuffle(t2, t3, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  v128.store(V_H, i32x4.add(v128.load(V_H, 0), v128.and(w0, m)), 0);
  v128.store(V_H, i32x4.add(v128.load(V_H, 16), v128.and(v128.or(i32x4.shr_u(w0, 26), i32x4.shl(w1, 6)), m)), 16);
  v128.store(V_H, i32x4.add(v128.load(V_H, 32), v128.and(v128.or(i32x4.shr_u(w1, 20), i32x4.shl(w2, 12)), m)), 32);
  v128.store(V_H, i32x4.add(v128.load(V_H, 48), v128.and(v128.or(i32x4.shr_u(w2, 14), i32x4.shl(w3, 18)), m)), 48);
  v128.store(V_H, i32x4.add(v128.load(V_H, 64), v128.or(i32x4.shr_u(w3, 8), i32x4.splat(HIBIT))), 64);
}

/** Absorbs groups × 64 bytes at p on the vector path (between poly4Begin and poly4End). */
export function poly4Groups(p: usize, groups: i32): void {
  if (groups <= 0) return;
  if (!vectorStarted) {
    addBlocks4(p);
    p += 64;
    groups--;
    vectorStarted = true;
  }
  for (let g = 0; g < groups; g++) {
    mulVec(v128.load(V_H, 0), v128.load(V_H, 16), v128.load(V_H, 32), v128.load(V_H, 48), v128.load(V_H, 64), V_R4);
    addBlocks4(p);
    p += 64;
  }
}

/** Folds the four lanes back into the scalar accumulator: Σ lane_k · r^(4-k). */
export function poly4End(): void {
  if (!vectorStarted) return;
  mulVec(v128.load(V_H, 0), v128.load(V_H, 16), v128.load(V_H, 32), v128.load(V_H, 48), v128.load(V_H, 64), V_RF);
  let a0 = sumLanes(v128.load(V_H, 0)), a1 = sumLanes(v128.load(V_H, 16)), a2 = sumLanes(v128.load(V_H, 32));
  let a3 = sumLanes(v128.load(V_H, 48)), a4 = sumLanes(v128.load(V_H, 64));
  let c = a0 >> 26; a0 &= MASK26;
  a1 += c; c = a1 >> 26; a1 &= MASK26;
  a2 += c; c = a2 >> 26; a2 &= MASK26;
  a3 += c; c = a3 >> 26; a3 &= MASK26;
  a4 += c; c = a4 >> 26; a4 &= MASK26;
  a0 += c * 5; c = a0 >> 26; a0 &= MASK26;
  a1 += c;
  h0 = a0; h1 = a1; h2 = a2; h3 = a3; h4 = a4;
  vectorStarted = false;
}

// @ts-ignore: decorator
@inline function sumLanes(v: v128): u32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}
