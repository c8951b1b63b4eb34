// ChaCha20 (RFC 8439 §2.1–2.4) over linear memory, no allocation.
//
// The same source builds two ways: with SIMD (ASC_FEATURE_SIMD) four blocks are
// computed at once, state word i of blocks n..n+3 in the four lanes of one v128
// (counters n+0..n+3 in word 12), then transposed back to byte order while the
// input is XORed; without SIMD a plain 32-bit block function runs one block at
// a time. Rotation by 16 is a 16-bit-lane shuffle (V8 lowers it to
// pshuflw/pshufhw); by 8, 12 and 7 a shift-or pair, which measured faster than
// a byte shuffle for 8 (V8 rebuilds a pshufb mask at every use).
//
// Keys (32 bytes) and nonces (12 bytes) are read from memory as little-endian
// words; callers pass pointers already checked against their buffers.

export const SIGMA0: u32 = 0x61707865;
export const SIGMA1: u32 = 0x3320646e;
export const SIGMA2: u32 = 0x79622d32;
export const SIGMA3: u32 = 0x6b206574;

/** Bytes of keystream one SIMD step (or four scalar blocks) produces. */
export const CHUNK: i32 = 256;

/** Scalar block function: writes the 64-byte keystream block (key, nonce, counter) to out. */
export function chachaBlock(key: usize, nonce: usize, counter: u32, out: usize): void {
  let x0 = SIGMA0, x1 = SIGMA1, x2 = SIGMA2, x3 = SIGMA3;
  let x4 = load<u32>(key, 0), x5 = load<u32>(key, 4), x6 = load<u32>(key, 8), x7 = load<u32>(key, 12);
  let x8 = load<u32>(key, 16), x9 = load<u32>(key, 20), x10 = load<u32>(key, 24), x11 = load<u32>(key, 28);
  let x12 = counter, x13 = load<u32>(nonce, 0), x14 = load<u32>(nonce, 4), x15 = load<u32>(nonce, 8);
  for (let i = 0; i < 10; i++) {
    x0 += x4; x12 = rotl<u32>(x12 ^ x0, 16); x1 += x5; x13 = rotl<u32>(x13 ^ x1, 16); x2 += x6; x14 = rotl<u32>(x14 ^ x2, 16); x3 += x7; x15 = rotl<u32>(x15 ^ x3, 16);
    x8 += x12; x4 = rotl<u32>(x4 ^ x8, 12); x9 += x13; x5 = rotl<u32>(x5 ^ x9, 12); x10 += x14; x6 = rotl<u32>(x6 ^ x10, 12); x11 += x15; x7 = rotl<u32>(x7 ^ x11, 12);
    x0 += x4; x12 = rotl<u32>(x12 ^ x0, 8); x1 += x5; x13 = rotl<u32>(x13 ^ x1, 8); x2 += x6; x14 = rotl<u32>(x14 ^ x2, 8); x3 += x7; x15 = rotl<u32>(x15 ^ x3, 8);
    x8 += x12; x4 = rotl<u32>(x4 ^ x8, 7); x9 += x13; x5 = rotl<u32>(x5 ^ x9, 7); x10 += x14; x6 = rotl<u32>(x6 ^ x10, 7); x11 += x15; x7 = rotl<u32>(x7 ^ x11, 7);
    x0 += x5; x15 = rotl<u32>(x15 ^ x0, 16); x1 += x6; x12 = rotl<u32>(x12 ^ x1, 16); x2 += x7; x13 = rotl<u32>(x13 ^ x2, 16); x3 += x4; x14 = rotl<u32>(x14 ^ x3, 16);
    x10 += x15; x5 = rotl<u32>(x5 ^ x10, 12); x11 += x12; x6 = rotl<u32>(x6 ^ x11, 12); x8 += x13; x7 = rotl<u32>(x7 ^ x8, 12); x9 += x14; x4 = rotl<u32>(x4 ^ x9, 12);
    x0 += x5; x15 = rotl<u32>(x15 ^ x0, 8); x1 += x6; x12 = rotl<u32>(x12 ^ x1, 8); x2 += x7; x13 = rotl<u32>(x13 ^ x2, 8); x3 += x4; x14 = rotl<u32>(x14 ^ x3, 8);
    x10 += x15; x5 = rotl<u32>(x5 ^ x10, 7); x11 += x12; x6 = rotl<u32>(x6 ^ x11, 7); x8 += x13; x7 = rotl<u32>(x7 ^ x8, 7); x9 += x14; x4 = rotl<u32>(x4 ^ x9, 7);
  }
  store<u32>(out, x0 + SIGMA0, 0); store<u32>(out, x1 + SIGMA1, 4);
  store<u32>(out, x2 + SIGMA2, 8); store<u32>(out, x3 + SIGMA3, 12);
  store<u32>(out, x4 + load<u32>(key, 0), 16); store<u32>(out, x5 + load<u32>(key, 4), 20);
  store<u32>(out, x6 + load<u32>(key, 8), 24); store<u32>(out, x7 + load<u32>(key, 12), 28);
  store<u32>(out, x8 + load<u32>(key, 16), 32); store<u32>(out, x9 + load<u32>(key, 20), 36);
  store<u32>(out, x10 + load<u32>(key, 24), 40); store<u32>(out, x11 + load<u32>(key, 28), 44);
  store<u32>(out, x12 + counter, 48); store<u32>(out, x13 + load<u32>(nonce, 0), 52);
  store<u32>(out, x14 + load<u32>(nonce, 4), 56); store<u32>(out, x15 + load<u32>(nonce, 8), 60);
}

