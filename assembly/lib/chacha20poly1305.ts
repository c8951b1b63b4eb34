// The stitched inner step of ChaCha20-Poly1305 (SIMD build only): four
// ChaCha20 blocks in v128 lanes (as chacha20.ts) with Poly1305 blocks
// (as poly1305.ts) interleaved into the ten double rounds. ChaCha20 keeps the
// vector units busy, Poly1305's 32×32→64 multiplies run on the integer units
// at the same time, so a 256-byte chunk costs about the ChaCha20 alone.
// The Poly1305 loop body is poly1305.ts's polyBlocks body repeated here (and
// unrolled in chachaPolyXor16), because it has to sit inside this function's
// loop on this function's locals; the loose-limb bounds of poly1305.ts apply.
import { rot16, rot12, rot8, rot7, transposeOut, counters, SIGMA0, SIGMA1, SIGMA2, SIGMA3 } from './chacha20';
import { POLY_STATE, polyStore } from './poly1305';

const M32: u64 = 0xffffffff;

/**
 * ChaCha20 blocks counter..counter+3 over 256 bytes: with xorInput,
 * dst = src XOR keystream (src may equal dst); otherwise dst = keystream.
 * Meanwhile macBlocks (0..20) full 16-byte blocks at mac go through Poly1305
 * (state in POLY_STATE). mac must not overlap dst.
 */
// @ts-ignore: decorator
@inline function stitched(key: usize, nonce: usize, counter: u32, src: usize, dst: usize, xorInput: bool, mac: usize, macBlocks: i32): void {
  let x0 = i32x4.splat(SIGMA0), x1 = i32x4.splat(SIGMA1), x2 = i32x4.splat(SIGMA2), x3 = i32x4.splat(SIGMA3);
  let x4 = v128.load32_splat(key, 0), x5 = v128.load32_splat(key, 4), x6 = v128.load32_splat(key, 8), x7 = v128.load32_splat(key, 12);
  let x8 = v128.load32_splat(key, 16), x9 = v128.load32_splat(key, 20), x10 = v128.load32_splat(key, 24), x11 = v128.load32_splat(key, 28);
  let x12 = counters(counter), x13 = v128.load32_splat(nonce, 0), x14 = v128.load32_splat(nonce, 4), x15 = v128.load32_splat(nonce, 8);

  let h0 = <u64>load<u32>(POLY_STATE, 0), h1 = <u64>load<u32>(POLY_STATE, 4), h2 = <u64>load<u32>(POLY_STATE, 8);
  let h3 = <u64>load<u32>(POLY_STATE, 12), h4 = <u64>load<u32>(POLY_STATE, 16);
  const r0 = <u64>load<u32>(POLY_STATE, 20), r1 = <u64>load<u32>(POLY_STATE, 24);
  const r2 = <u64>load<u32>(POLY_STATE, 28), r3 = <u64>load<u32>(POLY_STATE, 32);
  const s1 = <u64>load<u32>(POLY_STATE, 36), s2 = <u64>load<u32>(POLY_STATE, 40), s3 = <u64>load<u32>(POLY_STATE, 44);
  let macDone = 0;

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
    // Spread the Poly1305 blocks evenly over the ten double rounds.
    const macUntil = ((i + 1) * macBlocks) / 10;
    for (; macDone < macUntil; macDone++) {
      const a0 = h0 + <u64>load<u32>(mac, 0);
      const a1 = h1 + <u64>load<u32>(mac, 4);
      const a2 = h2 + <u64>load<u32>(mac, 8);
      const a3 = h3 + <u64>load<u32>(mac, 12);
      const a4 = h4 + 1;
      const d0 = a0 * r0 + a1 * s3 + a2 * s2 + a3 * s1;
      const d1 = a0 * r1 + a1 * r0 + a2 * s3 + a3 * s2 + a4 * s1;
      const d2 = a0 * r2 + a1 * r1 + a2 * r0 + a3 * s3 + a4 * s2;
      const d3 = a0 * r3 + a1 * r2 + a2 * r1 + a3 * r0 + a4 * s3;
      const t4 = a4 * r0 + (d3 >> 32);
      h0 = (d0 & M32) + (t4 >> 2) + (t4 & ~3);
      h1 = (d1 & M32) + (d0 >> 32);
      h2 = (d2 & M32) + (d1 >> 32);
      h3 = (d3 & M32) + (d2 >> 32);
      h4 = t4 & 3;
      mac += 16;
    }
  }

  polyStore(h0, h1, h2, h3, h4);

  x0 = i32x4.add(x0, i32x4.splat(SIGMA0)); x1 = i32x4.add(x1, i32x4.splat(SIGMA1));
  x2 = i32x4.add(x2, i32x4.splat(SIGMA2)); x3 = i32x4.add(x3, i32x4.splat(SIGMA3));
  transposeOut(x0, x1, x2, x3, src, dst, xorInput);
  x4 = i32x4.add(x4, v128.load32_splat(key, 0)); x5 = i32x4.add(x5, v128.load32_splat(key, 4));
  x6 = i32x4.add(x6, v128.load32_splat(key, 8)); x7 = i32x4.add(x7, v128.load32_splat(key, 12));
  transposeOut(x4, x5, x6, x7, src + 16, dst + 16, xorInput);
  x8 = i32x4.add(x8, v128.load32_splat(key, 16)); x9 = i32x4.add(x9, v128.load32_splat(key, 20));
  x10 = i32x4.add(x10, v128.load32_splat(key, 24)); x11 = i32x4.add(x11, v128.load32_splat(key, 28));
  transposeOut(x8, x9, x10, x11, src + 32, dst + 32, xorInput);
  x12 = i32x4.add(x12, counters(counter)); x13 = i32x4.add(x13, v128.load32_splat(nonce, 0));
  x14 = i32x4.add(x14, v128.load32_splat(nonce, 4)); x15 = i32x4.add(x15, v128.load32_splat(nonce, 8));
  transposeOut(x12, x13, x14, x15, src + 48, dst + 48, xorInput);
}

