// The sync wiring without processes: CatalogDiff (which agent views become
// which events, in which order; seeding from a snapshot), GossipSync (members
// and other agents' catalog entries), the `sync:` config section.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadAgentConfig, parseAgentConfig } from '../../src/config/agent-config.js';
import { FieldPath } from '../../src/config/fields.js';
import { parseMeshlet, type MeshletSpec } from '../../src/config/meshlet.js';
import { WeftError } from '../../src/errors.js';
import type { CatalogEntry, CatalogEvent } from '../../src/gossip/catalog.js';
import type { Member, MembershipEvent } from '../../src/gossip/types.js';
import { CanaryRollout } from '../../src/agent/canary.js';
import { ServiceRouter } from '../../src/agent/routing.js';
import { CatalogDiff } from '../../src/agent/sync-catalog.js';
import { parseSyncConfig } from '../../src/agent/sync-config.js';
import { GossipSync, agentToken, type GossipSource } from '../../src/agent/sync-gossip.js';
import type { AgentSyncView } from '../../src/agent/sync-objects.js';
import { SyncEngine, type SyncEvent, type SyncSink } from '../../src/sync/events.js';
import { CatalogState } from '../../src/sync/catalog-state.js';

function spec(ns: string, name: string, s: Record<string, unknown>): MeshletSpec {
  return parseMeshlet({ apiVersion: 'weft.dev/v1alpha1', kind: 'Meshlet', metadata: { name, namespace: ns }, spec: s }, new FieldPath('t.yaml', ''), { idleTimeoutNs: 3_600_000_000_000n });
}

/** A view as the agent builds it: routes from the real router, rollout statuses from real rollouts. */
function view(specs: MeshletSpec[], rollouts: Map<string, CanaryRollout> = new Map()): AgentSyncView {
  const router = new ServiceRouter('/r');
  for (const s of specs) router.setMeshlet(s, rollouts.get(s.key)?.canaryPercent);
  return { meshlets: specs.map((s) => ({ spec: s, canary: rollouts.get(s.key)?.status() })), routes: [...router.routes()] };
}

