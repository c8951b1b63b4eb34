// Gossip between real agent processes on 127.0.0.1, with weft's default
// timings: ten agents join through one seed; a service published on one shows
// up in another's /services with its health; the cluster secret rotates with no
// member lost; a hung (SIGSTOPped) agent is suspected by all and, resumed
// before the suspicion timeout, refutes and is never declared dead; a
// SIGKILLed one is detected by all; an agent with the wrong secret cannot join.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { meshlet } from '../helpers/agent-process.js';
import { ClusterWatch, TEST_SECRET, adminPost, metricValue, startGossipAgent, startGossipCluster, type GossipAgent } from '../helpers/gossip-cluster.js';

const N = 10;
let agents: GossipAgent[] = [];
let watch: ClusterWatch;
const extra: GossipAgent[] = [];

function log(line: string): void {
  console.log(line);
}

before(async () => {
  const t0 = Date.now();
  agents = await startGossipCluster(N, { secret: TEST_SECRET, parallel: 5 });
  watch = new ClusterWatch(agents);
  log(`${N} agents started in ${Date.now() - t0} ms`);
});

after(async () => {
  await Promise.all([...agents, ...extra].map((a) => a.proc.stop('SIGKILL')));
});

test('ten agents joining through one seed all see all', async () => {
  const lastReady = Math.max(...agents.map((a) => Date.parse(String(a.proc.logs.find((l) => l.msg === 'agent ready')!.time))));
  await watch.until(() => watch.allSeeAll(), 15_000, 'all agents to see all');
  log(`all see all ${Date.now() - lastReady} ms after the last agent was ready`);
  const members = (await agents[3]!.proc.admin('/members')).body;
  assert.equal(members.members.length, N);
  for (const m of members.members) {
    assert.equal(m.state, 'alive');
    assert.match(m.id, /^[0-9a-f]{16}$/);
    assert.match(m.address, /^127\.0\.0\.1:\d+$/);
    assert.equal(typeof m.incarnation, 'number');
    assert.ok(agents.some((a) => a.name === m.name));
  }
  assert.equal(members.self.id, agents[3]!.id);
  assert.equal(members.join.joined, true);
});

test('a service published on one agent appears in another agent\'s /services with its health', async () => {
  const a = agents[1]!;
  const b = agents[6]!;
  // No app listens on the server socket yet: published DOWN.
  a.proc.writeMeshlet('shop.yaml', meshlet('shop', 'cart', { provides: ['spare'], uses: [] }));
  await a.proc.admin('/reload', 'POST');
  const find = async () => {
    const body = (await b.proc.admin('/services')).body;
    return body.catalog as Array<{ serviceId: string; endpoints: Array<Record<string, unknown>> }>;
  };
  let catalog: Awaited<ReturnType<typeof find>> = [];
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    catalog = await find();
    if (catalog.some((s) => s.serviceId === 'spare.cart.shop')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const spare = catalog.find((s) => s.serviceId === 'spare.cart.shop');
  assert.ok(spare, `spare.cart.shop in B's catalog: ${JSON.stringify(catalog)}`);
  assert.deepEqual(spare.endpoints.map((e) => ({ ...e })), [
    { agentId: a.id, agentName: a.name, agentAddress: a.address, local: false, meshlet: 'cart.shop', instance: 'main', version: 'main', weight: 100, health: 'DOWN' },
  ]);
  // Now the app starts listening: the next health check publishes UP, and B sees it.
  const { createServer } = await import('node:net');
  const server = createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(a.proc.serverSocket('shop', 'cart', 'spare'), () => r()));
  try {
    const until = Date.now() + 10_000;
    let health = 'DOWN';
    while (Date.now() < until && health !== 'UP') {
      health = String((await find()).find((s) => s.serviceId === 'spare.cart.shop')?.endpoints[0]?.health);
      if (health !== 'UP') await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(health, 'UP');
  } finally {
    server.close();
  }
  // A's own view marks its endpoint local.
  const own = ((await a.proc.admin('/services')).body.catalog as typeof catalog).find((s) => s.serviceId === 'spare.cart.shop');
  assert.equal(own?.endpoints[0]?.local, true);
});

test('secret rotation (install everywhere, use everywhere, remove the old one) loses no member', async () => {
  const NEW = 'weft test cluster secret 0002 (rotated)';
  const since = Date.now();
  const authBefore = await Promise.all(agents.map(async (a) => metricValue((await a.proc.admin('/metrics')).text, 'weft_gossip_packets_rejected_total', { cause: 'auth' })));
  const oldFp = (await agents[0]!.proc.admin('/gossip/keys')).body.primary as string;
  const step = async (op: 'install' | 'use' | 'remove', body: Record<string, string>) => {
    for (const a of agents) {
      const r = await adminPost(a, `/gossip/keys/${op}`, body);
      assert.equal(r.status, 200, `${op} on ${a.name}: ${JSON.stringify(r.body)}`);
      assert.ok(!JSON.stringify(r.body).includes(NEW), 'the secret is never echoed');
      assert.ok(!JSON.stringify(r.body).includes(TEST_SECRET), 'the secret is never echoed');
    }
    // A few probe rounds under the new keyring before the next step.
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(watch.allSeeAll(), `all see all after ${op}`);
  };
  await step('install', { secret: NEW });
  await step('use', { secret: NEW });
  // The primary cannot be removed.
  const refused = await adminPost(agents[0]!, '/gossip/keys/remove', { fingerprint: (await agents[0]!.proc.admin('/gossip/keys')).body.primary });
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error.code, 'WEFT-G102');
  await step('remove', { fingerprint: oldFp });
  for (const a of agents) {
    const keys = (await a.proc.admin('/gossip/keys')).body;
    assert.equal(keys.fingerprints.length, 1);
    assert.notEqual(keys.primary, oldFp);
  }
  const authAfter = await Promise.all(agents.map(async (a) => metricValue((await a.proc.admin('/metrics')).text, 'weft_gossip_packets_rejected_total', { cause: 'auth' })));
  assert.deepEqual(authAfter, authBefore, 'no packet failed authentication during the rotation');
  for (const o of agents) for (const e of watch.events(o)) if (e.time >= since) assert.notEqual(e.event, 'fail', `${o.name} declared ${e.id} dead during rotation`);
});

