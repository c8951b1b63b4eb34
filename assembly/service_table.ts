// Service table kernel: an open-addressing hash map from service ID bytes to a route,
// each route holding weighted endpoints (canary splits) and optionally a Maglev lookup
// table (Eisenbud et al., NSDI 2016, §3.4) for consistent endpoint choice.
//
// One instance is one table: the JS wrapper (src/kernel/service-table.ts) gives every
// ServiceTable its own WebAssembly.Instance of the cached module, so tables cannot
// interfere and this file can keep its state in globals.
//
// Fixed limits (everything lives in static memory, memory never grows):
//   MAX_SERVICES         16,384 routes (a node agent sees its mesh's services; 16k is
//                        well above a large cluster's service count)
//   MAX_SLOTS            32,768 hash slots = 2 x MAX_SERVICES: load factor <= 0.5
//   MAX_KEY              255 bytes per service ID (ARCHITECTURE.md), at least 1
//   KEY_ARENA_BYTES      1 MiB of key records (8-byte header + key padded to 8): 16k IDs
//                        of up to 56 bytes, or 4k IDs of 255 bytes. A fixed 256-byte
//                        slot per route would cost 4 MiB for IDs that average ~40 bytes.
//   ENDPOINT_ARENA_BYTES 65,536 endpoints x 8 bytes + one 8-byte header per route
//   MAX_ROUTE_ENDPOINTS  65,535 per route (Maglev entries are u16, 0xFFFF = empty)
//   MAGLEV_ARENA_BYTES   4 MiB of Maglev records (8 bytes per endpoint + 2 per entry):
//                        e.g. 8,000 routes at M = 251, 1,000 at M = 2039, 31 at M = 65537
// The arenas compact on demand (lib/table_arena.ts), so "full" means really full.
//
// Memory layout (addresses from memory.data; the wrapper asks for them):
//   KEY_IO       256 B      the ID for set/remove/find/pick (wrapper writes it here)
//   WEIGHTS      256 KiB    u32 weights for set (endpoint i's weight at index i)
//   NAMES_IO     64 KiB     endpoint names for maglev_stage: [len u8][len bytes]...
//   BATCH_IN     64 KiB     IDs for find_batch: [len u8][len bytes]...
//   BATCH_OUT    128 KiB    i32 route index (or -1) per ID of find_batch
//   SLOTS        MAX_SLOTS x 8 B: [hash u32][route + 1 u32] (0 = empty)
//   R_*          per-route arrays of u32 (key address/length/hash, endpoints, Maglev)
//   FREE         stack of free route indices (LIFO: indices are reused last-freed first)
//   arenas       keys, endpoint prefix sums (u64), Maglev records
//   MG_*         Maglev build scratch (staged name hashes, positions, skips, members)
//
// Hashing (lib/table_hash.ts): IDs by keyHash, 8 bytes per 64-bit multiply (a 30-byte ID
// takes 4 multiplies; XXH32 took 14 and made batch lookups 1.4x slower); the full 32-bit
// hash is kept in the slot so probes compare keys only on a hash match and deletion needs
// no rehash. Endpoint names for Maglev by XXH32 with two seeds (offset and skip).
// SIMD build: key comparison and XXH32 stripes use v128; lookups cost about the same.
// Probing: linear, with backward-shift deletion (no tombstones): the agent adds and
// removes services for its whole life, and tombstones would make misses slower and
// slower until a rehash; with backward shift a probe chain is always as short as if
// the live keys had been inserted fresh, and at load <= 0.5 a miss probes ~2.5 slots.
//
// Return codes (negative i32): see ERR_* below. No export traps on any argument.
import { xxh32, keyHash, bytesEqual } from './lib/table_hash';
import { arenaInit, arenaFits, arenaAlloc, arenaFree, arenaLive, recordBytes } from './lib/table_arena';

