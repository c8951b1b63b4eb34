// A bump arena of variable-size records with sliding compaction, in static memory.
//
// Record: [owner u32][record bytes u32][payload, padded to 8]. The owner is the route
// index; DEAD marks a freed record. Each arena knows the route array (one u32 per
// route) that holds its records' payload addresses, so compaction can slide live
// records down and fix those addresses in one linear pass: no free lists, no
// fragmentation, and "full" means the live records really fill the arena.
//
// State of an arena (16-byte block): base u32, capacity u32, top u32 (bump offset),
// live u32 (bytes held by live records), then routePtrs u32 (array of payload addresses).

export const DEAD: u32 = 0xffffffff;
export const HEADER_BYTES: u32 = 8;
export const ARENA_STATE_BYTES: u32 = 20;

/** Bytes a record with this payload takes (header + payload rounded up to 8). */
@inline export function recordBytes(payload: u32): u32 {
  return HEADER_BYTES + ((payload + 7) & ~7);
}

export function arenaInit(a: usize, base: usize, capacity: u32, routePtrs: usize): void {
  store<u32>(a, <u32>base, 0);
  store<u32>(a, capacity, 4);
  store<u32>(a, 0, 8);
  store<u32>(a, 0, 12);
  store<u32>(a, <u32>routePtrs, 16);
}

/** True when records of `add` bytes fit once records of `remove` bytes are freed. */
export function arenaFits(a: usize, add: u32, remove: u32): bool {
  const live = load<u32>(a, 12);
  return <u64>live - <u64>remove + <u64>add <= <u64>load<u32>(a, 4);
}

/** Slides live records to the bottom, updating each owner's payload address. */
function arenaCompact(a: usize): void {
  const base = <usize>load<u32>(a, 0);
  const top = base + <usize>load<u32>(a, 8);
  const routePtrs = <usize>load<u32>(a, 16);
  let src = base;
  let dst = base;
  while (src < top) {
    const owner = load<u32>(src);
    const size = load<u32>(src, 4);
    if (owner != DEAD) {
      if (dst != src) memory.copy(dst, src, size);
      store<u32>(routePtrs + (<usize>owner << 2), <u32>(dst + HEADER_BYTES));
      dst += size;
    }
    src += size;
  }
  store<u32>(a, <u32>(dst - base), 8);
}

/**
 * Allocates a record for `owner` and returns its payload address, or 0 when the
 * live records leave no room. Callers check arenaFits first when they must not fail.
 * Compaction may move other records (their owners' addresses are updated).
 */
export function arenaAlloc(a: usize, owner: u32, payload: u32): usize {
  const need = recordBytes(payload);
  const capacity = load<u32>(a, 4);
  if (!arenaFits(a, need, 0)) return 0;
  if (<u64>load<u32>(a, 8) + <u64>need > <u64>capacity) arenaCompact(a);
  const top = load<u32>(a, 8);
  const rec = <usize>load<u32>(a, 0) + <usize>top;
  store<u32>(rec, owner);
  store<u32>(rec, need, 4);
  store<u32>(a, top + need, 8);
  store<u32>(a, load<u32>(a, 12) + need, 12);
  return rec + HEADER_BYTES;
}

/** Frees the record whose payload is at `payload` (its space returns at the next compaction). */
export function arenaFree(a: usize, payload: usize): void {
  const rec = payload - HEADER_BYTES;
  store<u32>(rec, DEAD);
  store<u32>(a, load<u32>(a, 12) - load<u32>(rec, 4), 12);
}

/** Bytes held by live records. */
export function arenaLive(a: usize): u32 {
  return load<u32>(a, 12);
}