test('a hung agent (SIGSTOP) is suspected by all, and resumed before the suspicion timeout refutes and is not declared dead', async () => {
  const victim = agents[4]!;
  const others = agents.filter((a) => a !== victim);
  const stoppedAt = Date.now();
  process.kill(victim.pid, 'SIGSTOP');
  watch.remove(victim);
  try {
    await watch.until(() => others.every((o) => watch.state(o, victim.id) === 'suspect' || watch.state(o, victim.id) === 'dead'), 15_000, 'all to suspect the stopped agent');
  } finally {
    process.kill(victim.pid, 'SIGCONT');
  }
  const resumedAt = Date.now();
  const suspectTimes = [...watch.firstEventTimes(victim.id, stoppedAt, (e) => e.event === 'suspect').values()].map((t) => (t ?? resumedAt) - stoppedAt);
  watch.add(victim);
  await watch.until(() => others.every((o) => watch.state(o, victim.id) === 'alive'), 15_000, 'all to see the resumed agent alive');
  const aliveTimes = [...watch.firstEventTimes(victim.id, resumedAt, (e) => e.event === 'alive' || e.event === 'join').values()].map((t) => (t ?? Date.now()) - resumedAt);
  log(`SIGSTOP: first suspicion ${Math.min(...suspectTimes)} ms, suspected by all ${Math.max(...suspectTimes)} ms; SIGCONT after ${resumedAt - stoppedAt} ms; alive again to all ${Math.max(...aliveTimes)} ms after`);
  for (const o of others) {
    const verdicts = watch.events(o).filter((e) => e.id === victim.id && e.time >= stoppedAt && e.event === 'fail');
    assert.deepEqual(verdicts, [], `${o.name} declared the paused agent dead`);
  }
  assert.ok(Number(victim.proc.logs.length) > 0);
});

test('a SIGKILLed agent is detected by all the others', async () => {
  const victim = agents[7]!;
  const others = agents.filter((a) => a !== victim);
  const killedAt = Date.now();
  await victim.proc.stop('SIGKILL');
  watch.remove(victim);
  await watch.until(() => others.every((o) => watch.state(o, victim.id) === 'dead'), 30_000, 'all to declare the killed agent dead');
  const suspect = [...watch.firstEventTimes(victim.id, killedAt, (e) => e.event === 'suspect' || e.event === 'fail').values()].map((t) => t! - killedAt);
  const dead = [...watch.firstEventTimes(victim.id, killedAt, (e) => e.event === 'fail').values()].map((t) => t! - killedAt);
  log(`SIGKILL: suspected by all after ${Math.max(...suspect)} ms (first ${Math.min(...suspect)} ms); declared dead by all after ${Math.max(...dead)} ms (first ${Math.min(...dead)} ms)`);
  agents = others;
  // No live member was declared dead at any time.
  for (const o of agents) {
    for (const e of watch.events(o)) {
      if (e.event === 'fail') assert.equal(e.id, victim.id, `${o.name} declared live member ${e.id} dead`);
    }
  }
});

test('an agent with the wrong secret cannot join: WEFT-G001, never listed, its packets rejected', async () => {
  const seed = agents[0]!;
  const authBefore = metricValue((await seed.proc.admin('/metrics')).text, 'weft_gossip_packets_rejected_total', { cause: 'auth' });
  const intruder = await startGossipAgent({ name: 'intruder', secret: 'not the cluster secret at all!', seeds: [seed.address] });
  extra.push(intruder);
  const failure = await intruder.proc.waitForLog((l) => l.msg === 'gossip join failed; retrying', 10_000);
  assert.equal((failure.error as { code: string }).code, 'WEFT-G001');
  // Let it retry a couple of times.
  await intruder.proc.waitForLog((l) => l.msg === 'gossip join failed; retrying' && Number(l.attempt) >= 3, 10_000);
  const members = (await intruder.proc.admin('/members')).body;
  assert.equal(members.join.joined, false);
  assert.deepEqual(members.members.map((m: { id: string }) => m.id), [intruder.id]);
  for (const a of agents) {
    const view = (await a.proc.admin('/members')).body;
    assert.ok(!view.members.some((m: { id: string }) => m.id === intruder.id), `${a.name} lists the intruder`);
  }
  const authAfter = metricValue((await seed.proc.admin('/metrics')).text, 'weft_gossip_packets_rejected_total', { cause: 'auth' });
  assert.ok(authAfter >= authBefore + 3, `the seed rejected the intruder's join exchanges (${authBefore} → ${authAfter})`);
  await intruder.proc.stop('SIGKILL');
});
