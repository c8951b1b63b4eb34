// Routes merging local instances with endpoints on other agents: weights by
// version across hosts (a canary split spans them), remote-only services,
// updates and removal; and the tunnel: config section's validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceRouter, versionWeights } from '../../src/agent/routing.js';
import { FieldPath } from '../../src/config/fields.js';
import { parseMeshlet } from '../../src/config/meshlet.js';
import { parseTunnelConfig } from '../../src/config/tunnel-config.js';
import { generateIdentity, formatPublicKey } from '../../src/tunnel/identity.js';

const spec = (s: Record<string, unknown>) =>
  parseMeshlet({ apiVersion: 'weft.dev/v1alpha1', kind: 'Meshlet', metadata: { name: 'pay', namespace: 'shop' }, spec: s }, new FieldPath('t.yaml', ''), { idleTimeoutNs: 0n });

test('a canary split spans hosts: versions share by percent across local and remote endpoints', () => {
  const router = new ServiceRouter('/root');
  const m = spec({ provides: ['charge'], instances: [{ name: 'v1-a', version: 'v1', weight: 100 }, { name: 'v2-a', version: 'v2', weight: 100 }], canary: { stable: 'v1', canary: 'v2', steps: [20, 100] } });
  router.setMeshlet(m, 20);
  router.setRemoteEndpoints([
    { serviceId: 'charge.pay.shop', peer: 'b', instance: 'v1-b', version: 'v1', weight: 100 },
    { serviceId: 'charge.pay.shop', peer: 'c', instance: 'v2-c', version: 'v2', weight: 300 },
    { serviceId: 'charge.pay.shop', peer: 'd', instance: 'v3-d', version: 'v3', weight: 100 },
  ]);
  const r = router.route('charge.pay.shop')!;
  assert.deepEqual(r.endpoints.map((e) => [e.kind, e.instance]), [['local', 'v1-a'], ['local', 'v2-a'], ['remote', 'v1-b'], ['remote', 'v2-c'], ['remote', 'v3-d']]);
  const total = r.weights.reduce((a, b) => a + b, 0);
  const share = (i: number) => r.weights[i]! / total;
  assert.ok(Math.abs(share(1) + share(3) - 0.2) < 1e-3, 'canary v2 gets 20 % over both hosts');
  assert.ok(Math.abs(share(3) / share(1) - 3) < 1e-3, 'split by weight within the version');
  assert.ok(Math.abs(share(0) - 0.4) < 1e-3 && Math.abs(share(2) - 0.4) < 1e-3);
  assert.equal(r.weights[4], 0, 'a version outside the rollout gets nothing');
  // A pick never lands on weight 0; local-only picks stay local.
  for (let i = 0; i < 200; i++) assert.notEqual(router.pick('charge.pay.shop'), 4);
  for (let i = 0; i < 50; i++) assert.equal(r.endpoints[router.pickExcluding(r, new Set(), true)]!.kind, 'local');
  assert.ok(router.servesLocally('charge.pay.shop'));
});

test('remote-only services route to their peers; updates rebuild; removal deletes', () => {
  const router = new ServiceRouter('/root');
  router.setRemoteEndpoints([{ serviceId: 'echo.svc.t', peer: 'b', instance: 'b', version: 'main', weight: 100 }]);
  const r = router.route('echo.svc.t')!;
  assert.equal(r.provider, undefined);
  assert.deepEqual(r.weights, [100]);
  assert.equal(router.servesLocally('echo.svc.t'), false);
  assert.equal(router.pick('echo.svc.t'), 0);
  router.setRemoteEndpoints([{ serviceId: 'echo.svc.t', peer: 'c', instance: 'c', version: 'main', weight: 0 }]);
  assert.equal(router.pick('echo.svc.t'), -1);
  router.setRemoteEndpoints([]);
  assert.equal(router.route('echo.svc.t'), undefined);
  // A local meshlet keeps its route when remote endpoints of it come and go.
  const m = spec({ provides: ['charge'] });
  router.setMeshlet(m, undefined);
  router.setRemoteEndpoints([{ serviceId: 'charge.pay.shop', peer: 'b', instance: 'b', version: 'main', weight: 100 }]);
  assert.equal(router.route('charge.pay.shop')!.endpoints.length, 2);
  router.setRemoteEndpoints([]);
  assert.equal(router.route('charge.pay.shop')!.endpoints.length, 1);
  router.removeMeshlet(m);
  assert.equal(router.size, 0);
  assert.deepEqual(versionWeights([{ version: 'a', weight: 3 }], undefined, undefined), [3]);
});

test('tunnel: config section: defaults, peers, routes, and errors naming the field', () => {
  const at = new FieldPath('agent.yaml', 'tunnel');
  const key = formatPublicKey(generateIdentity().publicKey);
  const c = parseTunnelConfig(
    {
      name: 'a',
      listen: '0.0.0.0:7000',
      secretFile: 'secret',
      peers: [{ name: 'b', address: '10.0.0.2:7000', services: ['echo.svc.t', { id: 'pay.svc.t', version: 'v2', weight: 5 }] }, { name: 'c', publicKey: key }],
      routes: { c: 'b' },
    },
    at,
    '/etc/weft',
  )!;
  assert.equal(c.identityFile, '/etc/weft/.weft/identity.json');
  assert.equal(c.secretFile, '/etc/weft/secret');
  assert.deepEqual(c.listen, { host: '0.0.0.0', port: 7000 });
  assert.deepEqual(c.peers[0]!.services, [{ id: 'echo.svc.t', version: 'main', weight: 100 }, { id: 'pay.svc.t', version: 'v2', weight: 5 }]);
  assert.equal(c.routes.c, 'b');
  assert.equal(c.timeouts.idleCloseMs, 300_000);
  assert.equal(c.relay.maxStreams, 256);
  assert.equal(parseTunnelConfig(undefined, at, '/'), undefined);
  const bad: [unknown, RegExp][] = [
    [{ listen: 'nowhere' }, /tunnel\.listen: expected host:port/],
    [{ peers: [{ name: 'B_' }] }, /tunnel\.peers\[0\]\.name: expected a peer name/],
    [{ peers: [{ name: 'b', services: ['x'] }] }, /services\[0\]: expected a service ID/],
    [{ peers: [{ name: 'b', publicKey: 'short' }] }, /publicKey: expected an X25519 public key/],
    [{ peers: [{ name: 'c' }], routes: { c: 'b' } }, /routes\.c: expected peer c to have a publicKey/],
    [{ peers: [{ name: 'c', publicKey: key }], routes: { c: 'b' } }, /routes\.c: expected a relay peer listed/],
    [{ peers: [{ name: 'b' }, { name: 'b' }] }, /peers\[1\]\.name: expected a name not used/],
    [{ tunnels: {} }, /one of the fields/],
  ];
  for (const [doc, re] of bad) assert.throws(() => parseTunnelConfig(doc, at, '/'), re);
});
