import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../../src/errors.js';
import { MemoryDiscovery } from '../../src/discovery/memory.js';
import { MergedDiscovery } from '../../src/discovery/merged.js';
import { StaticDiscovery } from '../../src/discovery/static.js';
import type { DiscoveryProvider } from '../../src/discovery/provider.js';

/** A provider without watch() that fails a given number of times, then answers. */
function flaky(failures: number, list: string[]): DiscoveryProvider & { calls: number } {
  return {
    name: 'flaky',
    calls: 0,
    async discover() {
      this.calls++;
      if (this.calls <= failures) throw new Error(`attempt ${this.calls} failed`);
      return list;
    },
  };
}

function nextChange(): { listener: (l: string[]) => void; next: () => Promise<string[]> } {
  const queue: string[][] = [];
  let wake: (() => void) | undefined;
  return {
    listener: (l) => {
      queue.push(l);
      wake?.();
    },
    next: async () => {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      return queue.shift()!;
    },
  };
}

describe('MergedDiscovery', () => {
  test('discover returns the union, de-duplicated, first occurrence first', async () => {
    const merged = new MergedDiscovery([
      new StaticDiscovery(['10.0.0.1:1', '10.0.0.2:1']),
      new MemoryDiscovery(['10.0.0.2:1', '[::1]:1']),
    ]);
    assert.deepEqual(await merged.discover(), ['10.0.0.1:1', '10.0.0.2:1', '[::1]:1']);
    assert.match(merged.name, /^merged\(static\(2\), memory\)$/);
  });

  test('one failing provider is reported, not fatal', async () => {
    const failing = new MemoryDiscovery([], 'failing');
    failing.fail(new WeftError('WEFT-D003', 'dns down'));
    const errors: WeftError[] = [];
    const plain = flaky(1, ['10.0.0.9:1']);
    const merged = new MergedDiscovery([failing, new StaticDiscovery(['10.0.0.1:1']), plain], { onError: (e) => errors.push(e) });
    assert.deepEqual(await merged.discover(), ['10.0.0.1:1']);
    assert.deepEqual(
      errors.map((e) => e.code),
      ['WEFT-D003', 'WEFT-D013'],
      'the WeftError passes as is; a plain Error is wrapped',
    );
    assert.match(errors[1]!.message, /flaky: attempt 1 failed/);
  });

  test('all failing rejects with WEFT-D013 listing each failure', async () => {
    const a = new MemoryDiscovery([], 'a');
    const b = new MemoryDiscovery([], 'b');
    a.fail(new WeftError('WEFT-D004', 'no such name'));
    b.fail(new Error('boom'));
    const errors: WeftError[] = [];
    await assert.rejects(new MergedDiscovery([a, b], { onError: (e) => errors.push(e) }).discover(), (e: unknown) => {
      assert.ok(e instanceof WeftError);
      assert.equal(e.code, 'WEFT-D013');
      const failures = e.details.failures as { provider: string; code: string }[];
      assert.deepEqual(failures.map((f) => [f.provider, f.code]), [['a', 'WEFT-D004'], ['b', 'WEFT-D013']]);
      return true;
    });
    assert.equal(errors.length, 0, 'the rejection carries the failures; no duplicate reports');
  });

  test('no providers is a configuration error', () => {
    assert.throws(() => new MergedDiscovery([]), (e: unknown) => e instanceof WeftError && e.code === 'WEFT-D002');
  });

  test('watch: one initial union, then each change of any member, retrying providers without watch', async () => {
    const m1 = new MemoryDiscovery(['10.0.0.1:1']);
    const m2 = new MemoryDiscovery(['10.0.0.2:1']);
    const retried = flaky(2, ['10.0.0.3:1', '10.0.0.1:1']);
    const errors: WeftError[] = [];
    const merged = new MergedDiscovery([m1, m2, retried], { onError: (e) => errors.push(e), retryDelayMs: 5, maxRetryDelayMs: 10, initialWaitMs: 5000 });
    const changes = nextChange();
    const ac = new AbortController();
    const done = merged.watch(changes.listener, ac.signal);
    // The first list waits for every provider, including the one that needs three attempts.
    assert.deepEqual(await changes.next(), ['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1']);
    assert.equal(retried.calls, 3);
    assert.equal(errors.length, 2);
    m2.set(['10.0.0.1:1']);
    assert.deepEqual(await changes.next(), ['10.0.0.1:1', '10.0.0.3:1']);
    m1.set([]);
    m1.set(['10.0.0.3:1']); // same union as before: no call
    m2.add('10.0.0.4:1');
    assert.deepEqual(await changes.next(), ['10.0.0.3:1', '10.0.0.1:1', '10.0.0.4:1']);
    ac.abort();
    await done;
  });

  test('watch: a provider that never answers holds the first list back only for initialWaitMs', async () => {
    const never: DiscoveryProvider = { name: 'never', discover: (signal) => new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason))) };
    const merged = new MergedDiscovery([never, new MemoryDiscovery(['10.0.0.1:1'])], { initialWaitMs: 30 });
    const changes = nextChange();
    const ac = new AbortController();
    const t0 = Date.now();
    const done = merged.watch(changes.listener, ac.signal);
    assert.deepEqual(await changes.next(), ['10.0.0.1:1']);
    assert.ok(Date.now() - t0 >= 25);
    ac.abort();
    await done;
  });
});