const MAX_SERVICES: u32 = 16384;
const MAX_SLOTS: u32 = 32768;
const MAX_KEY: u32 = 255;
const MAX_ROUTE_ENDPOINTS: u32 = 65535;
const MAX_ENDPOINTS: u32 = 65536;
const KEY_ARENA_BYTES: u32 = 1 << 20;
const ENDPOINT_ARENA_BYTES: u32 = MAX_ENDPOINTS * 8 + MAX_SERVICES * 8;
const MAGLEV_ARENA_BYTES: u32 = 4 << 20;
const NAMES_IO_BYTES: u32 = 65536;
const BATCH_IN_BYTES: u32 = 65536;
const BATCH_OUT_MAX: u32 = 32768;
const MAGLEV_EMPTY: u32 = 0xffff;

const MAGLEV_OFFSET_SEED: u32 = 0x6d676c31;
const MAGLEV_SKIP_SEED: u32 = 0x6d676c32;

const ERR_FULL: i32 = -1; // no free route (size == capacity)
const ERR_KEYS_FULL: i32 = -2;
const ERR_ENDPOINTS_FULL: i32 = -3;
const ERR_MAGLEV_FULL: i32 = -4;
const ERR_BAD_KEY: i32 = -5; // length 0 or > 255
const ERR_BAD_COUNT: i32 = -6; // endpoint count over the limit or not the route's
const ERR_BAD_ROUTE: i32 = -7; // no such live route
const ERR_BAD_SIZE: i32 = -8; // Maglev table size not in the allowed set
const ERR_BAD_INPUT: i32 = -9; // staged names or batch out of bounds / truncated

const KEY_IO = memory.data(256, 16);
const WEIGHTS = memory.data(MAX_ROUTE_ENDPOINTS * 4 + 4, 16);
const NAMES_IO = memory.data(NAMES_IO_BYTES, 16);
const BATCH_IN = memory.data(BATCH_IN_BYTES, 16);
const BATCH_OUT = memory.data(BATCH_OUT_MAX * 4, 16);
const SLOTS = memory.data(MAX_SLOTS * 8, 16);
const R_KEY = memory.data(MAX_SERVICES * 4, 16); // key payload address
const R_KEYLEN = memory.data(MAX_SERVICES * 4, 16); // 0 = route not live
const R_HASH = memory.data(MAX_SERVICES * 4, 16);
const R_EP = memory.data(MAX_SERVICES * 4, 16); // prefix-sum payload address (0 if no endpoints)
const R_EPN = memory.data(MAX_SERVICES * 4, 16);
const R_MG = memory.data(MAX_SERVICES * 4, 16); // Maglev payload address (0 = none)
const R_MGM = memory.data(MAX_SERVICES * 4, 16); // Maglev table size M
const FREE = memory.data(MAX_SERVICES * 4, 16);
const KEY_ARENA = memory.data(KEY_ARENA_BYTES, 16);
const ENDPOINT_ARENA = memory.data(ENDPOINT_ARENA_BYTES, 16);
const MAGLEV_ARENA = memory.data(MAGLEV_ARENA_BYTES, 16);
const A_KEYS = memory.data(32, 16);
const A_ENDPOINTS = memory.data(32, 16);
const A_MAGLEV = memory.data(32, 16);
const MG_H1 = memory.data(MAX_ROUTE_ENDPOINTS * 4 + 4, 16); // staged name hashes (offset seed)
const MG_H2 = memory.data(MAX_ROUTE_ENDPOINTS * 4 + 4, 16); // staged name hashes (skip seed)
const MG_POS = memory.data(MAX_ROUTE_ENDPOINTS * 4 + 4, 16); // next permutation position
const MG_SKIP = memory.data(MAX_ROUTE_ENDPOINTS * 4 + 4, 16);
const MG_MEMBER = memory.data(MAX_ROUTE_ENDPOINTS * 4 + 4, 16); // endpoint index of each member