/**
 * The steady state of a record: dst = src XOR keystream(counter..counter+3)
 * while exactly 16 blocks (the previous chunk) at mac go through Poly1305,
 * two in each of the first six double rounds and one in each of the last
 * four. With the count fixed there is no inner loop and no division, and each
 * round is one basic block: +7–8% over stitched() at 16–64 KiB. The Poly1305
 * statements are written between the ChaCha20 lines, but TurboFan regroups
 * them (a round's vector instructions, then its integer ones), so the
 * out-of-order core does the overlapping. Same arithmetic as stitched().
 */
export function chachaPolyXor16(key: usize, nonce: usize, counter: u32, src: usize, dst: usize, mac: usize): void {
  let x0 = i32x4.splat(SIGMA0), x1 = i32x4.splat(SIGMA1), x2 = i32x4.splat(SIGMA2), x3 = i32x4.splat(SIGMA3);
  let x4 = v128.load32_splat(key, 0), x5 = v128.load32_splat(key, 4), x6 = v128.load32_splat(key, 8), x7 = v128.load32_splat(key, 12);
  let x8 = v128.load32_splat(key, 16), x9 = v128.load32_splat(key, 20), x10 = v128.load32_splat(key, 24), x11 = v128.load32_splat(key, 28);
  let x12 = counters(counter), x13 = v128.load32_splat(nonce, 0), x14 = v128.load32_splat(nonce, 4), x15 = v128.load32_splat(nonce, 8);

  let h0 = <u64>load<u32>(POLY_STATE, 0), h1 = <u64>load<u32>(POLY_STATE, 4), h2 = <u64>load<u32>(POLY_STATE, 8);
  let h3 = <u64>load<u32>(POLY_STATE, 12), h4 = <u64>load<u32>(POLY_STATE, 16);
  const r0 = <u64>load<u32>(POLY_STATE, 20), r1 = <u64>load<u32>(POLY_STATE, 24);
  const r2 = <u64>load<u32>(POLY_STATE, 28), r3 = <u64>load<u32>(POLY_STATE, 32);
  const s1 = <u64>load<u32>(POLY_STATE, 36), s2 = <u64>load<u32>(POLY_STATE, 40), s3 = <u64>load<u32>(POLY_STATE, 44);
  for (let i = 0; i < 6; i++) {
    x0 = i32x4.add(x0, x4); x1 = i32x4.add(x1, x5); x2 = i32x4.add(x2, x6); x3 = i32x4.add(x3, x7);
      const a0_0 = h0 + <u64>load<u32>(mac, 0);
      const a1_0 = h1 + <u64>load<u32>(mac, 4);
    x12 = rot16(v128.xor(x12, x0)); x13 = rot16(v128.xor(x13, x1)); x14 = rot16(v128.xor(x14, x2)); x15 = rot16(v128.xor(x15, x3));
      const a2_0 = h2 + <u64>load<u32>(mac, 8);
      const a3_0 = h3 + <u64>load<u32>(mac, 12);
    x8 = i32x4.add(x8, x12); x9 = i32x4.add(x9, x13); x10 = i32x4.add(x10, x14); x11 = i32x4.add(x11, x15);
      const a4_0 = h4 + 1;
      const d0_0 = a0_0 * r0 + a1_0 * s3 + a2_0 * s2 + a3_0 * s1;
    x4 = rot12(v128.xor(x4, x8)); x5 = rot12(v128.xor(x5, x9)); x6 = rot12(v128.xor(x6, x10)); x7 = rot12(v128.xor(x7, x11));
      const d1_0 = a0_0 * r1 + a1_0 * r0 + a2_0 * s3 + a3_0 * s2 + a4_0 * s1;
      const d2_0 = a0_0 * r2 + a1_0 * r1 + a2_0 * r0 + a3_0 * s3 + a4_0 * s2;
    x0 = i32x4.add(x0, x4); x1 = i32x4.add(x1, x5); x2 = i32x4.add(x2, x6); x3 = i32x4.add(x3, x7);
      const d3_0 = a0_0 * r3 + a1_0 * r2 + a2_0 * r1 + a3_0 * r0 + a4_0 * s3;
      const t4_0 = a4_0 * r0 + (d3_0 >> 32);
    x12 = rot8(v128.xor(x12, x0)); x13 = rot8(v128.xor(x13, x1)); x14 = rot8(v128.xor(x14, x2)); x15 = rot8(v128.xor(x15, x3));
      h0 = (d0_0 & M32) + (t4_0 >> 2) + (t4_0 & ~3);
      h1 = (d1_0 & M32) + (d0_0 >> 32);
    x8 = i32x4.add(x8, x12); x9 = i32x4.add(x9, x13); x10 = i32x4.add(x10, x14); x11 = i32x4.add(x11, x15);
      h2 = (d2_0 & M32) + (d1_0 >> 32);
      h3 = (d3_0 & M32) + (d2_0 >> 32);
    x4 = rot7(v128.xor(x4, x8)); x5 = rot7(v128.xor(x5, x9)); x6 = rot7(v128.xor(x6, x10)); x7 = rot7(v128.xor(x7, x11));
      h4 = t4_0 & 3;
      mac += 16;
    x0 = i32x4.add(x0, x5); x1 = i32x4.add(x1, x6); x2 = i32x4.add(x2, x7); x3 = i32x4.add(x3, x4);
      const a0_1 = h0 + <u64>load<u32>(mac, 0);
      const a1_1 = h1 + <u64>load<u32>(mac, 4);
    x15 = rot16(v128.xor(x15, x0)); x12 = rot16(v128.xor(x12, x1)); x13 = rot16(v128.xor(x13, x2)); x14 = rot16(v128.xor(x14, x3));
      const a2_1 = h2 + <u64>load<u32>(mac, 8);
      const a3_1 = h3 + <u64>load<u32>(mac, 12);
    x10 = i32x4.add(x10, x15); x11 = i32x4.add(x11, x12); x8 = i32x4.add(x8, x13); x9 = i32x4.add(x9, x14);
      const a4_1 = h4 + 1;
      const d0_1 = a0_1 * r0 + a1_1 * s3 + a2_1 * s2 + a3_1 * s1;
    x5 = rot12(v128.xor(x5, x10)); x6 = rot12(v128.xor(x6, x11)); x7 = rot12(v128.xor(x7, x8)); x4 = rot12(v128.xor(x4, x9));
      const d1_1 = a0_1 * r1 + a1_1 * r0 + a2_1 * s3 + a3_1 * s2 + a4_1 * s1;
      const d2_1 = a0_1 * r2 + a1_1 * r1 + a2_1 * r0 + a3_1 * s3 + a4_1 * s2;
    x0 = i32x4.add(x0, x5); x1 = i32x4.add(x1, x6); x2 = i32x4.add(x2, x7); x3 = i32x4.add(x3, x4);
      const d3_1 = a0_1 * r3 + a1_1 * r2 + a2_1 * r1 + a3_1 * r0 + a4_1 * s3;
      const t4_1 = a4_1 * r0 + (d3_1 >> 32);
    x15 = rot8(v128.xor(x15, x0)); x12 = rot8(v128.xor(x12, x1)); x13 = rot8(v128.xor(x13, x2)); x14 = rot8(v128.xor(x14, x3));
      h0 = (d0_1 & M32) + (t4_1 >> 2) + (t4_1 & ~3);
      h1 = (d1_1 & M32) + (d0_1 >> 32);
    x10 = i32x4.add(x10, x15); x11 = i32x4.add(x11, x12); x8 = i32x4.add(x8, x13); x9 = i32x4.add(x9, x14);
      h2 = (d2_1 & M32) + (d1_1 >> 32);
      h3 = (d3_1 & M32) + (d2_1 >> 32);
    x5 = rot7(v128.xor(x5, x10)); x6 = rot7(v128.xor(x6, x11)); x7 = rot7(v128.xor(x7, x8)); x4 = rot7(v128.xor(x4, x9));
      h4 = t4_1 & 3;
      mac += 16;
  }
  for (let i = 6; i < 10; i++) {
    x0 = i32x4.add(x0, x4); x1 = i32x4.add(x1, x5); x2 = i32x4.add(x2, x6); x3 = i32x4.add(x3, x7);
      const a0_0 = h0 + <u64>load<u32>(mac, 0);
    x12 = rot16(v128.xor(x12, x0)); x13 = rot16(v128.xor(x13, x1)); x14 = rot16(v128.xor(x14, x2)); x15 = rot16(v128.xor(x15, x3));
      const a1_0 = h1 + <u64>load<u32>(mac, 4);
    x8 = i32x4.add(x8, x12); x9 = i32x4.add(x9, x13); x10 = i32x4.add(x10, x14); x11 = i32x4.add(x11, x15);
      const a2_0 = h2 + <u64>load<u32>(mac, 8);
    x4 = rot12(v128.xor(x4, x8)); x5 = rot12(v128.xor(x5, x9)); x6 = rot12(v128.xor(x6, x10)); x7 = rot12(v128.xor(x7, x11));
      const a3_0 = h3 + <u64>load<u32>(mac, 12);
    x0 = i32x4.add(x0, x4); x1 = i32x4.add(x1, x5); x2 = i32x4.add(x2, x6); x3 = i32x4.add(x3, x7);
      const a4_0 = h4 + 1;
    x12 = rot8(v128.xor(x12, x0)); x13 = rot8(v128.xor(x13, x1)); x14 = rot8(v128.xor(x14, x2)); x15 = rot8(v128.xor(x15, x3));
      const d0_0 = a0_0 * r0 + a1_0 * s3 + a2_0 * s2 + a3_0 * s1;
    x8 = i32x4.add(x8, x12); x9 = i32x4.add(x9, x13); x10 = i32x4.add(x10, x14); x11 = i32x4.add(x11, x15);
      const d1_0 = a0_0 * r1 + a1_0 * r0 + a2_0 * s3 + a3_0 * s2 + a4_0 * s1;
    x4 = rot7(v128.xor(x4, x8)); x5 = rot7(v128.xor(x5, x9)); x6 = rot7(v128.xor(x6, x10)); x7 = rot7(v128.xor(x7, x11));
      const d2_0 = a0_0 * r2 + a1_0 * r1 + a2_0 * r0 + a3_0 * s3 + a4_0 * s2;
    x0 = i32x4.add(x0, x5); x1 = i32x4.add(x1, x6); x2 = i32x4.add(x2, x7); x3 = i32x4.add(x3, x4);
      const d3_0 = a0_0 * r3 + a1_0 * r2 + a2_0 * r1 + a3_0 * r0 + a4_0 * s3;
    x15 = rot16(v128.xor(x15, x0)); x12 = rot16(v128.xor(x12, x1)); x13 = rot16(v128.xor(x13, x2)); x14 = rot16(v128.xor(x14, x3));
      const t4_0 = a4_0 * r0 + (d3_0 >> 32);
    x10 = i32x4.add(x10, x15); x11 = i32x4.add(x11, x12); x8 = i32x4.add(x8, x13); x9 = i32x4.add(x9, x14);
      h0 = (d0_0 & M32) + (t4_0 >> 2) + (t4_0 & ~3);
    x5 = rot12(v128.xor(x5, x10)); x6 = rot12(v128.xor(x6, x11)); x7 = rot12(v128.xor(x7, x8)); x4 = rot12(v128.xor(x4, x9));
      h1 = (d1_0 & M32) + (d0_0 >> 32);
    x0 = i32x4.add(x0, x5); x1 = i32x4.add(x1, x6); x2 = i32x4.add(x2, x7); x3 = i32x4.add(x3, x4);
      h2 = (d2_0 & M32) + (d1_0 >> 32);
    x15 = rot8(v128.xor(x15, x0)); x12 = rot8(v128.xor(x12, x1)); x13 = rot8(v128.xor(x13, x2)); x14 = rot8(v128.xor(x14, x3));
      h3 = (d3_0 & M32) + (d2_0 >> 32);
    x10 = i32x4.add(x10, x15); x11 = i32x4.add(x11, x12); x8 = i32x4.add(x8, x13); x9 = i32x4.add(x9, x14);
      h4 = t4_0 & 3;
    x5 = rot7(v128.xor(x5, x10)); x6 = rot7(v128.xor(x6, x11)); x7 = rot7(v128.xor(x7, x8)); x4 = rot7(v128.xor(x4, x9));
      mac += 16;
  }

  polyStore(h0, h1, h2, h3, h4);

  x0 = i32x4.add(x0, i32x4.splat(SIGMA0)); x1 = i32x4.add(x1, i32x4.splat(SIGMA1));
  x2 = i32x4.add(x2, i32x4.splat(SIGMA2)); x3 = i32x4.add(x3, i32x4.splat(SIGMA3));
  transposeOut(x0, x1, x2, x3, src, dst, true);
  x4 = i32x4.add(x4, v128.load32_splat(key, 0)); x5 = i32x4.add(x5, v128.load32_splat(key, 4));
  x6 = i32x4.add(x6, v128.load32_splat(key, 8)); x7 = i32x4.add(x7, v128.load32_splat(key, 12));
  transposeOut(x4, x5, x6, x7, src + 16, dst + 16, true);
  x8 = i32x4.add(x8, v128.load32_splat(key, 16)); x9 = i32x4.add(x9, v128.load32_splat(key, 20));
  x10 = i32x4.add(x10, v128.load32_splat(key, 24)); x11 = i32x4.add(x11, v128.load32_splat(key, 28));
  transposeOut(x8, x9, x10, x11, src + 32, dst + 32, true);
  x12 = i32x4.add(x12, counters(counter)); x13 = i32x4.add(x13, v128.load32_splat(nonce, 0));
  x14 = i32x4.add(x14, v128.load32_splat(nonce, 4)); x15 = i32x4.add(x15, v128.load32_splat(nonce, 8));
  transposeOut(x12, x13, x14, x15, src + 48, dst + 48, true);
}

/** dst = src XOR keystream(counter..counter+3), 256 bytes, while MACing macBlocks blocks at mac. */
export function chachaPolyXor(key: usize, nonce: usize, counter: u32, src: usize, dst: usize, mac: usize, macBlocks: i32): void {
  stitched(key, nonce, counter, src, dst, true, mac, macBlocks);
}

/** out = keystream(counter..counter+3), 256 bytes, while MACing macBlocks blocks at mac. */
export function chachaPolyKeystream(key: usize, nonce: usize, counter: u32, out: usize, mac: usize, macBlocks: i32): void {
  stitched(key, nonce, counter, 0, out, false, mac, macBlocks);
}
