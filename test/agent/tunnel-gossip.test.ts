// Tunnels fed by gossip: no static peers; agent B publishes its services in the
// catalog and its tunnel address and key in its member metadata; agent A routes
// to B's service from the catalog and reaches it through a tunnel.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ReplyCode } from '../../src/agent/kernels.js';
import { echoRoundTrip, handshake, request, sha256, startEcho } from '../helpers/mesh-client.js';
import { clientMeshlets, providerMeshlets, startTunnelAgent, stopAllTunnelAgents, type TunnelAgent } from '../helpers/tunnel-agents.js';

after(stopAllTunnelAgents);

const gossip = (name: string, seeds: string[]) => ({
  gossip: { name, bind: { host: '127.0.0.1', port: 0 }, secretFile: 'cluster.secret', join: { addresses: seeds, retry: { initial: '100ms', max: '1s' } }, healthCheckInterval: '100ms' },
});

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('with gossip, A finds B and its service in the catalog and reaches it through a tunnel', async () => {
  // The gossip secret must be at least 16 bytes; the helper's cluster secret file serves both layers.
  const b: TunnelAgent = await startTunnelAgent({ name: 'b', meshlets: providerMeshlets(), config: gossip('b', []) });
  const echo = await startEcho(b.serverSocket('t', 'svc', 'echo'));
  const bGossip = String(b.logs.find((l) => l.msg === 'agent ready')!.gossip);
  const a = await startTunnelAgent({ name: 'a', meshlets: clientMeshlets(), config: gossip('a', [bGossip]) });
  const services = await until(
    async () => (await a.admin('/services')).body.services as { id: string; endpoints: { kind: string; peer?: string }[] }[],
    (s) => !!s.find?.((x) => x.id === 'echo.svc.t' && x.endpoints.some((e) => e.kind === 'remote')),
    'echo.svc.t on A from the catalog',
  );
  assert.ok(services);
  const r = await handshake(a.clientSocket('t', 'app'), request('echo.svc.t'));
  assert.equal(r.code, ReplyCode.OK);
  const data = randomBytes(256 << 10);
  assert.equal(sha256(await echoRoundTrip(r.socket, data, r.extra)), sha256(data));
  r.socket.destroy();
  const peers = (await a.admin('/peers')).body.peers as Record<string, any>[];
  const pb = peers.find((p) => p.key === b.publicKey)!;
  assert.equal(pb.state, 'connected');
  assert.equal(pb.agentId, 'b');
  assert.equal(echo.accepted, 1);
  const members = (await a.admin('/members')).body.members as Record<string, any>[];
  assert.equal(members.find((m) => m.name === 'b')?.tunnelAddress, b.tunnel);
  await echo.close();
  await Promise.all([a.stop(), b.stop()]);
});
