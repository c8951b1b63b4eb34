// Agent lifecycle against the real process: bad config at startup, stale and
// live socket files, limits (OVERLOADED), the admin API and canary controls,
// and graceful drain on SIGTERM (streams finish; the deadline cuts the rest).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ReplyCode } from '../../src/agent/kernels.js';
import { makeTempDir, meshlet, startAgent } from '../helpers/agent-process.js';
import { metricValue } from '../helpers/metrics.js';
import { echoRoundTrip, handshake, makeStaleSocket, openClient, readReply, replyCode, request, startEcho } from '../helpers/mesh-client.js';

test('bad meshlet files stop startup with an error naming file, field and expectation', async () => {
  const cases: Array<{ file: object | string; field: RegExp; expected: RegExp }> = [
    { file: meshlet('t', 'a', { idleTimeout: '-1m' }), field: /spec\.idleTimeout/, expected: /Go duration/ },
    { file: meshlet('t', 'a', { idleTimeout: '5 minutes' }), field: /spec\.idleTimeout/, expected: /unknown unit/ },
    { file: meshlet('t', 'a', { uses: ['pay*.x.y'] }), field: /spec\.uses\[0\]/, expected: /service ID/ },
    { file: meshlet('t', 'Bad_Name', {}), field: /metadata\.name/, expected: /DNS label/ },
    { file: { ...meshlet('t', 'a', {}), kind: 'Deployment' }, field: /kind/, expected: /"Meshlet"/ },
    { file: meshlet('t', 'a', { provide: ['x'] }), field: /spec\.provide/, expected: /one of the fields/ },
    { file: 'kind: [Meshlet\n', field: /bad\.yaml/, expected: /not valid YAML/ },
  ];
  await Promise.all(
    cases.map(async (c) => {
      const a = await startAgent({ meshlets: { 'bad.yaml': c.file }, expectFailure: true });
      assert.equal(await a.exited, 1);
      const line = a.logs.find((l) => l.msg === 'agent failed to start');
      assert.ok(line, a.stderr());
      const err = line.error as { code: string; message: string };
      assert.equal(err.code, 'WEFT-A001');
      assert.match(err.message, /bad\.yaml/);
      assert.match(err.message, c.field);
      assert.match(err.message, c.expected);
      assert.match(a.stderr(), /remediation/);
    }),
  );
});

test('a stale client socket file is removed; a live one (second agent on the same root) is fatal', async () => {
  const dir = makeTempDir();
  const stale = `${dir}/s/t/a/main/client/meshless`;
  mkdirSync(dirname(stale), { recursive: true });
  await makeStaleSocket(stale);
  const first = await startAgent({ meshlets: { 'a.yaml': meshlet('t', 'a', {}) } }, dir);
  await first.waitForLog((l) => l.msg === 'removed stale socket file' && l.path === stale);
  const second = await startAgent({ config: { socketRoot: first.socketRoot }, meshlets: { 'a.yaml': meshlet('t', 'a', {}) }, expectFailure: true });
  assert.equal(await second.exited, 1);
  assert.equal((second.logs.find((l) => l.msg === 'agent failed to start')?.error as { code: string }).code, 'WEFT-A004');
  assert.ok(existsSync(stale), 'the first agent still listens');
  assert.equal(await first.stop(), 0);
});

