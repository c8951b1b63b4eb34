import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../../src/errors.js';
import { StaticDiscovery } from '../../src/discovery/static.js';
import type { DiscoveryProvider } from '../../src/discovery/provider.js';

describe('StaticDiscovery', () => {
  test('returns the configured list, canonical and de-duplicated', async () => {
    const p = new StaticDiscovery(['10.0.0.1:7946', '[FD00::1]:7946', 'Seed.example:7946', '10.0.0.1:7946', '[fd00:0::1]:7946']);
    assert.deepEqual(await p.discover(), ['10.0.0.1:7946', '[fd00::1]:7946', 'seed.example:7946']);
    assert.equal(p.name, 'static(3)');
    assert.equal((p as DiscoveryProvider).watch, undefined, 'a static list never changes: no watch');
  });

  test('an empty list is valid', async () => {
    assert.deepEqual(await new StaticDiscovery([]).discover(), []);
  });

  test('a bad entry fails construction with WEFT-D001 naming its index', () => {
    for (const bad of ['10.0.0.1', 'fd00::1:7946', '10.0.0.1:0', '', 'a b:1']) {
      assert.throws(
        () => new StaticDiscovery(['10.0.0.2:1', bad]),
        (e: unknown) => e instanceof WeftError && e.code === 'WEFT-D001' && e.details.index === 1,
        bad,
      );
    }
  });

  test('a non-array or a non-string entry is rejected', () => {
    assert.throws(() => new StaticDiscovery('10.0.0.1:1' as unknown as string[]), (e: unknown) => e instanceof WeftError && e.code === 'WEFT-D002');
    assert.throws(() => new StaticDiscovery([7946 as unknown as string]), (e: unknown) => e instanceof WeftError && e.code === 'WEFT-D001');
  });

  test('an aborted signal rejects with its reason', async () => {
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await assert.rejects(new StaticDiscovery(['10.0.0.1:1']).discover(ac.signal), /stop/);
  });
});