let capacity: u32 = 0;
let keySeed: u32 = 0; // per table, chosen by the wrapper (random by default)
let slotMask: u32 = 0;
let size: u32 = 0;
let freeTop: u32 = 0;
let batchConsumed: u32 = 0;

@inline function rget(arr: usize, route: u32): u32 {
  return load<u32>(arr + (<usize>route << 2));
}
@inline function rset(arr: usize, route: u32, v: u32): void {
  store<u32>(arr + (<usize>route << 2), v);
}
@inline function slotAddr(i: u32): usize {
  return SLOTS + (<usize>i << 3);
}

// ---- buffers the wrapper writes into -------------------------------------------

export function key_io(): usize { return KEY_IO; }
export function weights_io(): usize { return WEIGHTS; }
export function names_io(): usize { return NAMES_IO; }
export function names_io_bytes(): u32 { return NAMES_IO_BYTES; }
export function batch_in(): usize { return BATCH_IN; }
export function batch_in_bytes(): u32 { return BATCH_IN_BYTES; }
export function batch_out(): usize { return BATCH_OUT; }
export function batch_out_max(): u32 { return BATCH_OUT_MAX; }
export function max_services(): u32 { return MAX_SERVICES; }

// ---- lifecycle ------------------------------------------------------------------

/**
 * Empties the table and sets its capacity (1..MAX_SERVICES; slots = next pow2 >= 2 x
 * capacity) and the seed of its slot hash (a random seed keeps anyone who can name
 * services from precomputing IDs that share one probe chain).
 */
export function init(cap: u32, seed: u32): i32 {
  if (cap == 0 || cap > MAX_SERVICES) return ERR_BAD_COUNT;
  capacity = cap;
  keySeed = seed;
  let slots: u32 = 2;
  while (slots < cap * 2) slots <<= 1;
  slotMask = slots - 1;
  memory.fill(SLOTS, 0, <usize>slots << 3);
  memory.fill(R_KEYLEN, 0, <usize>MAX_SERVICES << 2);
  memory.fill(R_EPN, 0, <usize>MAX_SERVICES << 2);
  memory.fill(R_EP, 0, <usize>MAX_SERVICES << 2);
  memory.fill(R_MG, 0, <usize>MAX_SERVICES << 2);
  memory.fill(R_MGM, 0, <usize>MAX_SERVICES << 2);
  for (let i: u32 = 0; i < cap; i++) rset(FREE, i, cap - 1 - i);
  freeTop = cap;
  size = 0;
  arenaInit(A_KEYS, KEY_ARENA, KEY_ARENA_BYTES, R_KEY);
  arenaInit(A_ENDPOINTS, ENDPOINT_ARENA, ENDPOINT_ARENA_BYTES, R_EP);
  arenaInit(A_MAGLEV, MAGLEV_ARENA, MAGLEV_ARENA_BYTES, R_MG);
  return 0;
}

export function count(): u32 { return size; }
export function slot_count(): u32 { return slotMask + 1; }
export function key_bytes_live(): u32 { return arenaLive(A_KEYS); }
export function endpoint_bytes_live(): u32 { return arenaLive(A_ENDPOINTS); }
export function maglev_bytes_live(): u32 { return arenaLive(A_MAGLEV); }

// ---- hash map -----------------------------------------------------------------------

/** Slot index holding the key, or -1. */
function findSlot(key: usize, len: u32, h: u32): i32 {
  let i = h & slotMask;
  while (true) {
    const s = slotAddr(i);
    const r = load<u32>(s, 4);
    if (r == 0) return -1;
    if (load<u32>(s) == h) {
      const route = r - 1;
      if (rget(R_KEYLEN, route) == len && bytesEqual(<usize>rget(R_KEY, route), key, len)) return <i32>i;
    }
    i = (i + 1) & slotMask;
  }
}