// @ts-ignore: decorator
@inline export function rot16(x: v128): v128 {
  return i8x16.shuffle(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
}
// @ts-ignore: decorator
@inline export function rot8(x: v128): v128 {
  return v128.or(i32x4.shl(x, 8), i32x4.shr_u(x, 24));
}
// @ts-ignore: decorator
@inline export function rot12(x: v128): v128 {
  return v128.or(i32x4.shl(x, 12), i32x4.shr_u(x, 20));
}
// @ts-ignore: decorator
@inline export function rot7(x: v128): v128 {
  return v128.or(i32x4.shl(x, 7), i32x4.shr_u(x, 25));
}

/** Block counters counter..counter+3, one per lane (recomputed rather than held across the rounds). */
// @ts-ignore: decorator
@inline export function counters(counter: u32): v128 {
  return i32x4.add(i32x4.splat(counter), i32x4(0, 1, 2, 3));
}

/**
 * Four words (a, b, c, d), each holding one state word of blocks 0..3, become
 * bytes 16*g..16*g+15 of each of the four blocks at dst (+64 per block),
 * XORed with src at the same offsets when xorInput.
 */
// @ts-ignore: decorator
@inline export function transposeOut(a: v128, b: v128, c: v128, d: v128, src: usize, dst: usize, xorInput: bool): void {
  const ab0 = i8x16.shuffle(a, b, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23); // a0 b0 a1 b1
  const cd0 = i8x16.shuffle(c, d, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23); // c0 d0 c1 d1
  const ab1 = i8x16.shuffle(a, b, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31); // a2 b2 a3 b3
  const cd1 = i8x16.shuffle(c, d, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31); // c2 d2 c3 d3
  const k0 = i8x16.shuffle(ab0, cd0, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const k1 = i8x16.shuffle(ab0, cd0, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const k2 = i8x16.shuffle(ab1, cd1, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const k3 = i8x16.shuffle(ab1, cd1, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  if (xorInput) {
    v128.store(dst, v128.xor(k0, v128.load(src)), 0);
    v128.store(dst, v128.xor(k1, v128.load(src, 64)), 64);
    v128.store(dst, v128.xor(k2, v128.load(src, 128)), 128);
    v128.store(dst, v128.xor(k3, v128.load(src, 192)), 192);
  } else {
    v128.store(dst, k0, 0);
    v128.store(dst, k1, 64);
    v128.store(dst, k2, 128);
    v128.store(dst, k3, 192);
  }
}

/**
 * SIMD: four blocks (counter .. counter+3) at once. With xorInput, the 256 bytes
 * at p are XORed with the keystream in place; otherwise the keystream is written to p.
 */
// @ts-ignore: decorator
@inline function chacha4(key: usize, nonce: usize, counter: u32, p: usize, xorInput: bool): void {
  let x0 = i32x4.splat(SIGMA0), x1 = i32x4.splat(SIGMA1), x2 = i32x4.splat(SIGMA2), x3 = i32x4.splat(SIGMA3);
  let x4 = v128.load32_splat(key, 0), x5 = v128.load32_splat(key, 4), x6 = v128.load32_splat(key, 8), x7 = v128.load32_splat(key, 12);
  let x8 = v128.load32_splat(key, 16), x9 = v128.load32_splat(key, 20), x10 = v128.load32_splat(key, 24), x11 = v128.load32_splat(key, 28);
  let x12 = counters(counter), x13 = v128.load32_splat(nonce, 0), x14 = v128.load32_splat(nonce, 4), x15 = v128.load32_splat(nonce, 8);
  for (let i = 0; i < 10; i++) {
    x0 = i32x4.add(x0, x4); x1 = i32x4.add(x1, x5); x2 = i32x4.add(x2, x6); x3 = i32x4.add(x3, x7);
    x12 = rot16(v128.xor(x12, x0)); x13 = rot16(v128.xor(x13, x1)); x14 = rot16(v128.xor(x14, x2)); x15 = rot16(v128.xor(x15, x3));
    x8 = i32x4.add(x8, x12); x9 = i32x4.add(x9, x13); x10 = i32x4.add(x10, x14); x11 = i32x4.add(x11, x15);
    x4 = rot12(v128.xor(x4, x8)); x5 = rot12(v128.xor(x5, x9)); x6 = rot12(v128.xor(x6, x10)); x7 = rot12(v128.xor(x7, x11));
    x0 = i32x4.add(x0, x4); x1 = i32x4.add(x1, x5); x2 = i32x4.add(x2, x6); x3 = i32x4.add(x3, x7);
    x12 = rot8(v128.xor(x12, x0)); x13 = rot8(v128.xor(x13, x1)); x14 = rot8(v128.xor(x14, x2)); x15 = rot8(v128.xor(x15, x3));
    x8 = i32x4.add(x8, x12); x9 = i32x4.add(x9, x13); x10 = i32x4.add(x10, x14); x11 = i32x4.add(x11, x15);
    x4 = rot7(v128.xor(x4, x8)); x5 = rot7(v128.xor(x5, x9)); x6 = rot7(v128.xor(x6, x10)); x7 = rot7(v128.xor(x7, x11));
    x0 = i32x4.add(x0, x5); x1 = i32x4.add(x1, x6); x2 = i32x4.add(x2, x7); x3 = i32x4.add(x3, x4);
    x15 = rot16(v128.xor(x15, x0)); x12 = rot16(v128.xor(x12, x1)); x13 = rot16(v128.xor(x13, x2)); x14 = rot16(v128.xor(x14, x3));
    x10 = i32x4.add(x10, x15); x11 = i32x4.add(x11, x12); x8 = i32x4.add(x8, x13); x9 = i32x4.add(x9, x14);
    x5 = rot12(v128.xor(x5, x10)); x6 = rot12(v128.xor(x6, x11)); x7 = rot12(v128.xor(x7, x8)); x4 = rot12(v128.xor(x4, x9));
    x0 = i32x4.add(x0, x5); x1 = i32x4.add(x1, x6); x2 = i32x4.add(x2, x7); x3 = i32x4.add(x3, x4);
    x15 = rot8(v128.xor(x15, x0)); x12 = rot8(v128.xor(x12, x1)); x13 = rot8(v128.xor(x13, x2)); x14 = rot8(v128.xor(x14, x3));
    x10 = i32x4.add(x10, x15); x11 = i32x4.add(x11, x12); x8 = i32x4.add(x8, x13); x9 = i32x4.add(x9, x14);
    x5 = rot7(v128.xor(x5, x10)); x6 = rot7(v128.xor(x6, x11)); x7 = rot7(v128.xor(x7, x8)); x4 = rot7(v128.xor(x4, x9));
  }
  x0 = i32x4.add(x0, i32x4.splat(SIGMA0)); x1 = i32x4.add(x1, i32x4.splat(SIGMA1));
  x2 = i32x4.add(x2, i32x4.splat(SIGMA2)); x3 = i32x4.add(x3, i32x4.splat(SIGMA3));
  transposeOut(x0, x1, x2, x3, p, p, xorInput);
  x4 = i32x4.add(x4, v128.load32_splat(key, 0)); x5 = i32x4.add(x5, v128.load32_splat(key, 4));
  x6 = i32x4.add(x6, v128.load32_splat(key, 8)); x7 = i32x4.add(x7, v128.load32_splat(key, 12));
  transposeOut(x4, x5, x6, x7, p + 16, p + 16, xorInput);
  x8 = i32x4.add(x8, v128.load32_splat(key, 16)); x9 = i32x4.add(x9, v128.load32_splat(key, 20));
  x10 = i32x4.add(x10, v128.load32_splat(key, 24)); x11 = i32x4.add(x11, v128.load32_splat(key, 28));
  transposeOut(x8, x9, x10, x11, p + 32, p + 32, xorInput);
  x12 = i32x4.add(x12, counters(counter)); x13 = i32x4.add(x13, v128.load32_splat(nonce, 0));
  x14 = i32x4.add(x14, v128.load32_splat(nonce, 4)); x15 = i32x4.add(x15, v128.load32_splat(nonce, 8));
  transposeOut(x12, x13, x14, x15, p + 48, p + 48, xorInput);
}

/** Lanes rotated left by n 32-bit words (pshufd). */
// @ts-ignore: decorator
@inline function lanes1(x: v128): v128 { return i8x16.shuffle(x, x, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3); }
// @ts-ignore: decorator
@inline function lanes2(x: v128): v128 { return i8x16.shuffle(x, x, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7); }
// @ts-ignore: decorator
@inline function lanes3(x: v128): v128 { return i8x16.shuffle(x, x, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11); }

/**
 * SIMD, row layout: blocks counter..counter+2 (192 bytes) to out, one block per
 * four v128 rows (a = words 0..3, b = 4..7, c = 8..11, d = 12..15), the
 * diagonal round done by rotating rows b, c, d. Three independent blocks keep
 * the units busy; for a short record this costs about half of a four-lane step.
 */
export function chacha3Rows(key: usize, nonce: usize, counter: u32, out: usize): void {
  const sigma = i32x4(SIGMA0, SIGMA1, SIGMA2, SIGMA3);
  const kb = v128.load(key), kc = v128.load(key, 16);
  const d0 = i32x4(counter, load<u32>(nonce, 0), load<u32>(nonce, 4), load<u32>(nonce, 8));
  const d1 = i32x4.add(d0, i32x4(1, 0, 0, 0)), d2 = i32x4.add(d0, i32x4(2, 0, 0, 0));
  let a0 = sigma, b0 = kb, c0 = kc, x0 = d0;
  let a1 = sigma, b1 = kb, c1 = kc, x1 = d1;
  let a2 = sigma, b2 = kb, c2 = kc, x2 = d2;
  for (let i = 0; i < 10; i++) {
    a0 = i32x4.add(a0, b0); a1 = i32x4.add(a1, b1); a2 = i32x4.add(a2, b2);
    x0 = rot16(v128.xor(x0, a0)); x1 = rot16(v128.xor(x1, a1)); x2 = rot16(v128.xor(x2, a2));
    c0 = i32x4.add(c0, x0); c1 = i32x4.add(c1, x1); c2 = i32x4.add(c2, x2);
    b0 = rot12(v128.xor(b0, c0)); b1 = rot12(v128.xor(b1, c1)); b2 = rot12(v128.xor(b2, c2));
    a0 = i32x4.add(a0, b0); a1 = i32x4.add(a1, b1); a2 = i32x4.add(a2, b2);
    x0 = rot8(v128.xor(x0, a0)); x1 = rot8(v128.xor(x1, a1)); x2 = rot8(v128.xor(x2, a2));
    c0 = i32x4.add(c0, x0); c1 = i32x4.add(c1, x1); c2 = i32x4.add(c2, x2);
    b0 = rot7(v128.xor(b0, c0)); b1 = rot7(v128.xor(b1, c1)); b2 = rot7(v128.xor(b2, c2));
    b0 = lanes1(b0); b1 = lanes1(b1); b2 = lanes1(b2);
    c0 = lanes2(c0); c1 = lanes2(c1); c2 = lanes2(c2);
    x0 = lanes3(x0); x1 = lanes3(x1); x2 = lanes3(x2);
    a0 = i32x4.add(a0, b0); a1 = i32x4.add(a1, b1); a2 = i32x4.add(a2, b2);
    x0 = rot16(v128.xor(x0, a0)); x1 = rot16(v128.xor(x1, a1)); x2 = rot16(v128.xor(x2, a2));
    c0 = i32x4.add(c0, x0); c1 = i32x4.add(c1, x1); c2 = i32x4.add(c2, x2);
    b0 = rot12(v128.xor(b0, c0)); b1 = rot12(v128.xor(b1, c1)); b2 = rot12(v128.xor(b2, c2));
    a0 = i32x4.add(a0, b0); a1 = i32x4.add(a1, b1); a2 = i32x4.add(a2, b2);
    x0 = rot8(v128.xor(x0, a0)); x1 = rot8(v128.xor(x1, a1)); x2 = rot8(v128.xor(x2, a2));
    c0 = i32x4.add(c0, x0); c1 = i32x4.add(c1, x1); c2 = i32x4.add(c2, x2);
    b0 = rot7(v128.xor(b0, c0)); b1 = rot7(v128.xor(b1, c1)); b2 = rot7(v128.xor(b2, c2));
    b0 = lanes3(b0); b1 = lanes3(b1); b2 = lanes3(b2);
    c0 = lanes2(c0); c1 = lanes2(c1); c2 = lanes2(c2);
    x0 = lanes1(x0); x1 = lanes1(x1); x2 = lanes1(x2);
  }
  v128.store(out, i32x4.add(a0, sigma), 0); v128.store(out, i32x4.add(b0, kb), 16);
  v128.store(out, i32x4.add(c0, kc), 32); v128.store(out, i32x4.add(x0, d0), 48);
  v128.store(out, i32x4.add(a1, sigma), 64); v128.store(out, i32x4.add(b1, kb), 80);
  v128.store(out, i32x4.add(c1, kc), 96); v128.store(out, i32x4.add(x1, d1), 112);
  v128.store(out, i32x4.add(a2, sigma), 128); v128.store(out, i32x4.add(b2, kb), 144);
  v128.store(out, i32x4.add(c2, kc), 160); v128.store(out, i32x4.add(x2, d2), 176);
}

/** SIMD: XORs the 256 bytes at p with keystream blocks counter..counter+3, in place. */
export function chacha4Xor(key: usize, nonce: usize, counter: u32, p: usize): void {
  chacha4(key, nonce, counter, p, true);
}

/** SIMD: writes keystream blocks counter..counter+3 (256 bytes) to out. */
export function chacha4Keystream(key: usize, nonce: usize, counter: u32, out: usize): void {
  chacha4(key, nonce, counter, out, false);
}

/** XORs n bytes at dst with n bytes of ks (n small: a tail), in place. */
export function xorBytes(dst: usize, ks: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 16 <= n; i += 16) v128.store(dst + i, v128.xor(v128.load(dst + i), v128.load(ks + i)));
  }
  for (; i + 8 <= n; i += 8) store<u64>(dst + i, load<u64>(dst + i) ^ load<u64>(ks + i));
  for (; i < n; i++) store<u8>(dst + i, load<u8>(dst + i) ^ load<u8>(ks + i));
}

/** dst = src XOR ks over n bytes (n small: a tail). */
export function xorBytesTo(dst: usize, src: usize, ks: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 16 <= n; i += 16) v128.store(dst + i, v128.xor(v128.load(src + i), v128.load(ks + i)));
  }
  for (; i + 8 <= n; i += 8) store<u64>(dst + i, load<u64>(src + i) ^ load<u64>(ks + i));
  for (; i < n; i++) store<u8>(dst + i, load<u8>(src + i) ^ load<u8>(ks + i));
}

/**
 * Writes nblocks (1..4) keystream blocks from counter to out (256 bytes of room):
 * SIMD computes three (row layout) or four (lane layout) at once; the scalar
 * build computes only those asked for.
 */
export function keystream(key: usize, nonce: usize, counter: u32, out: usize, nblocks: i32): void {
  if (ASC_FEATURE_SIMD) {
    if (nblocks <= 3) chacha3Rows(key, nonce, counter, out);
    else chacha4Keystream(key, nonce, counter, out);
  } else {
    for (let b = 0; b < nblocks; b++) chachaBlock(key, nonce, counter + <u32>b, out + (<usize>b << 6));
  }
}

/**
 * XORs len bytes at p with the keystream starting at block counter, in place.
 * scratch: 256 bytes for the keystream of a partial tail.
 */
export function xorStream(key: usize, nonce: usize, counter: u32, p: usize, len: i32, scratch: usize): void {
  while (len >= CHUNK) {
    xorChunk(key, nonce, counter, p);
    counter += 4;
    p += <usize>CHUNK;
    len -= CHUNK;
  }
  if (len > 0) {
    keystream(key, nonce, counter, scratch, (len + 63) >> 6);
    xorBytes(p, scratch, len);
  }
}

/** XORs one full 256-byte chunk at p with keystream blocks counter..counter+3. */
// @ts-ignore: decorator
@inline export function xorChunk(key: usize, nonce: usize, counter: u32, p: usize): void {
  if (ASC_FEATURE_SIMD) {
    chacha4Xor(key, nonce, counter, p);
  } else {
    for (let b = 0; b < 4; b++) xorBlockScalar(key, nonce, counter + <u32>b, p + (<usize>b << 6));
  }
}

/** Scalar: XORs one 64-byte block at p with keystream block counter. */
function xorBlockScalar(key: usize, nonce: usize, counter: u32, p: usize): void {
  let x0 = SIGMA0, x1 = SIGMA1, x2 = SIGMA2, x3 = SIGMA3;
  let x4 = load<u32>(key, 0), x5 = load<u32>(key, 4), x6 = load<u32>(key, 8), x7 = load<u32>(key, 12);
  let x8 = load<u32>(key, 16), x9 = load<u32>(key, 20), x10 = load<u32>(key, 24), x11 = load<u32>(key, 28);
  let x12 = counter, x13 = load<u32>(nonce, 0), x14 = load<u32>(nonce, 4), x15 = load<u32>(nonce, 8);
  for (let i = 0; i < 10; i++) {
    x0 += x4; x12 = rotl<u32>(x12 ^ x0, 16); x1 += x5; x13 = rotl<u32>(x13 ^ x1, 16); x2 += x6; x14 = rotl<u32>(x14 ^ x2, 16); x3 += x7; x15 = rotl<u32>(x15 ^ x3, 16);
    x8 += x12; x4 = rotl<u32>(x4 ^ x8, 12); x9 += x13; x5 = rotl<u32>(x5 ^ x9, 12); x10 += x14; x6 = rotl<u32>(x6 ^ x10, 12); x11 += x15; x7 = rotl<u32>(x7 ^ x11, 12);
    x0 += x4; x12 = rotl<u32>(x12 ^ x0, 8); x1 += x5; x13 = rotl<u32>(x13 ^ x1, 8); x2 += x6; x14 = rotl<u32>(x14 ^ x2, 8); x3 += x7; x15 = rotl<u32>(x15 ^ x3, 8);
    x8 += x12; x4 = rotl<u32>(x4 ^ x8, 7); x9 += x13; x5 = rotl<u32>(x5 ^ x9, 7); x10 += x14; x6 = rotl<u32>(x6 ^ x10, 7); x11 += x15; x7 = rotl<u32>(x7 ^ x11, 7);
    x0 += x5; x15 = rotl<u32>(x15 ^ x0, 16); x1 += x6; x12 = rotl<u32>(x12 ^ x1, 16); x2 += x7; x13 = rotl<u32>(x13 ^ x2, 16); x3 += x4; x14 = rotl<u32>(x14 ^ x3, 16);
    x10 += x15; x5 = rotl<u32>(x5 ^ x10, 12); x11 += x12; x6 = rotl<u32>(x6 ^ x11, 12); x8 += x13; x7 = rotl<u32>(x7 ^ x8, 12); x9 += x14; x4 = rotl<u32>(x4 ^ x9, 12);
    x0 += x5; x15 = rotl<u32>(x15 ^ x0, 8); x1 += x6; x12 = rotl<u32>(x12 ^ x1, 8); x2 += x7; x13 = rotl<u32>(x13 ^ x2, 8); x3 += x4; x14 = rotl<u32>(x14 ^ x3, 8);
    x10 += x15; x5 = rotl<u32>(x5 ^ x10, 7); x11 += x12; x6 = rotl<u32>(x6 ^ x11, 7); x8 += x13; x7 = rotl<u32>(x7 ^ x8, 7); x9 += x14; x4 = rotl<u32>(x4 ^ x9, 7);
  }
  store<u32>(p, load<u32>(p, 0) ^ (x0 + SIGMA0), 0); store<u32>(p, load<u32>(p, 4) ^ (x1 + SIGMA1), 4);
  store<u32>(p, load<u32>(p, 8) ^ (x2 + SIGMA2), 8); store<u32>(p, load<u32>(p, 12) ^ (x3 + SIGMA3), 12);
  store<u32>(p, load<u32>(p, 16) ^ (x4 + load<u32>(key, 0)), 16); store<u32>(p, load<u32>(p, 20) ^ (x5 + load<u32>(key, 4)), 20);
  store<u32>(p, load<u32>(p, 24) ^ (x6 + load<u32>(key, 8)), 24); store<u32>(p, load<u32>(p, 28) ^ (x7 + load<u32>(key, 12)), 28);
  store<u32>(p, load<u32>(p, 32) ^ (x8 + load<u32>(key, 16)), 32); store<u32>(p, load<u32>(p, 36) ^ (x9 + load<u32>(key, 20)), 36);
  store<u32>(p, load<u32>(p, 40) ^ (x10 + load<u32>(key, 24)), 40); store<u32>(p, load<u32>(p, 44) ^ (x11 + load<u32>(key, 28)), 44);
  store<u32>(p, load<u32>(p, 48) ^ (x12 + counter), 48); store<u32>(p, load<u32>(p, 52) ^ (x13 + load<u32>(nonce, 0)), 52);
  store<u32>(p, load<u32>(p, 56) ^ (x14 + load<u32>(nonce, 4)), 56); store<u32>(p, load<u32>(p, 60) ^ (x15 + load<u32>(nonce, 8)), 60);
}
