// The real agent process with `sync.out`: startup, hot reloads (meshlet added,
// changed, removed), canary steps and admin actions, and health checks of the
// sidecar proxy become events in the YAML log, in order per object with
// increasing versions; the snapshot holds one entry per uid with removed
// objects gone; a restarted agent reports only what changed while it was down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { CatalogState, SNAPSHOT_FORMAT, type SnapshotFile } from '../../src/sync/catalog-state.js';
import { readEventLog } from '../../src/sync/event-log.js';
import { instanceWeights } from '../../src/agent/routing.js';
import type { MeshletSpec } from '../../src/config/meshlet.js';
import type { SyncEvent } from '../../src/sync/events.js';
import { makeTempDir, meshlet, startAgent, type AgentProcess } from '../helpers/agent-process.js';
import { startEcho } from '../helpers/mesh-client.js';

const AGENT = 'node-a';
const uid = {
  meshlet: (ns: string, name: string) => `meshlet/${AGENT}/${ns}/${name}`,
  service: (id: string) => `service/${AGENT}/${id}`,
  endpoint: (id: string, instance: string) => `endpoint/${AGENT}/${id}/${instance}`,
};

const pay = meshlet('shop', 'pay', {
  provides: ['charge'],
  instances: [
    { name: 'v1-a', version: 'v1', weight: 100 },
    { name: 'v2-a', version: 'v2', weight: 100 },
  ],
  canary: { stable: 'v1', canary: 'v2', steps: [10, 50], interval: '300ms' },
});
const web = meshlet('shop', 'web', { provides: ['http'], uses: ['charge.pay.shop'] });
const webChanged = meshlet('shop', 'web', { provides: ['http', 'ws'], uses: ['charge.pay.shop'], instances: [{ name: 'main' }, { name: 'b', weight: 50 }] });
const db = meshlet('shop', 'db', { provides: ['sql'] });

function syncConfig(out: string): Record<string, unknown> {
  return {
    sync: { agent: AGENT, out, snapshotDebounce: '50ms' },
    // The per-host proxy only for its health checks: a tcp check of http.web.shop's main instance.
    proxy: { mode: 'per-host', port: 0, accessLog: 'off', healthChecks: [{ service: 'http.web.shop', instance: 'main', type: 'tcp', interval: '100ms', timeout: '500ms', unhealthyThreshold: 1, healthyThreshold: 1 }] },
  };
}

async function reloaded(a: AgentProcess, what: 'added' | 'changed' | 'removed', key: string): Promise<void> {
  await a.waitForLog((l) => l.msg === 'meshlets reloaded' && (l[what] as string[]).includes(key));
}

function byUid(events: readonly SyncEvent[], id: string, kind?: string): SyncEvent[] {
  return events.filter((e) => e.uid === id && (kind === undefined || e.kind === kind));
}

function readSnapshot(dir: string): SnapshotFile {
  return JSON.parse(readFileSync(join(dir, 'snapshot.json'), 'utf8')) as SnapshotFile;
}