/** Route index of the key, or -1 (also for lengths outside 1..255). */
function lookup(key: usize, len: u32): i32 {
  if (len == 0 || len > MAX_KEY) return -1;
  const i = findSlot(key, len, keyHash(key, len, keySeed));
  return i < 0 ? -1 : <i32>(load<u32>(slotAddr(<u32>i), 4) - 1);
}

/** Empties slot i and shifts later members of its probe run back (no tombstones). */
function removeSlot(i: u32): void {
  let j = i;
  while (true) {
    j = (j + 1) & slotMask;
    const sj = slotAddr(j);
    if (load<u32>(sj, 4) == 0) break;
    const home = load<u32>(sj) & slotMask;
    // The entry at j may fill the hole at i unless its home lies in (i, j].
    if (((j - home) & slotMask) >= ((j - i) & slotMask)) {
      store<u64>(slotAddr(i), load<u64>(sj));
      i = j;
    }
  }
  store<u64>(slotAddr(i), 0);
}

/** Writes u64 prefix sums of the staged weights at p (count entries). */
function writePrefix(p: usize, n: u32): void {
  let sum: u64 = 0;
  for (let i: u32 = 0; i < n; i++) {
    sum += <u64>load<u32>(WEIGHTS + (<usize>i << 2));
    store<u64>(p + (<usize>i << 3), sum);
  }
}

/** Replaces a route's endpoints with the n staged weights; assumes the arena check passed. */
function storeEndpoints(route: u32, n: u32): void {
  const old = rget(R_EP, route);
  if (old != 0) arenaFree(A_ENDPOINTS, <usize>old);
  let p: usize = 0;
  if (n > 0) {
    p = arenaAlloc(A_ENDPOINTS, route, n * 8);
    writePrefix(p, n);
  }
  rset(R_EP, route, <u32>p);
  rset(R_EPN, route, n);
}

/**
 * Adds or replaces the service whose ID (keyLen bytes) is at KEY_IO, with n endpoints
 * whose weights are staged at WEIGHTS. Returns the route index or an ERR_* code; on an
 * error nothing changes. Replacing keeps the Maglev table when n is unchanged (rebuilt
 * for the new weights) and drops it otherwise.
 */
export function set(keyLen: u32, n: u32): i32 {
  if (keyLen == 0 || keyLen > MAX_KEY) return ERR_BAD_KEY;
  if (n > MAX_ROUTE_ENDPOINTS) return ERR_BAD_COUNT;
  const h = keyHash(KEY_IO, keyLen, keySeed);
  const epBytes = n > 0 ? recordBytes(n * 8) : 0;
  const found = findSlot(KEY_IO, keyLen, h);
  if (found >= 0) {
    const route = load<u32>(slotAddr(<u32>found), 4) - 1;
    const oldN = rget(R_EPN, route);
    if (!arenaFits(A_ENDPOINTS, epBytes, oldN > 0 ? recordBytes(oldN * 8) : 0)) return ERR_ENDPOINTS_FULL;
    storeEndpoints(route, n);
    const mg = rget(R_MG, route);
    if (mg != 0) {
      if (n == oldN) buildMaglev(route);
      else {
        arenaFree(A_MAGLEV, <usize>mg);
        rset(R_MG, route, 0);
        rset(R_MGM, route, 0);
      }
    }
    return <i32>route;
  }
  if (size >= capacity) return ERR_FULL;
  if (!arenaFits(A_KEYS, recordBytes(keyLen), 0)) return ERR_KEYS_FULL;
  if (!arenaFits(A_ENDPOINTS, epBytes, 0)) return ERR_ENDPOINTS_FULL;
  freeTop--;
  const route = rget(FREE, freeTop);
  const kp = arenaAlloc(A_KEYS, route, keyLen);
  memory.copy(kp, KEY_IO, keyLen);
  rset(R_KEY, route, <u32>kp);
  rset(R_KEYLEN, route, keyLen);
  rset(R_HASH, route, h);
  rset(R_EP, route, 0);
  storeEndpoints(route, n);
  rset(R_MG, route, 0);
  rset(R_MGM, route, 0);
  let i = h & slotMask;
  while (load<u32>(slotAddr(i), 4) != 0) i = (i + 1) & slotMask;
  store<u32>(slotAddr(i), h);
  store<u32>(slotAddr(i), route + 1, 4);
  size++;
  return <i32>route;
}

