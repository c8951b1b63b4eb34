import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../../src/errors.js';
import { MemoryDiscovery } from '../../src/discovery/memory.js';

describe('MemoryDiscovery', () => {
  test('set, add and remove change what discover returns', async () => {
    const m = new MemoryDiscovery(['10.0.0.1:1']);
    assert.deepEqual(await m.discover(), ['10.0.0.1:1']);
    m.add('[::1]:2');
    m.add('10.0.0.1:1');
    assert.deepEqual(await m.discover(), ['10.0.0.1:1', '[::1]:2']);
    m.remove('[0:0::1]:2');
    assert.deepEqual(await m.discover(), ['10.0.0.1:1']);
    m.set(['b.example:3', 'B.example:3', 'a.example:3']);
    assert.deepEqual(m.addresses(), ['b.example:3', 'a.example:3']);
  });

  test('bad addresses throw WEFT-D001 and leave the list unchanged', () => {
    const m = new MemoryDiscovery(['10.0.0.1:1']);
    assert.throws(() => m.add('nope'), (e: unknown) => e instanceof WeftError && e.code === 'WEFT-D001');
    assert.throws(() => m.set(['10.0.0.2:1', 'nope']), (e: unknown) => e instanceof WeftError && e.code === 'WEFT-D001');
    assert.deepEqual(m.addresses(), ['10.0.0.1:1']);
  });

  test('fail() makes discover reject until cleared', async () => {
    const m = new MemoryDiscovery(['10.0.0.1:1']);
    m.fail(new WeftError('WEFT-D009', 'down'));
    await assert.rejects(m.discover(), (e: unknown) => e instanceof WeftError && e.code === 'WEFT-D009');
    m.fail(undefined);
    assert.deepEqual(await m.discover(), ['10.0.0.1:1']);
  });

  test('watch reports the initial list and every change, and stops on abort', async () => {
    const m = new MemoryDiscovery(['10.0.0.1:1']);
    const seen: string[][] = [];
    const ac = new AbortController();
    const done = m.watch((list) => seen.push(list), ac.signal);
    m.add('10.0.0.2:1');
    m.add('10.0.0.2:1'); // no change, no call
    m.set(['10.0.0.2:1', '10.0.0.1:1']); // same set, no call
    m.remove('10.0.0.1:1');
    ac.abort();
    await done;
    m.add('10.0.0.3:1');
    assert.deepEqual(seen, [['10.0.0.1:1'], ['10.0.0.1:1', '10.0.0.2:1'], ['10.0.0.2:1']]);
  });
});
