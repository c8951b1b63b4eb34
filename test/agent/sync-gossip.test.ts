// Three real agents with gossip on 127.0.0.1; node-a writes sync files. What
// node-a learns through gossip becomes events: members joined, left (SIGTERM:
// a graceful leave) and failed (SIGKILL), the other agents' services and
// endpoints with their health, removed when they go — under the owners' uids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { readEventLog } from '../../src/sync/event-log.js';
import type { SyncEvent } from '../../src/sync/events.js';
import { makeTempDir, meshlet } from '../helpers/agent-process.js';
import { TEST_SECRET, startGossipAgent, type GossipAgent } from '../helpers/gossip-cluster.js';

/** Resolves once node-a's catalog (admin /services) satisfies `pred`. */
async function untilCatalog(a: GossipAgent, pred: (endpoints: Array<{ agentName: string; serviceId: string }>) => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { body } = await a.proc.admin('/services');
    const catalog = ((body as { catalog?: Array<{ serviceId: string; endpoints: Array<{ agentName: string }> }> }).catalog ?? []).flatMap((s) => s.endpoints.map((e) => ({ ...e, serviceId: s.serviceId })));
    if (pred(catalog)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('gossip: members joined / left / failed and the other agents\u2019 endpoints become sync events', { timeout: 40_000 }, async () => {
  const out = join(makeTempDir(), 'sync');
  const agents: GossipAgent[] = [];
  try {
    const base = { secret: TEST_SECRET, profile: 'fast' as const };
    const a = await startGossipAgent({ ...base, name: 'node-a', config: { sync: { out } }, meshlets: { 'a.yaml': meshlet('t', 'a', { provides: ['api'] }) } });
    agents.push(a);
    const [b, c] = await Promise.all([
      startGossipAgent({ ...base, name: 'node-b', seeds: [a.address], meshlets: { 'b.yaml': meshlet('t', 'b', { provides: ['x', 'y'] }) } }),
      startGossipAgent({ ...base, name: 'node-c', seeds: [a.address], meshlets: { 'c.yaml': meshlet('t', 'c', { provides: ['z'] }) } }),
    ]);
    agents.push(b!, c!);
    await untilCatalog(a, (eps) => ['x.b.t', 'y.b.t', 'z.c.t'].every((id) => eps.some((e) => e.serviceId === id)), 'the endpoints of node-b and node-c');

    assert.equal(await b!.proc.stop('SIGTERM'), 0);
    await a.proc.waitForLog((l) => l.msg === 'gossip member' && l.event === 'leave' && l.id === b!.id, 15_000);
    c!.proc.child.kill('SIGKILL');
    await a.proc.waitForLog((l) => l.msg === 'gossip member' && l.event === 'fail' && l.id === c!.id, 20_000);
    await untilCatalog(a, (eps) => eps.every((e) => e.agentName === 'node-a'), 'the endpoints of node-b and node-c gone');
    assert.equal(await a.proc.stop(), 0);

    const events = (await readEventLog(join(out, 'events.yaml'))).events;
    assert.ok(events.every((e) => e.agent === 'node-a'), 'the sync name defaults to the gossip name');
    const of = (uid: string, kind?: string) => events.filter((e) => e.uid === uid && (kind === undefined || e.kind === kind)).map((e) => e.event);
    const members = (id: string) => of(`member/${id}`);
    assert.deepEqual(members(a.id), ['joined']);
    assert.deepEqual(members(b!.id), ['joined', 'left']);
    assert.deepEqual(members(c!.id), ['joined', 'failed']);
    const self = events.find((e) => e.uid === `member/${a.id}`)!.object as Record<string, unknown>;
    assert.deepEqual([self.name, self.agent, self.self], ['node-a', 'node-a', true]);

    // node-b's services and endpoints (owner's uids), with health from the catalog; gone when it left.
    for (const [owner, id] of [['node-b', 'x.b.t'], ['node-b', 'y.b.t'], ['node-c', 'z.c.t']] as const) {
      assert.deepEqual(of(`service/${owner}/${id}`), ['added', 'removed'], `${owner} ${id}`);
      assert.deepEqual(of(`endpoint/${owner}/${id}/main`, 'endpoint'), ['added', 'removed'], `${owner} ${id}`);
      const health = events.filter((e) => e.kind === 'health' && e.uid === `endpoint/${owner}/${id}/main`);
      assert.ok(health.length >= 1, `health of ${owner} ${id}`);
      // The app behind it never listened: the owner publishes DOWN (its server socket is missing).
      assert.deepEqual(health[0]!.object, { agent: owner, serviceId: id, instance: 'main', health: 'DOWN', source: 'gossip' });
      const ep = events.find((e) => e.kind === 'endpoint' && e.uid === `endpoint/${owner}/${id}/main`)!.object as Record<string, unknown>;
      assert.deepEqual([ep.agent, ep.serviceId, ep.instance, ep.version, ep.weight], [owner, id, 'main', 'main', 100]);
    }
    // node-a's own endpoint: one object (from its own state), health from the catalog.
    assert.deepEqual(of('endpoint/node-a/api.a.t/main', 'endpoint'), ['added']);
    assert.deepEqual(
      events.filter((e) => e.kind === 'health' && e.uid === 'endpoint/node-a/api.a.t/main').map((e) => [e.event, (e.object as SyncEvent['object'] & { source: string }).source]),
      [['down', 'gossip']],
    );
    const at = (uid: string, event: string) => events.findIndex((e) => e.uid === uid && e.event === event);
    assert.ok(at('endpoint/node-b/x.b.t/main', 'removed') < at('service/node-b/x.b.t', 'removed'), 'children first');
  } finally {
    await Promise.all(agents.map((g) => g.proc.stop('SIGKILL')));
    rmSync(join(out, '..'), { recursive: true, force: true });
  }
});
