// Maglev lookup table, straight from the pseudocode of Eisenbud et al., "Maglev: A Fast
// and Reliable Software Network Load Balancer", NSDI 2016, §3.4 (Pseudocode 1). The
// reference the kernel's table is tested against; written for clarity, not speed.
import { xxh32 } from './service-table-reference.js';
import { MAGLEV_OFFSET_SEED, MAGLEV_SKIP_SEED } from './service-table.js';

/** offset = h1(name) mod M, skip = h2(name) mod (M - 1) + 1 (§3.4). */
export function maglevPermutationParams(name: Uint8Array, m: number): { offset: number; skip: number } {
  return { offset: xxh32(name, MAGLEV_OFFSET_SEED) % m, skip: (xxh32(name, MAGLEV_SKIP_SEED) % (m - 1)) + 1 };
}

/**
 * Builds the lookup table of size m (prime) for the backends in order: entry[j] is the
 * index (into `names`) of the backend owning entry j, -1 if none (no backends).
 * `member(i)` false leaves backend i out (weight 0) while keeping its index.
 */
export function maglevPopulate(names: Uint8Array[], m: number, member: (i: number) => boolean = () => true): Int32Array {
  const backends: number[] = [];
  for (let i = 0; i < names.length; i++) if (member(i)) backends.push(i);
  const n = backends.length;
  const params = backends.map((i) => maglevPermutationParams(names[i]!, m));
  // permutation[i][j] = (offset + j * skip) mod M
  const permutation = (i: number, j: number) => (params[i]!.offset + j * params[i]!.skip) % m;
  const next = new Array<number>(n).fill(0);
  const entry = new Int32Array(m).fill(-1);
  if (n === 0) return entry;
  let filled = 0;
  for (;;) {
    for (let i = 0; i < n; i++) {
      let c = permutation(i, next[i]!);
      while (entry[c]! >= 0) {
        next[i] = next[i]! + 1;
        c = permutation(i, next[i]!);
      }
      entry[c] = backends[i]!;
      next[i] = next[i]! + 1;
      filled++;
      if (filled === m) return entry;
    }
  }
}
