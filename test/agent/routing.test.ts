// Access control matching, endpoint weights (canary split), weighted pick and
// failover order, and the canary rollout state machine (mock timers).
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { CanaryRollout } from '../../src/agent/canary.js';
import { ServiceRouter, instanceWeights } from '../../src/agent/routing.js';
import { UsesMatcher } from '../../src/agent/uses-matcher.js';
import { FieldPath } from '../../src/config/fields.js';
import { parseMeshlet, type MeshletSpec } from '../../src/config/meshlet.js';

const spec = (s: Record<string, unknown>, name = 'svc'): MeshletSpec =>
  parseMeshlet({ apiVersion: 'weft.dev/v1alpha1', kind: 'Meshlet', metadata: { name, namespace: 'prod' }, spec: s }, new FieldPath('t.yaml', ''), { idleTimeoutNs: 0n });

test('uses: exact IDs and the documented wildcard forms', () => {
  const m = new UsesMatcher(['a.b.c', '*.payments.prod', 'http.*.stage', '*.*.dev']);
  assert.ok(m.allows('a.b.c'));
  assert.ok(!m.allows('a.b.d'));
  assert.ok(m.allows('charge.payments.prod'));
  assert.ok(!m.allows('charge.payments.stage'));
  assert.ok(!m.allows('charge.paymentsx.prod'));
  assert.ok(m.allows('http.anything.stage'));
  assert.ok(!m.allows('grpc.anything.stage'));
  assert.ok(m.allows('x.y.dev'));
  assert.ok(new UsesMatcher(['*.*.*']).allows('x.y.z'));
  assert.ok(!new UsesMatcher([]).allows('x.y.z'));
});

test('weights: instance weights without canary; version shares with canary', () => {
  const instances = [
    { name: 'a', version: 'v1', weight: 3 },
    { name: 'b', version: 'v1', weight: 1 },
    { name: 'c', version: 'v2', weight: 5 },
  ];
  assert.deepEqual(instanceWeights(spec({ instances }), undefined), [3, 1, 5]);
  const s = spec({ instances, canary: { stable: 'v1', canary: 'v2' } });
  const w = instanceWeights(s, 25);
  const total = w.reduce((a, b) => a + b, 0);
  assert.equal(w[2]! / total, 0.25);
  assert.equal(w[0]! / w[1]!, 3);
  assert.deepEqual(instanceWeights(s, 0).slice(2), [0]);
  assert.deepEqual(instanceWeights(s, 100).slice(0, 2), [0, 0]);
});

test('router: weighted pick follows the split; failover skips tried endpoints; zero weight never picked', () => {
  const s = spec({
    provides: ['echo'],
    instances: [
      { name: 'a', version: 'v1', weight: 1 },
      { name: 'b', version: 'v2', weight: 1 },
      { name: 'z', version: 'v1', weight: 0 },
    ],
    canary: { stable: 'v1', canary: 'v2' },
  });
  const router = new ServiceRouter('/root');
  router.setMeshlet(s, 20);
  const counts = [0, 0, 0];
  for (let i = 0; i < 5000; i++) counts[router.pick('echo.svc.prod')]!++;
  assert.equal(counts[2], 0);
  assert.ok(Math.abs(counts[1]! / 5000 - 0.2) < 0.04, `canary share ${counts[1]! / 5000}`);
  const route = router.route('echo.svc.prod')!;
  assert.equal(route.endpoints[1]!.socketPath, '/root/prod/svc/b/server/echo');
  assert.equal(router.pickExcluding(route, new Set([0])), 1);
  assert.equal(router.pickExcluding(route, new Set([0, 1])), -1);
  assert.equal(router.pick('nope.svc.prod'), -1);
  router.setMeshlet(spec({ provides: ['other'] }), undefined, s);
  assert.equal(router.route('echo.svc.prod'), undefined);
  assert.ok(router.route('other.svc.prod'));
  router.removeMeshlet(spec({ provides: ['other'] }));
  assert.equal(router.size, 0);
});

test('canary rollout: steps on a timer, pause/resume, promote, rollback', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const seen: number[] = [];
    const r = new CanaryRollout({ stable: 'v1', canary: 'v2', steps: [5, 25, 50], intervalMs: 1000 }, (x) => seen.push(x.canaryPercent));
    assert.equal(r.canaryPercent, 5);
    mock.timers.tick(1000);
    assert.equal(r.canaryPercent, 25);
    assert.equal(r.apply('pause'), undefined);
    mock.timers.tick(5000);
    assert.equal(r.canaryPercent, 25);
    assert.match(r.apply('pause')!, /paused/);
    assert.equal(r.apply('resume'), undefined);
    mock.timers.tick(1000);
    assert.equal(r.canaryPercent, 50);
    assert.equal(r.phase, 'holding'); // last step below 100 waits for a promote
    assert.equal(r.apply('promote'), undefined);
    assert.equal(r.phase, 'promoted');
    assert.equal(r.canaryPercent, 100);
    assert.match(r.apply('promote')!, /already promoted/);
    assert.equal(r.apply('rollback'), undefined);
    assert.equal(r.canaryPercent, 0);
    assert.deepEqual(seen, [25, 50, 100, 0]);
    const full = new CanaryRollout({ stable: 'v1', canary: 'v2', steps: [50, 100], intervalMs: 10 }, () => {});
    mock.timers.tick(10);
    assert.equal(full.phase, 'promoted');
  } finally {
    mock.timers.reset();
  }
});