/** Removes the service whose ID is at KEY_IO: 1 if it was there, 0 if not. */
export function remove(keyLen: u32): i32 {
  if (keyLen == 0 || keyLen > MAX_KEY) return 0;
  const i = findSlot(KEY_IO, keyLen, keyHash(KEY_IO, keyLen, keySeed));
  if (i < 0) return 0;
  const route = load<u32>(slotAddr(<u32>i), 4) - 1;
  removeSlot(<u32>i);
  arenaFree(A_KEYS, <usize>rget(R_KEY, route));
  const ep = rget(R_EP, route);
  if (ep != 0) arenaFree(A_ENDPOINTS, <usize>ep);
  const mg = rget(R_MG, route);
  if (mg != 0) arenaFree(A_MAGLEV, <usize>mg);
  rset(R_KEYLEN, route, 0);
  rset(R_EP, route, 0);
  rset(R_EPN, route, 0);
  rset(R_MG, route, 0);
  rset(R_MGM, route, 0);
  rset(FREE, freeTop, route);
  freeTop++;
  size--;
  return 1;
}

/** Route index of the ID at KEY_IO, or -1. */
export function find(keyLen: u32): i32 {
  return lookup(KEY_IO, keyLen);
}

/**
 * Looks up the IDs packed at BATCH_IN ([len u8][len bytes], inLen bytes) and writes
 * each route index (or -1; -1 also for a zero length) to BATCH_OUT. Stops at a
 * truncated record or after maxOut IDs. Returns the number of IDs looked up;
 * batch_consumed() then gives the bytes consumed.
 */
export function find_batch(inLen: u32, maxOut: u32): i32 {
  if (inLen > BATCH_IN_BYTES || maxOut > BATCH_OUT_MAX) return ERR_BAD_INPUT;
  let p: u32 = 0;
  let n: u32 = 0;
  while (n < maxOut && p < inLen) {
    const len = <u32>load<u8>(BATCH_IN + p);
    if (p + 1 + len > inLen) break;
    store<i32>(BATCH_OUT + (<usize>n << 2), len == 0 ? -1 : lookup(BATCH_IN + p + 1, len));
    p += 1 + len;
    n++;
  }
  batchConsumed = p;
  return <i32>n;
}

export function batch_consumed(): u32 { return batchConsumed; }

@inline function live(route: u32): bool {
  return route < capacity && rget(R_KEYLEN, route) != 0;
}

/** Number of endpoints of a live route, or ERR_BAD_ROUTE. */
export function route_endpoints(route: u32): i32 {
  return live(route) ? <i32>rget(R_EPN, route) : ERR_BAD_ROUTE;
}

/** Maglev table size of a live route (0 = none), or ERR_BAD_ROUTE. */
export function route_maglev_size(route: u32): i32 {
  return live(route) ? <i32>rget(R_MGM, route) : ERR_BAD_ROUTE;
}

// ---- weighted pick ------------------------------------------------------------------

/**
 * Endpoint chosen by cumulative weight for a uniform u32 `random`: with total weight T,
 * target = floor(random x T / 2^32) and the answer is the first endpoint whose prefix
 * sum exceeds target (so weight-0 endpoints are never chosen). -1 if T = 0.
 */