test('agent with sync.out: every catalog change in the YAML log, in order, and a deduplicated snapshot', { timeout: 30_000 }, async () => {
  const out = join(makeTempDir(), 'sync');
  try {
    const a = await startAgent({ config: syncConfig(out), meshlets: { 'pay.yaml': pay, 'web.yaml': web } });
    // Health: the checked instance has no server socket yet → DOWN; an app listening → UP.
    await a.waitForLog((l) => l.msg === 'instance marked DOWN' && l.service === 'http.web.shop');
    const echo = await startEcho(a.serverSocket('shop', 'web', 'http'));
    await a.waitForLog((l) => l.msg === 'instance marked UP' && l.service === 'http.web.shop');
    // The automatic canary step 10 % → 50 % (the last step: the rollout holds there).
    await a.waitForLog((l) => l.msg === 'canary changed' && l.canaryPercent === 50);

    a.writeMeshlet('db.yaml', db);
    await reloaded(a, 'added', 'shop/db');
    a.writeMeshlet('web.yaml', webChanged);
    await reloaded(a, 'changed', 'shop/web');
    unlinkSync(join(a.meshletDir, 'db.yaml'));
    await reloaded(a, 'removed', 'shop/db');
    for (const action of ['pause', 'resume', 'promote', 'rollback']) {
      const r = await a.admin(`/meshlets/shop/pay/canary/${action}`, 'POST');
      assert.equal(r.status, 200, r.text);
    }
    assert.equal(await a.stop(), 0);
    await echo.close();

    const { events, skipped } = await readEventLog(join(out, 'events.yaml'));
    assert.equal(skipped, 0);
    assert.ok(events.every((e) => e.agent === AGENT));
    for (let i = 1; i < events.length; i++) assert.ok(events[i]!.version > events[i - 1]!.version, `log order = version order at ${i}`);

    const seq = (id: string, kind?: string) => byUid(events, id, kind).map((e) => e.event);
    // Meshlets, services, endpoints: startup, the three reloads.
    assert.deepEqual(seq(uid.meshlet('shop', 'pay'), 'meshlet'), ['added']);
    assert.deepEqual(seq(uid.meshlet('shop', 'web'), 'meshlet'), ['added', 'updated']);
    assert.deepEqual(seq(uid.meshlet('shop', 'db'), 'meshlet'), ['added', 'removed']);
    assert.deepEqual(seq(uid.service('sql.db.shop')), ['added', 'removed']);
    assert.deepEqual(seq(uid.endpoint('sql.db.shop', 'main'), 'endpoint'), ['added', 'removed']);
    assert.deepEqual(seq(uid.service('ws.web.shop')), ['added']);
    assert.deepEqual(seq(uid.endpoint('http.web.shop', 'b')), ['added']);
    assert.deepEqual(seq(uid.endpoint('ws.web.shop', 'b')), ['added']);
    assert.deepEqual(seq(uid.endpoint('http.web.shop', 'main'), 'endpoint'), ['added'], 'an unchanged instance is not reported again');
    const webUpdated = byUid(events, uid.meshlet('shop', 'web'), 'meshlet')[1]!.object as Record<string, any>;
    assert.deepEqual(webUpdated.provides, ['http.web.shop', 'ws.web.shop']);
    assert.deepEqual(webUpdated.instances, [{ name: 'main', version: 'main', weight: 100 }, { name: 'b', version: 'main', weight: 50 }]);

    // Parents before children when added, children first when removed.
    const at = (id: string, event: string) => events.findIndex((e) => e.uid === id && e.event === event);
    assert.ok(at(uid.meshlet('shop', 'db'), 'added') < at(uid.service('sql.db.shop'), 'added'));
    assert.ok(at(uid.service('sql.db.shop'), 'added') < at(uid.endpoint('sql.db.shop', 'main'), 'added'));
    assert.ok(at(uid.endpoint('sql.db.shop', 'main'), 'removed') < at(uid.service('sql.db.shop'), 'removed'));
    assert.ok(at(uid.service('sql.db.shop'), 'removed') < at(uid.meshlet('shop', 'db'), 'removed'));

    // Canary: the rollout starting, its automatic step, then each admin action.
    const canary = byUid(events, uid.meshlet('shop', 'pay'), 'canary').map((e) => e.object as Record<string, any>);
    assert.deepEqual(
      canary.map((c) => [c.cause, c.phase, c.canaryPercent]),
      [
        ['startup', 'progressing', 10],
        ['step', 'holding', 50],
        ['pause', 'paused', 50],
        ['resume', 'holding', 50],
        ['promote', 'promoted', 100],
        ['rollback', 'rolled-back', 0],
      ],
    );
    // The canary's routing weights as endpoint updates: v2 gets 10 %, 50 %, 100 %, 0 % of the traffic.
    const paySpec = { canary: { stable: 'v1', canary: 'v2', steps: [10, 50], intervalMs: 300 }, instances: [{ name: 'v1-a', version: 'v1', weight: 100 }, { name: 'v2-a', version: 'v2', weight: 100 }] } as unknown as MeshletSpec;
    const v2 = byUid(events, uid.endpoint('charge.pay.shop', 'v2-a'), 'endpoint').map((e) => [e.event, (e.object as any).weight, (e.object as any).version]);
    assert.deepEqual(v2, [
      ['added', instanceWeights(paySpec, 10)[1], 'v2'],
      ['updated', instanceWeights(paySpec, 50)[1], 'v2'],
      ['updated', instanceWeights(paySpec, 100)[1], 'v2'],
      ['updated', 0, 'v2'],
    ]);

    // Health from the proxy's checks, with the endpoint's uid.
    const health = byUid(events, uid.endpoint('http.web.shop', 'main'), 'health');
    assert.deepEqual(health.map((e) => e.event), ['down', 'up']);
    assert.deepEqual(health[0]!.object, { agent: AGENT, serviceId: 'http.web.shop', instance: 'main', health: 'DOWN', source: 'health-check' });

    // The snapshot: one entry per (kind, uid), the latest of each, removed objects gone.
    const snap = readSnapshot(out);
    assert.equal(snap.format, SNAPSHOT_FORMAT);
    assert.equal(snap.count, snap.entries.length);
    const keys = snap.entries.map((e) => `${e.kind} ${e.uid}`);
    assert.equal(new Set(keys).size, keys.length, 'one entry per kind and uid');
    assert.ok(!snap.entries.some((e) => e.uid.includes('db.shop') || e.uid.endsWith('/shop/db')), 'removed objects are gone');
    assert.ok(snap.tombstones[uid.meshlet('shop', 'db')] !== undefined);
    const expected = new CatalogState();
    for (const e of events) expected.apply(e);
    assert.deepEqual(snap.entries, expected.list(), 'the snapshot is the log, deduplicated');
    assert.deepEqual(
      snap.entries.filter((e) => e.kind !== 'health' && e.kind !== 'canary').map((e) => e.uid).sort(),
      [
        uid.endpoint('charge.pay.shop', 'v1-a'),
        uid.endpoint('charge.pay.shop', 'v2-a'),
        uid.endpoint('http.web.shop', 'b'),
        uid.endpoint('http.web.shop', 'main'),
        uid.endpoint('ws.web.shop', 'b'),
        uid.endpoint('ws.web.shop', 'main'),
        uid.meshlet('shop', 'pay'),
        uid.meshlet('shop', 'web'),
        uid.service('charge.pay.shop'),
        uid.service('http.web.shop'),
        uid.service('ws.web.shop'),
      ],
    );

    // Restart on the same directory after web.yaml went away while the agent was down:
    // only that (and the canary restarting) is new; unchanged objects are not announced again.
    const b = await startAgent({ config: syncConfig(out), meshlets: { 'pay.yaml': pay } });
    assert.equal(await b.stop(), 0);
    const after = (await readEventLog(join(out, 'events.yaml'))).events.slice(events.length);
    assert.ok(after.length > 0 && after[0]!.version > events.at(-1)!.version, 'versions go on increasing across the restart');
    const summary = after.map((e) => `${e.kind} ${e.event} ${e.uid}`);
    assert.deepEqual(summary.filter((s) => !s.startsWith('canary') && !s.startsWith('health')).sort(), [
      `endpoint removed ${uid.endpoint('http.web.shop', 'b')}`,
      `endpoint removed ${uid.endpoint('http.web.shop', 'main')}`,
      `endpoint removed ${uid.endpoint('ws.web.shop', 'b')}`,
      `endpoint removed ${uid.endpoint('ws.web.shop', 'main')}`,
      // charge v2-a was at 0 % after the rollback; the new rollout starts at 10 %.
      `endpoint updated ${uid.endpoint('charge.pay.shop', 'v1-a')}`,
      `endpoint updated ${uid.endpoint('charge.pay.shop', 'v2-a')}`,
      `meshlet removed ${uid.meshlet('shop', 'web')}`,
      `service removed ${uid.service('http.web.shop')}`,
      `service removed ${uid.service('ws.web.shop')}`,
    ]);
    assert.deepEqual(
      after.filter((e) => e.kind === 'canary').map((e) => [(e.object as any).cause, (e.object as any).canaryPercent]),
      [['startup', 10]],
    );
    const snap2 = readSnapshot(out);
    assert.ok(!snap2.entries.some((e) => e.uid.includes('web')), 'the removed meshlet and its health entries are gone');
  } finally {
    rmSync(join(out, '..'), { recursive: true, force: true });
  }
});
