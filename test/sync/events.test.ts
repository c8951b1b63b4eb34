// The sync engine: stamping (uid, version, timestamp, agent), per-agent
// monotonic versions, validation, fan-out, EventEmitter sources.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { SyncEngine, EVENT_KINDS, type SyncEvent, type SyncSink } from '../../src/sync/events.js';
import { WeftError } from '../../src/errors.js';

class MemorySink implements SyncSink {
  readonly name = 'memory';
  events: SyncEvent[] = [];
  flushed = 0;
  closed = 0;
  write(e: SyncEvent): void {
    this.events.push(e);
  }
  async flush(): Promise<void> {
    this.flushed++;
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

describe('SyncEngine', () => {
  test('stamps uid, version, RFC 3339 timestamp, agent, kind, event and a detached copy of the object', () => {
    const a = new MemorySink();
    const b = new MemorySink();
    const engine = new SyncEngine({ agent: 'node-1', now: () => Date.UTC(2026, 0, 2, 3, 4, 5, 678), sinks: [a, b] });
    const object = { name: 'web', provides: ['http'] };
    const e = engine.publish('meshlet', 'added', 'default/web', object);
    object.provides.push('grpc');
    assert.deepEqual(e, {
      uid: 'default/web',
      version: Date.UTC(2026, 0, 2, 3, 4, 5, 678) * 1000,
      timestamp: '2026-01-02T03:04:05.678Z',
      agent: 'node-1',
      kind: 'meshlet',
      event: 'added',
      object: { name: 'web', provides: ['http'] },
    });
    assert.match(e.timestamp, RFC3339);
    assert.ok(Object.isFrozen(e));
    assert.deepEqual(a.events, [e]);
    assert.deepEqual(b.events, [e], 'every sink gets every event');
  });

  test('versions strictly increase even when the clock stalls or steps back, and can be advanced past a snapshot', () => {
    let clock = 5_000;
    const sink = new MemorySink();
    const engine = new SyncEngine({ agent: 'a', now: () => clock, sinks: [sink] });
    const versions: number[] = [];
    for (let i = 0; i < 10; i++) versions.push(engine.publish('health', i % 2 ? 'up' : 'down', 'ep', {}).version);
    clock = 1_000; // NTP step back
    versions.push(engine.publish('health', 'up', 'ep', {}).version);
    clock = 9_000;
    versions.push(engine.publish('health', 'up', 'ep', {}).version);
    for (let i = 1; i < versions.length; i++) assert.ok(versions[i]! > versions[i - 1]!, `${versions[i]} > ${versions[i - 1]}`);
    assert.equal(versions.at(-1), 9_000_000);
    engine.advanceVersion(10_000_000_000);
    assert.equal(engine.publish('health', 'up', 'ep', {}).version, 10_000_000_001);
  });

  test('every kind and event of the catalog is accepted; anything else is WEFT-S007', () => {
    const engine = new SyncEngine({ agent: 'a', sinks: [new MemorySink()] });
    for (const [kind, events] of Object.entries(EVENT_KINDS)) {
      for (const event of events) engine.publish(kind as never, event as never, `${kind}-1`, { ok: true });
    }
    const s007 = (fn: () => unknown): void => assert.throws(fn, (e: unknown) => e instanceof WeftError && e.code === 'WEFT-S007');
    s007(() => engine.publish('pod' as never, 'added' as never, 'x', {}));
    s007(() => engine.publish('member', 'added' as never, 'x', {}));
    s007(() => engine.publish('service', 'added', '', {}));
    s007(() => engine.publish('service', 'added', 'x', { n: 1n }));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    s007(() => engine.publish('service', 'added', 'x', cyclic));
    assert.throws(() => new SyncEngine({ agent: 'has.dot' }), (e: unknown) => e instanceof WeftError && e.code === 'WEFT-S009');
  });

  test('attach() follows an EventEmitter source, maps payloads, reports bad ones, and detaches', async () => {
    const sink = new MemorySink();
    const engine = new SyncEngine({ agent: 'a', sinks: [sink] });
    const catalog = new EventEmitter();
    engine.attach(catalog);
    catalog.emit('change', { kind: 'service', event: 'added', uid: 'http.web.default', object: { port: 80 } });

    const membership = new EventEmitter();
    const errors: unknown[] = [];
    const detach = engine.attach(
      membership,
      (m: { type: string; member: { id: string; name: string } }) =>
        m.type === 'join' ? { kind: 'member', event: 'joined', uid: m.member.id, object: m.member } : m.type === 'leave' ? { kind: 'member', event: 'left', uid: m.member.id, object: m.member } : undefined,
      (err) => errors.push(err),
    );
    membership.emit('change', { type: 'join', member: { id: 'm1', name: 'host-1' } });
    membership.emit('change', { type: 'suspect', member: { id: 'm1', name: 'host-1' } }); // mapped to nothing
    membership.emit('change', { type: 'leave', member: { id: 'm1', name: 'host-1' } });
    engine.attach(membership, () => ({ kind: 'member', event: 'exploded' }) as never, (err) => errors.push(err));
    membership.emit('change', { type: 'join', member: { id: 'm2', name: 'host-2' } });
    assert.deepEqual(
      sink.events.map((e) => [e.kind, e.event, e.uid]),
      [
        ['service', 'added', 'http.web.default'],
        ['member', 'joined', 'm1'],
        ['member', 'left', 'm1'],
        ['member', 'joined', 'm2'],
      ],
    );
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof WeftError && errors[0].code === 'WEFT-S007');
    detach();
    const before = sink.events.length;
    membership.emit('change', { type: 'join', member: { id: 'm3', name: 'host-3' } });
    assert.equal(sink.events.length, before, 'the detached mapper no longer publishes');
    assert.equal(membership.listenerCount('change'), 1);

    await engine.flush();
    await engine.close();
    assert.equal(sink.flushed, 1);
    assert.equal(sink.closed, 1);
    assert.equal(catalog.listenerCount('change') + membership.listenerCount('change'), 0, 'close() detaches every source');
    assert.throws(() => engine.publish('service', 'added', 'x', {}), WeftError);
  });
});