export function pick_route(route: u32, random: u32): i32 {
  if (!live(route)) return -1;
  const n = rget(R_EPN, route);
  if (n == 0) return -1;
  const p = <usize>rget(R_EP, route);
  const total = load<u64>(p + (<usize>(n - 1) << 3));
  if (total == 0) return -1;
  // random x T overflows u64 when T >= 2^32: split T into its high and low words.
  const r = <u64>random;
  const target = r * (total >> 32) + ((r * (total & 0xffffffff)) >> 32);
  let lo: u32 = 0;
  let hi: u32 = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (load<u64>(p + (<usize>mid << 3)) > target) hi = mid;
    else lo = mid + 1;
  }
  return <i32>lo;
}

export function pick(keyLen: u32, random: u32): i32 {
  const route = lookup(KEY_IO, keyLen);
  return route < 0 ? -1 : pick_route(<u32>route, random);
}

// ---- Maglev -----------------------------------------------------------------------

/** Allowed table sizes M: primes, so every skip in 1..M-1 makes a full permutation. */
function maglevSizeAllowed(m: u32): bool {
  switch (m) {
    case 251: case 509: case 1021: case 2039: case 4093: case 8191:
    case 16381: case 32749: case 65521: case 65537:
      return true;
  }
  return false;
}

/**
 * Hashes n endpoint names packed at NAMES_IO ([len u8][len bytes], bytes long) into the
 * staging arrays at index start..start+n-1 (the wrapper stages long lists in chunks).
 * Returns n, or ERR_BAD_INPUT when the names overrun the bytes or the staging space.
 */
export function maglev_stage(start: u32, n: u32, bytes: u32): i32 {
  if (bytes > NAMES_IO_BYTES || <u64>start + <u64>n > <u64>MAX_ROUTE_ENDPOINTS) return ERR_BAD_INPUT;
  let p: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    if (p >= bytes) return ERR_BAD_INPUT;
    const len = <u32>load<u8>(NAMES_IO + p);
    if (p + 1 + len > bytes) return ERR_BAD_INPUT;
    const name = NAMES_IO + p + 1;
    const k = <usize>(start + i) << 2;
    store<u32>(MG_H1 + k, xxh32(name, len, MAGLEV_OFFSET_SEED));
    store<u32>(MG_H2 + k, xxh32(name, len, MAGLEV_SKIP_SEED));
    p += 1 + len;
  }
  return <i32>n;
}

/**
 * Gives a live route with n endpoints a Maglev table of size m from the n staged name
 * hashes (endpoint i is the i-th name). Record: [h1,h2 u32 pairs x n][entries u16 x m].
 * Returns 0 or an ERR_* code; on an error the route is unchanged.
 */
export function maglev_set(route: u32, n: u32, m: u32): i32 {
  if (!live(route)) return ERR_BAD_ROUTE;
  if (n != rget(R_EPN, route)) return ERR_BAD_COUNT;
  if (!maglevSizeAllowed(m)) return ERR_BAD_SIZE;
  const payload = n * 8 + m * 2;
  const old = rget(R_MG, route);
  const oldBytes = old != 0 ? recordBytes(rget(R_EPN, route) * 8 + rget(R_MGM, route) * 2) : 0;
  if (!arenaFits(A_MAGLEV, recordBytes(payload), oldBytes)) return ERR_MAGLEV_FULL;
  if (old != 0) arenaFree(A_MAGLEV, <usize>old);
  const rec = arenaAlloc(A_MAGLEV, route, payload);
  for (let i: u32 = 0; i < n; i++) {
    const k = <usize>i << 2;
    store<u32>(rec + (<usize>i << 3), load<u32>(MG_H1 + k));
    store<u32>(rec + (<usize>i << 3), load<u32>(MG_H2 + k), 4);
  }
  rset(R_MG, route, <u32>rec);
  rset(R_MGM, route, m);
  buildMaglev(route);
  return 0;
}

