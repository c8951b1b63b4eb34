// The registry's (high, low) → index table against a Map, under random
// acquires and releases (open addressing with backward-shift deletion), with
// ids chosen to collide in the high word.

import test from 'node:test';
import assert from 'node:assert/strict';
import { MemberRegistry } from '../../src/gossip/membership-registry.js';
import { idHighWord, idLowWord } from '../../src/gossip/messages.js';
import { Sfc32 } from '../../src/sim/prng.js';

test('registry finds every held id by its words, and no released one (random acquire/release, 20 seeds)', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const rng = Sfc32.fork(seed, 'registry');
    const reg = new MemberRegistry();
    const held = new Map<string, number>();
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    // Few distinct high words, so many ids share one and probe sequences interleave.
    const ids = Array.from({ length: 400 }, () => hex(rng.int(6) * 0x1000000) + hex(rng.int(0x7fffffff)));
    for (let step = 0; step < 4000; step++) {
      const id = ids[rng.int(ids.length)]!;
      if (rng.float() < 0.55) {
        const i = reg.acquire(id, idHighWord(id), idLowWord(id));
        held.set(id, (held.get(id) ?? 0) + 1);
        assert.equal(reg.lookup(id), i);
      } else if (held.has(id)) {
        reg.release(reg.lookup(id));
        const n = held.get(id)! - 1;
        if (n === 0) held.delete(id);
        else held.set(id, n);
      }
      if (step % 50 === 0 || step === 3999) {
        for (const other of ids) {
          const i = reg.lookupWords(idHighWord(other), idLowWord(other));
          if (held.has(other)) assert.equal(i, reg.lookup(other), `seed ${seed} step ${step}: ${other} held`);
          else assert.equal(i, -1, `seed ${seed} step ${step}: ${other} not held`);
        }
      }
    }
  }
});