test('limits: pending handshakes and connections over the limit get OVERLOADED', async () => {
  const a = await startAgent({
    config: { limits: { maxConnections: 3, maxPendingHandshakes: 2 }, timeouts: { handshake: '5s' } },
    meshlets: { 'a.yaml': [meshlet('t', 'app', { uses: ['echo.svc.t'] }), meshlet('t', 'svc', { provides: ['echo'] })] },
  });
  const echo = await startEcho(a.serverSocket('t', 'svc', 'echo'));
  const sockets: { destroy(): void }[] = [];
  try {
    const client = a.clientSocket('t', 'app');
    // Two silent clients fill the pending-handshake limit.
    const silent = [await openClient(client), await openClient(client)];
    sockets.push(...silent);
    await a.admin('/metrics'); // a round trip through the agent's loop: both accepted by now
    assert.equal(await replyCode(client, 'echo.svc.t'), ReplyCode.OVERLOADED);
    // One pending + two established streams = 3 connections: the connection limit.
    silent[0]!.destroy();
    // The agent sees that close asynchronously: wait until it counts one pending handshake again.
    const deadline = Date.now() + 10_000;
    while (metricValue((await a.admin('/metrics')).text, 'weft_agent_handshakes_pending') !== 1) {
      assert.ok(Date.now() < deadline, 'the agent never saw the silent client close');
      await new Promise((r) => setTimeout(r, 20));
    }
    const ok = [await handshake(client, request('echo.svc.t')), await handshake(client, request('echo.svc.t'))];
    sockets.push(...ok.map((o) => o.socket));
    assert.deepEqual(ok.map((r) => r.code), [ReplyCode.OK, ReplyCode.OK]);
    const fourth = await openClient(client);
    sockets.push(fourth);
    const r = await readReply(fourth);
    assert.equal(r.code, ReplyCode.OVERLOADED);
  } finally {
    for (const s of sockets) s.destroy();
    await echo.close();
    assert.equal(await a.stop(), 0);
  }
});

test('admin API: health, readiness, meshlets, services, config, errors', async () => {
  const a = await startAgent({ meshlets: { 'a.yaml': [meshlet('t', 'app', { uses: ['*.svc.t'], idleTimeout: '90s' }), meshlet('t', 'svc', { provides: ['echo', 'other'] })] } });
  assert.deepEqual((await a.admin('/healthz')).body, { status: 'ok' });
  assert.equal((await a.admin('/readyz')).status, 200);
  const meshlets = (await a.admin('/meshlets')).body.meshlets as Array<Record<string, any>>;
  const app = meshlets.find((m) => m.name === 'app')!;
  assert.equal(app.idleTimeout, '90s');
  assert.deepEqual(app.uses, ['*.svc.t']);
  assert.equal(app.instances[0].clientSocket, a.clientSocket('t', 'app'));
  assert.equal((await a.admin('/meshlets/t/svc')).body.provides.length, 2);
  const services = (await a.admin('/services')).body.services as Array<Record<string, any>>;
  assert.deepEqual(services.map((s) => s.id).sort(), ['echo.svc.t', 'other.svc.t']);
  assert.equal(services[0]!.endpoints[0].socket, a.serverSocket('t', 'svc', services[0]!.id.split('.')[0]));
  const config = (await a.admin('/config')).body;
  assert.equal(config.effective.socketRoot, a.socketRoot);
  assert.equal(config.effective.sockets.mode, '0660');
  const missing = await a.admin('/meshlets/t/nope');
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'WEFT-A009');
  assert.ok(missing.body.error.remediation);
  assert.equal((await a.admin('/metrics', 'POST')).status, 405);
  assert.equal((await a.admin('/meshlets/t/app/canary/pause', 'POST')).status, 409);
  assert.equal(await a.stop(), 0);
});