/**
 * Fills the route's table by the paper's round robin: every member (endpoint with a
 * non-zero weight) in turn claims the next still-empty entry of its permutation
 * (offset + j x skip) mod M, with offset = h1 mod M and skip = h2 mod (M-1) + 1, until
 * all M entries are taken. Weight-0 (drained) endpoints get no entries.
 */
function buildMaglev(route: u32): void {
  const n = rget(R_EPN, route);
  const m = rget(R_MGM, route);
  const rec = <usize>rget(R_MG, route);
  const table = rec + (<usize>n << 3);
  const prefix = <usize>rget(R_EP, route);
  memory.fill(table, 0xff, <usize>m << 1);
  let members: u32 = 0;
  let prev: u64 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const cur = load<u64>(prefix + (<usize>i << 3));
    if (cur != prev) {
      const k = <usize>members << 2;
      store<u32>(MG_MEMBER + k, i);
      store<u32>(MG_POS + k, load<u32>(rec + (<usize>i << 3)) % m);
      store<u32>(MG_SKIP + k, (load<u32>(rec + (<usize>i << 3), 4) % (m - 1)) + 1);
      members++;
    }
    prev = cur;
  }
  if (members == 0) return;
  let filled: u32 = 0;
  while (true) {
    for (let j: u32 = 0; j < members; j++) {
      const k = <usize>j << 2;
      const skip = load<u32>(MG_SKIP + k);
      let c = load<u32>(MG_POS + k);
      while (<u32>load<u16>(table + (<usize>c << 1)) != MAGLEV_EMPTY) {
        c += skip;
        if (c >= m) c -= m;
      }
      store<u16>(table + (<usize>c << 1), <u16>load<u32>(MG_MEMBER + k));
      c += skip;
      if (c >= m) c -= m;
      store<u32>(MG_POS + k, c);
      filled++;
      if (filled == m) return;
    }
  }
}

/** Endpoint at entry flowHash mod M of the route's Maglev table, or -1 (no table, no members). */
export function pick_consistent_route(route: u32, flowHash: u32): i32 {
  if (!live(route)) return -1;
  const m = rget(R_MGM, route);
  if (m == 0) return -1;
  const table = <usize>rget(R_MG, route) + (<usize>rget(R_EPN, route) << 3);
  const e = <u32>load<u16>(table + (<usize>(flowHash % m) << 1));
  return e == MAGLEV_EMPTY ? -1 : <i32>e;
}

export function pick_consistent(keyLen: u32, flowHash: u32): i32 {
  const route = lookup(KEY_IO, keyLen);
  return route < 0 ? -1 : pick_consistent_route(<u32>route, flowHash);
}

/** Copies the route's Maglev entries (u16, 0xFFFF = empty) to BATCH_OUT as i32 (-1 = empty), up to BATCH_OUT_MAX; returns M or an ERR_* code. */
export function maglev_entries(route: u32, from: u32): i32 {
  if (!live(route)) return ERR_BAD_ROUTE;
  const m = rget(R_MGM, route);
  if (m == 0) return 0;
  const table = <usize>rget(R_MG, route) + (<usize>rget(R_EPN, route) << 3);
  for (let i: u32 = 0; i < BATCH_OUT_MAX && from + i < m; i++) {
    const e = <u32>load<u16>(table + (<usize>(from + i) << 1));
    store<i32>(BATCH_OUT + (<usize>i << 2), e == MAGLEV_EMPTY ? -1 : <i32>e);
  }
  return <i32>m;
}

/** Slot hash (keyHash) of len bytes at KEY_IO with a seed (tests check it against the TS one). */
export function key_hash_io(len: u32, seed: u32): u32 {
  return keyHash(KEY_IO, len > MAX_KEY ? MAX_KEY : len, seed);
}

/** XXH32 of len bytes at KEY_IO with a seed (for tests and callers hashing flow keys). */
export function hash_key_io(len: u32, seed: u32): u32 {
  return xxh32(KEY_IO, len > MAX_KEY ? MAX_KEY : len, seed);
}
