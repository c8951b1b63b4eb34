// GossipNode in one process on 127.0.0.1: the composed stack (UDP/TCP, wire
// counters, sealing, membership, mux, catalog, topology), joining with retry,
// metadata, routing, leave; agent metadata encoding; loading the secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { AGENT_META_VERSION, TAG_TUNNEL_ADDRESS, decodeAgentMeta, encodeAgentMeta } from '../../src/gossip/agent-meta.js';
import { GossipNode, loadClusterSecrets, type GossipNodeOptions } from '../../src/gossip/node.js';
import { UdpTransport } from '../../src/gossip/udp-transport.js';
import { WeftError } from '../../src/errors.js';
import type { MembershipEvent } from '../../src/gossip/types.js';

const SECRET = 'node test secret, sixteen+ bytes';
const QUICK = { probeIntervalMs: 200, probeTimeoutMs: 100, gossipIntervalMs: 50, suspicionMult: 3, pushPullIntervalMs: 5000, leaveTimeoutMs: 1000 };

async function node(name: string, extra: Partial<GossipNodeOptions> = {}): Promise<GossipNode> {
  return GossipNode.create({ name, bindPort: 0, secrets: [SECRET], membership: QUICK, joinRetry: { initialMs: 100, maxMs: 400 }, ...extra });
}

function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (pred()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

test('agent metadata: round trip, unknown fields skipped, hostile bytes never throw', () => {
  const key = new Uint8Array(32).map((_, i) => i);
  const m = { tunnelAddress: '10.1.2.3:7947', tunnelPublicKey: key, weftVersion: '0.1.0' };
  assert.deepEqual(decodeAgentMeta(encodeAgentMeta(m)), m);
  assert.deepEqual(decodeAgentMeta(new Uint8Array(0)), {});
  // A field from a newer agent (tag 99) is skipped.
  const withNew = new Uint8Array([AGENT_META_VERSION, 99, 2, 7, 7, TAG_TUNNEL_ADDRESS, 3, 0x61, 0x3a, 0x31]);
  assert.deepEqual(decodeAgentMeta(withNew), { tunnelAddress: 'a:1' });
  // Repeated known field, truncated field, wrong version, wrong key size: invalid.
  assert.equal(decodeAgentMeta(new Uint8Array([1, 1, 1, 0x61, 1, 1, 0x62])), null);
  assert.equal(decodeAgentMeta(new Uint8Array([1, 1, 5, 0x61])), null);
  assert.equal(decodeAgentMeta(new Uint8Array([2])), null);
  assert.equal(decodeAgentMeta(new Uint8Array([1, 2, 3, 1, 2, 3])), null);
  assert.throws(() => encodeAgentMeta({ tunnelPublicKey: new Uint8Array(31) }), RangeError);
  fc.assert(
    fc.property(fc.record({ tunnelAddress: fc.option(fc.string({ maxLength: 80 }), { nil: undefined }), tunnelPublicKey: fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }), { nil: undefined }), weftVersion: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }) }), (r) => {
      const clean = Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));
      assert.deepEqual(decodeAgentMeta(encodeAgentMeta(clean)), clean);
    }),
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => void decodeAgentMeta(bytes)));
});