test('canary: automatic steps, pause/resume/promote/rollback, per-version split in metrics', async () => {
  const instances = [
    { name: 'v1-a', version: 'v1', weight: 1 },
    { name: 'v2-a', version: 'v2', weight: 1 },
  ];
  const a = await startAgent({
    meshlets: {
      'a.yaml': [
        meshlet('t', 'app', { uses: ['echo.svc.t', 'echo.auto.t'] }),
        meshlet('t', 'svc', { provides: ['echo'], instances, canary: { stable: 'v1', canary: 'v2', steps: [10, 50, 100], interval: '1h' } }),
        meshlet('t', 'auto', { provides: ['echo'], instances, canary: { stable: 'v1', canary: 'v2', steps: [20, 100], interval: '100ms' } }),
      ],
    },
  });
  // Automatic advance: 20 % → 100 % after one interval, completing the rollout.
  await a.waitForLog((l) => l.msg === 'canary changed' && l.meshlet === 't/auto' && l.phase === 'promoted');
  assert.equal((await a.admin('/meshlets/t/auto')).body.canary.canaryPercent, 100);

  const base = '/meshlets/t/svc/canary';
  assert.equal((await a.admin('/meshlets/t/svc')).body.canary.canaryPercent, 10);
  assert.equal((await a.admin(`${base}/pause`, 'POST')).body.phase, 'paused');
  assert.equal((await a.admin(`${base}/pause`, 'POST')).status, 409);
  assert.equal((await a.admin(`${base}/resume`, 'POST')).body.phase, 'progressing');
  assert.equal((await a.admin(`${base}/explode`, 'POST')).status, 404);

  const echoes = await Promise.all(instances.map((i) => startEcho(a.serverSocket('t', 'svc', 'echo', i.name))));
  const send = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const r = await handshake(a.clientSocket('t', 'app'), request('echo.svc.t'));
      assert.equal(r.code, ReplyCode.OK);
      await echoRoundTrip(r.socket, Buffer.from('x'), r.extra);
    }
  };
  const promoted = (await a.admin(`${base}/promote`, 'POST')).body;
  assert.equal(promoted.phase, 'promoted');
  assert.equal(promoted.canaryPercent, 100);
  await send(20);
  assert.equal(echoes[0]!.accepted, 0);
  assert.equal(echoes[1]!.accepted, 20);
  assert.equal((await a.admin(`${base}/rollback`, 'POST')).body.canaryPercent, 0);
  await send(10);
  assert.equal(echoes[0]!.accepted, 10);
  assert.equal(echoes[1]!.accepted, 20);
  const { text } = await a.admin('/metrics');
  assert.match(text, /weft_agent_streams_total\{service="echo.svc.t",version="v2"\} 20/);
  assert.match(text, /weft_agent_streams_total\{service="echo.svc.t",version="v1"\} 10/);
  assert.match(text, /weft_agent_canary_percent\{namespace="t",meshlet="svc",version="v1"\} 100/);
  for (const e of echoes) await e.close();
  assert.equal(await a.stop(), 0);
});

test('SIGTERM drain: stop accepting, let open streams finish, exit 0', async () => {
  const a = await startAgent({ meshlets: { 'a.yaml': [meshlet('t', 'app', { uses: ['echo.svc.t'] }), meshlet('t', 'svc', { provides: ['echo'] })] } });
  const echo = await startEcho(a.serverSocket('t', 'svc', 'echo'));
  const r = await handshake(a.clientSocket('t', 'app'), request('echo.svc.t'));
  assert.equal(r.code, ReplyCode.OK);
  a.child.kill('SIGTERM');
  await a.waitForLog((l) => l.msg === 'draining');
  assert.equal((await a.admin('/readyz')).status, 503);
  assert.equal(existsSync(a.clientSocket('t', 'app')), false, 'client socket unlinked: no new connections');
  // The open stream still works both ways, then finishes; the agent exits 0.
  const back = await echoRoundTrip(r.socket, Buffer.from('finishing'), r.extra);
  assert.equal(back.toString(), 'finishing');
  assert.equal(await a.exited, 0);
  assert.equal(a.logs.find((l) => l.msg === 'drained')?.forced, 0);
  await echo.close();
});

test('SIGTERM drain deadline: streams still open are closed, exit 0', async () => {
  const a = await startAgent({
    config: { timeouts: { drain: '200ms' } },
    meshlets: { 'a.yaml': [meshlet('t', 'app', { uses: ['echo.svc.t'] }), meshlet('t', 'svc', { provides: ['echo'] })] },
  });
  const echo = await startEcho(a.serverSocket('t', 'svc', 'echo'));
  const r = await handshake(a.clientSocket('t', 'app'), request('echo.svc.t'));
  assert.equal(r.code, ReplyCode.OK);
  r.socket.resume();
  const ended = once(r.socket, 'end');
  a.child.kill('SIGTERM');
  await ended;
  assert.equal(await a.exited, 0);
  assert.equal(a.logs.find((l) => l.msg === 'drained')?.forced, 1);
  assert.ok(a.logs.some((l) => (l.error as { code?: string } | undefined)?.code === 'WEFT-A010'));
  r.socket.destroy();
  await echo.close();
});
