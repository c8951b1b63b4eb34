import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_WEIGHT, ServiceCatalog, decodeEntry, encodeEntry, type CatalogEvent, type PublishedEntry } from '../../src/gossip/catalog.js';
import type { MembershipEvent } from '../../src/gossip/types.js';
import { ManualClock, TestCluster } from './_memory-transport.js';

function setup(ids: string[]) {
  const clock = new ManualClock();
  const cluster = new TestCluster(ids, { seed: 9 });
  const catalogs = new Map(cluster.nodes.map((n) => [n.id, new ServiceCatalog({ mux: n.mux, clock })]));
  return { clock, cluster, catalogs };
}

const orders = (instance: string, over: Partial<PublishedEntry> = {}): PublishedEntry => ({
  serviceId: 'orders.shop.prod',
  meshlet: 'shop',
  instance,
  version: 'v1',
  weight: 100,
  health: 'UP',
  ...over,
});

const describeEvent = (e: CatalogEvent): string =>
  e.type === 'upsert'
    ? `upsert ${e.entry.agentId}/${e.entry.instance} ${e.entry.health}${e.previous ? ` (was ${e.previous.health})` : ''}`
    : `remove ${e.entry.agentId}/${e.entry.instance}`;

describe('ServiceCatalog', () => {
  test('endpoints published on several agents are seen by all, with change events', () => {
    const { clock, cluster, catalogs } = setup(['a', 'b', 'c']);
    const events: string[] = [];
    catalogs.get('c')!.onChange((e) => events.push(describeEvent(e)));
    catalogs.get('a')!.publish(orders('i1'));
    catalogs.get('a')!.publish(orders('i2', { version: 'v2', weight: 10 }));
    catalogs.get('b')!.publish(orders('i1'));
    catalogs.get('b')!.publish({ ...orders('i1'), serviceId: 'billing.shop.prod' });
    cluster.settle();
    for (const [id, cat] of catalogs) {
      assert.deepEqual(
        cat.endpoints('orders.shop.prod').map((e) => `${e.agentId}/${e.instance}/${e.version}/${e.weight}/${e.health}`),
        ['a/i1/v1/100/UP', 'a/i2/v2/10/UP', 'b/i1/v1/100/UP'],
        id,
      );
      assert.deepEqual(cat.services(), ['billing.shop.prod', 'orders.shop.prod']);
    }
    assert.equal(events.length, 4);
    events.length = 0;

    clock.advance(1);
    assert.ok(catalogs.get('a')!.setHealth('orders.shop.prod', 'i2', 'DOWN'));
    assert.equal(catalogs.get('a')!.setHealth('orders.shop.prod', 'nope', 'DOWN'), false);
    catalogs.get('b')!.withdraw('orders.shop.prod', 'i1');
    catalogs.get('a')!.publish(orders('i1')); // unchanged: no write, no event
    cluster.settle();
    assert.deepEqual(events.sort(), ['remove b/i1', 'upsert a/i2 DOWN (was UP)']);
    assert.deepEqual(catalogs.get('c')!.endpoints('orders.shop.prod').map((e) => e.health), ['UP', 'DOWN']);
  });

  test('an agent that fails disappears from the catalog, with remove events', () => {
    const { cluster, catalogs } = setup(['a', 'b']);
    catalogs.get('b')!.publish(orders('i1'));
    catalogs.get('b')!.publish(orders('i2'));
    cluster.settle();
    const events: string[] = [];
    catalogs.get('a')!.onChange((e) => events.push(describeEvent(e)));
    const fail = { type: 'fail', member: { id: 'b', name: 'b', address: 'b:7946', incarnation: 1, state: 'dead', meta: new Uint8Array() } } as MembershipEvent;
    cluster.node('a').mux.handleMembershipEvent(fail);
    assert.deepEqual(catalogs.get('a')!.endpoints('orders.shop.prod'), []);
    assert.deepEqual(catalogs.get('a')!.services(), []);
    assert.deepEqual(events.sort(), ['remove b/i1', 'remove b/i2']);
  });

  test('a newcomer gets the whole catalog in its join sync', async () => {
    const { cluster, catalogs, clock } = setup(['a', 'b']);
    for (let i = 0; i < 30; i++) catalogs.get('a')!.publish(orders(`i${i}`));
    cluster.settle();
    const late = cluster.add('late');
    const lateCatalog = new ServiceCatalog({ mux: late.mux, clock });
    await cluster.pushPull('late', 'b', true);
    assert.equal(lateCatalog.endpoints('orders.shop.prod').length, 30);
    assert.equal(lateCatalog.entries().length, 30);
  });

  test('entry encoding round-trips and rejects malformed bytes; publish validates', () => {
    const bytes = encodeEntry(orders('i1'));
    assert.deepEqual(decodeEntry('a', bytes), { agentId: 'a', ...orders('i1') });
    for (let n = 0; n < bytes.length; n++) assert.equal(decodeEntry('a', bytes.subarray(0, n)), null);
    const badHealth = bytes.slice();
    badHealth[badHealth.length - 1] = 7;
    assert.equal(decodeEntry('a', badHealth), null);
    const { catalogs } = setup(['a']);
    const a = catalogs.get('a')!;
    assert.throws(() => a.publish(orders('i', { weight: -1 })), RangeError);
    // A full canary share (100 % × 10,000) travels exactly; one more is refused both ways.
    const full = orders('i1', { weight: MAX_WEIGHT });
    assert.equal(MAX_WEIGHT, 1_000_000);
    assert.deepEqual(decodeEntry('a', encodeEntry(full)), { agentId: 'a', ...full });
    assert.throws(() => a.publish(orders('i', { weight: MAX_WEIGHT + 1 })), RangeError);
    const over = encodeEntry(orders('i1', { weight: MAX_WEIGHT }));
    over[over.length - 2] += 1; // last varuint byte of the weight: 1,000,000 + 2^14
    assert.equal(decodeEntry('a', over), null);
    assert.throws(() => a.publish(orders('i', { serviceId: '' })), RangeError);
    assert.throws(() => a.publish(orders('i', { serviceId: 'x'.repeat(256) })), RangeError);
    assert.throws(() => a.publish(orders('i', { health: 'MAYBE' as 'UP' })), RangeError);
  });
});