class Recorder implements SyncSink {
  readonly name = 'memory';
  events: SyncEvent[] = [];
  write(e: SyncEvent): void {
    this.events.push(e);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  take(): string[] {
    return this.events.splice(0).map((e) => `${e.kind} ${e.event} ${e.uid}`);
  }
}

function harness(agent = 'a1'): { engine: SyncEngine; rec: Recorder; diff: CatalogDiff } {
  const rec = new Recorder();
  const engine = new SyncEngine({ agent, sinks: [rec] });
  return { engine, rec, diff: new CatalogDiff(agent, (k, e, u, o) => engine.publish(k, e, u, o)) };
}

describe('CatalogDiff', () => {
  test('adds parents first, removes children first, reports only what changed', () => {
    const { rec, diff } = harness();
    const web = spec('s', 'web', { provides: ['http', 'ws'] });
    const db = spec('s', 'db', { provides: ['sql'], instances: [{ name: 'a' }, { name: 'b', weight: 5 }] });
    diff.reconcile(view([web, db]), 'startup');
    assert.deepEqual(rec.take(), [
      'meshlet added meshlet/a1/s/web',
      'meshlet added meshlet/a1/s/db',
      'service added service/a1/http.web.s',
      'service added service/a1/ws.web.s',
      'service added service/a1/sql.db.s',
      'endpoint added endpoint/a1/http.web.s/main',
      'endpoint added endpoint/a1/ws.web.s/main',
      'endpoint added endpoint/a1/sql.db.s/a',
      'endpoint added endpoint/a1/sql.db.s/b',
    ]);
    diff.reconcile(view([web, db]), 'reload');
    assert.deepEqual(rec.take(), [], 'the same view publishes nothing');
    const db2 = spec('s', 'db', { provides: ['sql'], instances: [{ name: 'a' }, { name: 'b', weight: 50 }] });
    diff.reconcile(view([db2]), 'reload');
    assert.deepEqual(rec.take(), [
      'endpoint removed endpoint/a1/http.web.s/main',
      'endpoint removed endpoint/a1/ws.web.s/main',
      'service removed service/a1/http.web.s',
      'service removed service/a1/ws.web.s',
      'meshlet removed meshlet/a1/s/web',
      'meshlet updated meshlet/a1/s/db',
      'endpoint updated endpoint/a1/sql.db.s/b',
    ]);
  });

  test('objects carry what a consumer needs: versions, weights, instances', () => {
    const { rec, diff } = harness();
    diff.reconcile(view([spec('s', 'db', { provides: ['sql'], uses: ['*.*.s'], instances: [{ name: 'a', version: 'v7', weight: 30 }] })]), 'startup');
    const [m, s, e] = rec.events;
    assert.deepEqual(m!.object, { agent: 'a1', namespace: 's', name: 'db', provides: ['sql.db.s'], uses: ['*.*.s'], idleTimeout: '3600000ms', instances: [{ name: 'a', version: 'v7', weight: 30 }] });
    assert.deepEqual(s!.object, { agent: 'a1', id: 'sql.db.s', service: 'sql', meshlet: 'db', namespace: 's' });
    assert.deepEqual(e!.object, { agent: 'a1', serviceId: 'sql.db.s', namespace: 's', meshlet: 'db', instance: 'a', version: 'v7', weight: 30, instanceWeight: 30, socket: '/r/s/db/a/server/sql' });
  });

  test('canary: a status change is one step-changed event with its cause; taking the canary out says phase none', () => {
    const { rec, diff } = harness();
    const pay = spec('s', 'pay', { provides: ['c'], instances: [{ name: 'x', version: 'v1' }, { name: 'y', version: 'v2' }], canary: { stable: 'v1', canary: 'v2', steps: [20, 100], interval: '1h' } });
    const rollout = new CanaryRollout(pay.canary!, () => undefined);
    const rollouts = new Map([[pay.key, rollout]]);
    diff.reconcile(view([pay], rollouts), 'startup');
    const canary = () => rec.events.filter((e) => e.kind === 'canary').map((e) => e.object as Record<string, unknown>);
    assert.deepEqual(canary().map((c) => [c.cause, c.phase, c.canaryPercent]), [['startup', 'progressing', 20]]);
    rec.take();
    diff.reconcile(view([pay], rollouts), 'reload');
    assert.deepEqual(rec.take(), [], 'unchanged rollout, no event');
    rollout.apply('pause');
    diff.reconcile(view([pay], rollouts), 'reload', new Map([[pay.key, 'pause']]));
    assert.deepEqual(canary().map((c) => [c.cause, c.phase, c.canaryPercent]), [['pause', 'paused', 20]]);
    rec.take();
    rollout.apply('promote');
    diff.reconcile(view([pay], rollouts), 'reload', new Map([[pay.key, 'promote']]));
    assert.deepEqual(rec.take(), ['endpoint updated endpoint/a1/c.pay.s/x', 'endpoint updated endpoint/a1/c.pay.s/y', 'canary step-changed meshlet/a1/s/pay'], 'weights first, then the rollout');
    rollout.stop();
    const plain = spec('s', 'pay', { provides: ['c'], instances: [{ name: 'x', version: 'v1' }, { name: 'y', version: 'v2' }] });
    diff.reconcile(view([plain]), 'reload');
    const last = rec.events.at(-1)!;
    assert.equal(last.kind, 'canary');
    assert.deepEqual(last.object, { agent: 'a1', meshlet: 's/pay', namespace: 's', name: 'pay', cause: 'reload', phase: 'none' });
  });

  test('health marks: only for known endpoints, only on change; removal forgets them', () => {
    const { rec, diff } = harness();
    const web = spec('s', 'web', { provides: ['http'] });
    diff.reconcile(view([web]), 'startup');
    rec.take();
    assert.equal(diff.health('http.web.s', 'nope', 'DOWN'), false);
    assert.equal(diff.health('http.web.s', 'main', 'DOWN'), true);
    assert.equal(diff.health('http.web.s', 'main', 'DOWN'), false);
    assert.equal(diff.health('http.web.s', 'main', 'UP'), true);
    assert.deepEqual(rec.take(), ['health down endpoint/a1/http.web.s/main', 'health up endpoint/a1/http.web.s/main']);
    diff.reconcile(view([]), 'reload');
    diff.reconcile(view([web]), 'reload');
    assert.equal(diff.health('http.web.s', 'main', 'UP'), true, 'a re-added endpoint starts without a mark');
  });

  test('seeded from a snapshot: only what changed meanwhile; a stale DOWN becomes UP; other agents untouched', () => {
    const first = harness();
    const web = spec('s', 'web', { provides: ['http'] });
    const db = spec('s', 'db', { provides: ['sql'] });
    first.diff.reconcile(view([web, db]), 'startup');
    first.diff.health('http.web.s', 'main', 'DOWN');
    first.engine.publish('endpoint', 'added', 'endpoint/other/x.y.z/main', { agent: 'other' });
    const state = new CatalogState();
    for (const e of first.rec.events) state.apply(e);

    const second = harness();
    second.diff.seed(state.list());
    second.diff.reconcile(view([web]), 'startup');
    assert.deepEqual(second.rec.events.at(-1)!.object, { agent: 'a1', serviceId: 'http.web.s', instance: 'main', health: 'UP', source: 'restart' });
    assert.deepEqual(second.rec.take(), [
      'endpoint removed endpoint/a1/sql.db.s/main',
      'service removed service/a1/sql.db.s',
      'meshlet removed meshlet/a1/s/db',
      'health up endpoint/a1/http.web.s/main',
    ]);
  });
});

class FakeGossip implements GossipSource {
  readonly id = 'self-id';
  readonly members = new Map<string, Member>();
  readonly entries: CatalogEntry[] = [];
  readonly #memberListeners: ((e: MembershipEvent) => void)[] = [];
  readonly #catalogListeners: ((e: CatalogEvent) => void)[] = [];
  readonly membership = { member: (id: string) => this.members.get(id), allMembers: () => [...this.members.values()] };
  readonly catalog = { onChange: (l: (e: CatalogEvent) => void) => void this.#catalogListeners.push(l), entries: () => this.entries };
  onEvent(l: (e: MembershipEvent) => void): void {
    this.#memberListeners.push(l);
  }
  member(type: MembershipEvent['type'], m: Member): void {
    this.members.set(m.id, m);
    for (const l of this.#memberListeners) l({ type, member: m } as MembershipEvent);
  }
  change(e: CatalogEvent): void {
    for (const l of this.#catalogListeners) l(e);
  }
}

const member = (id: string, name: string, state: Member['state'] = 'alive'): Member => ({ id, name, address: `10.0.0.${id.length}:7946`, incarnation: 1, state, meta: new Uint8Array() });
const entry = (agentId: string, instance: string, over: Partial<CatalogEntry> = {}): CatalogEntry => ({ agentId, serviceId: 'http.web.s', meshlet: 'web.s', instance, version: 'v1', weight: 100, health: 'UP', ...over });

describe('GossipSync', () => {
  test('members and other agents\u2019 entries become member, service, endpoint and health events under the owner\u2019s uids', () => {
    const g = new FakeGossip();
    g.members.set('self-id', member('self-id', 'me'));
    g.members.set('b-id', member('b-id', 'node-b.example'));
    g.entries.push(entry('self-id', 'main'), entry('b-id', 'main'));
    const { engine, rec } = harness('me');
    const own: string[] = [];
    const sync = new GossipSync(g, (k, e, u, o) => engine.publish(k, e, u, o), (id, instance, health) => own.push(`${id}/${instance} ${health}`));
    assert.deepEqual(rec.take(), [
      'member joined member/self-id',
      'member joined member/b-id',
      'service added service/node-b-example/http.web.s',
      'endpoint added endpoint/node-b-example/http.web.s/main',
      'health up endpoint/node-b-example/http.web.s/main',
    ], 'the state at attach; the agent\u2019s own entry is not published from gossip');

    const prev = entry('b-id', 'main');
    g.change({ type: 'upsert', entry: entry('b-id', 'main', { health: 'DOWN' }), previous: prev });
    g.change({ type: 'upsert', entry: entry('b-id', 'main', { health: 'DOWN', weight: 7 }), previous: prev });
    g.change({ type: 'upsert', entry: entry('b-id', 'two'), previous: null });
    g.change({ type: 'upsert', entry: entry('self-id', 'main', { weight: 1, health: 'DOWN' }), previous: null });
    assert.deepEqual(rec.take(), [
      'health down endpoint/node-b-example/http.web.s/main',
      'endpoint updated endpoint/node-b-example/http.web.s/main',
      'endpoint added endpoint/node-b-example/http.web.s/two',
      'health up endpoint/node-b-example/http.web.s/two',
    ]);
    assert.deepEqual(own, ['http.web.s/main UP', 'http.web.s/main DOWN'], 'the own entries\u2019 health goes to the agent\u2019s health marks');

    g.member('suspect', member('b-id', 'node-b.example', 'suspect'));
    g.member('fail', member('b-id', 'node-b.example', 'dead'));
    g.change({ type: 'remove', entry: entry('b-id', 'main') });
    g.change({ type: 'remove', entry: entry('b-id', 'two') });
    g.member('join', member('c-id', 'node-c'));
    g.member('leave', member('c-id', 'node-c', 'left'));
    assert.deepEqual(rec.take(), [
      'member failed member/b-id',
      'endpoint removed endpoint/node-b-example/http.web.s/main',
      'endpoint removed endpoint/node-b-example/http.web.s/two',
      'service removed service/node-b-example/http.web.s',
      'member joined member/c-id',
      'member left member/c-id',
    ]);
    sync.close();
    g.member('join', member('d-id', 'node-d'));
    assert.deepEqual(rec.take(), [], 'nothing after close');
  });

  test('member and endpoint objects', () => {
    const g = new FakeGossip();
    g.members.set('b-id', member('b-id', 'b'));
    g.entries.push(entry('b-id', 'main', { version: 'v2', weight: 40 }));
    const { engine, rec } = harness('me');
    new GossipSync(g, (k, e, u, o) => engine.publish(k, e, u, o));
    assert.deepEqual(rec.events[0]!.object, { id: 'b-id', name: 'b', agent: 'b', address: '10.0.0.4:7946', state: 'alive', incarnation: 1, self: false });
    assert.deepEqual(rec.events[2]!.object, { agent: 'b', agentId: 'b-id', serviceId: 'http.web.s', namespace: 's', meshlet: 'web', instance: 'main', version: 'v2', weight: 40 });
    assert.equal(agentToken('ip-10-0-0-1.ec2.internal'), 'ip-10-0-0-1-ec2-internal');
  });
});

describe('sync: config', () => {
  const parse = (sync: unknown) => parseAgentConfig({ sync }, '/etc/weft/agent.yaml', '/etc/weft');
  const rejects = (sync: unknown, field: RegExp, expected: RegExp) =>
    assert.throws(
      () => parse(sync),
      (e: unknown) => e instanceof WeftError && e.code === 'WEFT-A001' && field.test(String(e.details.field)) && expected.test(e.message),
    );

  test('absent: off; out and nats with defaults; relative out against the config directory', () => {
    assert.equal(parseAgentConfig({}, 'x.yaml', '/srv').sync, undefined);
    assert.deepEqual(parse({ out: 'sync' }).sync, { out: '/etc/weft/sync', maxLogBytes: 16 * 1024 * 1024, keepLogs: 5, logStyle: 'block', snapshotDebounceMs: 1000 });
    assert.deepEqual(parse({ agent: 'n1', nats: { servers: 'nats://h:4222', cluster: 'prod' } }).sync, {
      agent: 'n1',
      maxLogBytes: 16 * 1024 * 1024,
      keepLogs: 5,
      logStyle: 'block',
      snapshotDebounceMs: 1000,
      nats: { servers: ['nats://h:4222'], cluster: 'prod', jetstream: false, maxBuffered: 10_000, reconnectWaitMs: 1000 },
    });
    const js = parse({ nats: { servers: ['nats://a:1', 'nats://b:2'], cluster: 'c', jetstream: { maxAge: '24h', storage: 'memory', maxMsgs: 5 } } }).sync!.nats!;
    assert.deepEqual(js.jetstream, { maxMsgs: 5, maxAgeMs: 86_400_000, storage: 'memory' });
    assert.deepEqual(parse({ nats: { servers: 'nats://a:1', cluster: 'c', jetstream: true } }).sync!.nats!.jetstream, {});
    assert.equal(parseSyncConfig(undefined, new FieldPath('f', 'sync'), '/'), undefined);
  });

  test('errors name the field and the expectation', () => {
    rejects({}, /^sync$/, /out: DIR .* nats/);
    rejects({ out: 'd', nats: { servers: 'nats://h', cluster: 'has.dot' } }, /sync\.nats\.cluster/, /subject token/);
    rejects({ out: 'd', agent: 'a b' }, /sync\.agent/, /subject token/);
    rejects({ nats: { servers: [], cluster: 'c' } }, /sync\.nats\.servers/, /at least one NATS URL/);
    rejects({ nats: { servers: 'x', cluster: 'c', jetstream: 'yes' } }, /sync\.nats\.jetstream/, /true, false, or a mapping/);
    rejects({ nats: { servers: 'x', cluster: 'c', maxBuffered: 1 } }, /sync\.nats\.maxBuffered/, /integer from 2/);
    rejects({ out: 'd', logStyle: 'pretty' }, /sync\.logStyle/, /block or flow/);
    rejects({ out: 'd', snapshotDebounce: '0' }, /sync\.snapshotDebounce/, /greater than 0/);
    rejects({ out: 'd', outt: 'x' }, /sync\.outt/, /one of the fields/);
  });

  test('examples/agent-sync.yaml is a valid config', () => {
    const c = loadAgentConfig(fileURLToPath(new URL('../../../examples/agent-sync.yaml', import.meta.url)));
    assert.match(c.sync!.out!, /\/\.weft\/sync$/);
    assert.deepEqual(c.sync!.nats, { servers: ['nats://127.0.0.1:4222'], cluster: 'dev', jetstream: {}, maxBuffered: 10_000, reconnectWaitMs: 1000 });
  });
});