test('cluster secret: from a 0600 file (first line primary, comments skipped) or the environment; refused otherwise', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-secret-'));
  try {
    const file = join(dir, 'secret');
    writeFileSync(file, '# rotated 2024-05\nnew secret, 16 bytes or more\n\nold secret, 16 bytes or more\n', { mode: 0o600 });
    chmodSync(file, 0o600);
    assert.deepEqual(loadClusterSecrets({ secretFile: file, env: {} }), ['new secret, 16 bytes or more', 'old secret, 16 bytes or more']);
    chmodSync(file, 0o640);
    assert.throws(() => loadClusterSecrets({ secretFile: file, env: {} }), (e: WeftError) => e.code === 'WEFT-G002' && /group or others/.test(e.message) && !e.message.includes('secret, 16'));
    assert.throws(() => loadClusterSecrets({ secretFile: join(dir, 'missing'), env: {} }), (e: WeftError) => e.code === 'WEFT-G002');
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n# nothing\n', { mode: 0o600 });
    assert.throws(() => loadClusterSecrets({ secretFile: empty, env: {} }), (e: WeftError) => e.code === 'WEFT-G002');
    assert.deepEqual(loadClusterSecrets({ env: { WEFT_CLUSTER_SECRET: 'a secret from the env, , second one here ok' } }), ['a secret from the env', 'second one here ok']);
    assert.throws(() => loadClusterSecrets({ env: {} }), (e: WeftError) => e.code === 'WEFT-G002');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('three nodes join, share the catalog and metadata, route directly, and one leaves gracefully', async () => {
  const a = await node('a');
  const b = await node('b', { seeds: [a.address], meta: { weftVersion: 'test' } });
  const c = await node('c', { seeds: async () => [a.address, b.address] });
  const events: MembershipEvent[] = [];
  a.onEvent((e) => events.push(e));
  try {
    await a.start();
    await Promise.all([b.start(), c.start()]);
    assert.ok(b.joined && c.joined);
    await until(() => [a, b, c].every((n) => n.members().length === 3), 5000, 'all see all');

    b.catalog.publish({ serviceId: 'charge.payments.shop', meshlet: 'payments.shop', instance: 'main', version: 'v1', weight: 100, health: 'UP' });
    await until(() => a.catalog.endpoints('charge.payments.shop').length === 1 && c.catalog.endpoints('charge.payments.shop').length === 1, 5000, 'the catalog entry to spread');
    assert.equal(c.catalog.endpoints('charge.payments.shop')[0]!.agentId, b.id);

    const key = new Uint8Array(32).fill(7);
    b.setMeta({ tunnelAddress: '127.0.0.1:9999', tunnelPublicKey: key });
    await until(() => [a, c].every((n) => decodeAgentMeta(n.membership.member(b.id)!.meta)?.tunnelAddress === '127.0.0.1:9999'), 5000, 'the metadata update');
    assert.deepEqual(decodeAgentMeta(c.membership.member(b.id)!.meta)?.tunnelPublicKey, key);

    // Without a tunnel layer every live member is one hop; once connections are reported, the topology routes.
    assert.equal(a.route(c.id), c.id);
    assert.equal(a.route('0123456789abcdef'), null);
    a.setConnections([b.id]);
    b.setConnections([a.id, c.id]);
    c.setConnections([b.id]);
    await until(() => a.route(c.id) === b.id, 5000, 'a relay route through b');

    // Every byte on the wire is counted, and all of it was sealed and opened.
    assert.ok(a.wire.stats.bytesOut > 0 && a.wire.stats.packetsIn > 0 && a.wire.stats.requestsIn >= 2);
    assert.deepEqual(a.rejectedPackets(), { auth: 0, stale: 0, replay: 0, malformed: 0 });

    await c.leave();
    await until(() => events.some((e) => e.type === 'leave' && e.member.id === c.id), 5000, 'a to see c leave');
    await until(() => a.catalog.endpoints('charge.payments.shop').length === 1, 10, 'catalog intact');
  } finally {
    await Promise.all([a.shutdown(), b.shutdown(), c.shutdown()]);
  }
});

test('joining retries with backoff until a seed answers; a wrong secret never joins and is counted', async () => {
  // A port nobody listens on (bound, then closed).
  const probe = await UdpTransport.create({ port: 0 });
  const deadAddress = probe.localAddress;
  await probe.close();
  const a = await node('a');
  let asked = 0;
  const b = await node('b', { seeds: async () => (++asked < 3 ? [deadAddress] : [a.address]) });
  const intruder = await node('x', { seeds: [a.address], secrets: ['some other secret, long enough'] });
  const warnings: Record<string, unknown>[] = [];
  const log = { info() {}, warn: (_m: string, f?: Record<string, unknown>) => void warnings.push(f ?? {}) };
  const logged = await node('y', { seeds: [deadAddress], log });
  try {
    await a.start();
    await b.start();
    assert.equal(b.joined, false);
    await b.whenJoined();
    assert.ok(b.joined);
    assert.ok(asked >= 3 && b.joinStatus.failures >= 2, `asked ${asked}, failures ${b.joinStatus.failures}`);

    await intruder.start();
    assert.equal(intruder.joined, false);
    assert.equal(intruder.joinStatus.lastError?.code, 'WEFT-G001');
    await until(() => intruder.joinStatus.failures >= 2, 3000, 'the intruder to retry');
    assert.ok(a.rejectedPackets().auth >= 2, `a rejected ${a.rejectedPackets().auth}`);
    assert.equal(a.membership.member(intruder.id), undefined);
    assert.equal(a.members().length, 2);

    await logged.start();
    assert.equal((warnings[0]!.error as WeftError).code, 'WEFT-G001');
    assert.equal(typeof warnings[0]!.retryInMs, 'number');
  } finally {
    await Promise.all([a.shutdown(), b.shutdown(), intruder.shutdown(), logged.shutdown()]);
  }
});

test('advertise address; a wildcard bind needs one', async () => {
  await assert.rejects(GossipNode.create({ name: 'w', bindHost: '0.0.0.0', bindPort: 0, secrets: [SECRET] }), (e: WeftError) => e.code === 'WEFT-A001');
  await assert.rejects(GossipNode.create({ name: 'w', bindPort: 0, secrets: ['short'] }), (e: WeftError) => e.code === 'WEFT-G102');
  const n = await node('adv', { advertiseHost: '10.9.8.7', advertisePort: 7000 });
  try {
    assert.equal(n.address, '10.9.8.7:7000');
    assert.match(n.boundAddress, /^127\.0\.0\.1:\d+$/);
    assert.equal(n.membership.localMember.address, '10.9.8.7:7000');
  } finally {
    await n.shutdown();
  }
});
