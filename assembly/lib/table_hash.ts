// xxHash32 (Yann Collet's XXH32, spec: github.com/Cyan4973/xxHash doc/xxhash_spec.md)
// over bytes in linear memory. Used for service IDs (the table's slot hash) and
// for endpoint names (Maglev offset and skip). src/kernel/service-table-reference.ts
// has the same function in TypeScript; tests check both against known vectors.
//
// In the SIMD build the four 32-bit accumulators of a 16-byte stripe live in one
// v128 (one load, one i32x4.mul pair per stripe instead of four of each).

const P1: u32 = 0x9e3779b1;
const P2: u32 = 0x85ebca77;
const P3: u32 = 0xc2b2ae3d;
const P4: u32 = 0x27d4eb2f;
const P5: u32 = 0x165667b1;

@inline function round(acc: u32, lane: u32): u32 {
  return rotl<u32>(acc + lane * P2, 13) * P1;
}

/** Hashes the whole 16-byte stripes (len >= 16) and returns the merged accumulator. */
@inline function stripesScalar(p: usize, len: u32, seed: u32): u32 {
  let v1 = seed + P1 + P2;
  let v2 = seed + P2;
  let v3 = seed;
  let v4 = seed - P1;
  const end = p + (len & ~15);
  while (p < end) {
    v1 = round(v1, load<u32>(p));
    v2 = round(v2, load<u32>(p, 4));
    v3 = round(v3, load<u32>(p, 8));
    v4 = round(v4, load<u32>(p, 12));
    p += 16;
  }
  return rotl<u32>(v1, 1) + rotl<u32>(v2, 7) + rotl<u32>(v3, 12) + rotl<u32>(v4, 18);
}

@inline function stripesSimd(p: usize, len: u32, seed: u32): u32 {
  let acc = i32x4(seed + P1 + P2, seed + P2, seed, seed - P1);
  const p1 = i32x4.splat(P1);
  const p2 = i32x4.splat(P2);
  const end = p + (len & ~15);
  while (p < end) {
    acc = i32x4.add(acc, i32x4.mul(v128.load(p), p2));
    acc = v128.or(i32x4.shl(acc, 13), i32x4.shr_u(acc, 19));
    acc = i32x4.mul(acc, p1);
    p += 16;
  }
  return (
    rotl<u32>(i32x4.extract_lane(acc, 0), 1) +
    rotl<u32>(i32x4.extract_lane(acc, 1), 7) +
    rotl<u32>(i32x4.extract_lane(acc, 2), 12) +
    rotl<u32>(i32x4.extract_lane(acc, 3), 18)
  );
}

/** XXH32 of len bytes at p with the given seed. */
export function xxh32(p: usize, len: u32, seed: u32): u32 {
  let h: u32;
  if (len >= 16) {
    if (ASC_FEATURE_SIMD) h = stripesSimd(p, len, seed);
    else h = stripesScalar(p, len, seed);
    p += len & ~15;
  } else {
    h = seed + P5;
  }
  h += len;
  const end = p + (len & 15);
  while (p + 4 <= end) {
    h = rotl<u32>(h + load<u32>(p) * P3, 17) * P4;
    p += 4;
  }
  while (p < end) {
    h = rotl<u32>(h + <u32>load<u8>(p) * P5, 11) * P1;
    p++;
  }
  h ^= h >> 15;
  h *= P2;
  h ^= h >> 13;
  h *= P3;
  h ^= h >> 16;
  return h;
}

/** True when the len bytes at a and b are equal (v128 compares in the SIMD build). */
export function bytesEqual(a: usize, b: usize, len: u32): bool {
  let n = <usize>len;
  if (ASC_FEATURE_SIMD) {
    while (n >= 16) {
      if (v128.any_true(v128.xor(v128.load(a), v128.load(b)))) return false;
      a += 16;
      b += 16;
      n -= 16;
    }
  }
  while (n >= 8) {
    if (load<u64>(a) != load<u64>(b)) return false;
    a += 8;
    b += 8;
    n -= 8;
  }
  while (n > 0) {
    if (load<u8>(a) != load<u8>(b)) return false;
    a++;
    b++;
    n--;
  }
  return true;
}

const K1: u64 = 0x9e3779b97f4a7c15;
const K2: u64 = 0xbf58476d1ce4e5b9;

/**
 * The slot hash of service IDs: 8 bytes per step, each step one 64-bit multiply and a
 * fold of the high half into the low (h = (h ^ w) x K1; h ^= h >> 32), then a
 * SplitMix64-style finish. A 30-byte ID costs 4 multiplies where XXH32 needs 14.
 * Reads up to 7 bytes past the key (masked off): keys never sit at the end of memory.
 */
export function keyHash(p: usize, len: u32, seed: u32): u32 {
  let h: u64 = (<u64>seed << 32) ^ <u64>len ^ K2;
  let n = len;
  while (n >= 8) {
    h = (h ^ load<u64>(p)) * K1;
    h ^= h >> 32;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    h = (h ^ (load<u64>(p) & ((<u64>1 << (<u64>n << 3)) - 1))) * K1;
    h ^= h >> 32;
  }
  h = (h ^ (h >> 29)) * K2;
  h ^= h >> 32;
  return <u32>h;
}
