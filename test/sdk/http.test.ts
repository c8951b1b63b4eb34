import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as http from 'node:http';
import { once } from 'node:events';
import { fetch as undiciFetch, request as undiciRequest } from 'undici';
import { createMeshHttpServer, MeshHttpAgent, meshDispatcher, normalizeHost, type MeshHttpServer } from '../../src/sdk/http.js';
import { MeshConnectError } from '../../src/sdk/errors.js';
import { clientSocketPath, serviceSocketPath } from '../../src/sdk/paths.js';
import { startResponder, type Responder } from './responder.js';

let root: string;
let server: MeshHttpServer;
let responder: Responder;
const releases: (() => void)[] = [];

interface Echo {
  method: string;
  url: string;
  host: string;
  connection: number;
  body: string;
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'weft-sdk-http-'));
  await mkdir(join(root, 'server'));
  await mkdir(join(root, 'client'));
  server = await createMeshHttpServer(
    async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      if (req.url === '/slow') await new Promise<void>((r) => releases.push(r));
      const echo: Echo = {
        method: req.method!,
        url: req.url!,
        host: req.headers.host ?? '',
        connection: server.connectionInfo(req.socket)!.id,
        body: Buffer.concat(chunks).toString(),
      };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(echo));
    },
    { root, service: 'web' },
  );
  responder = await startResponder({
    socketPath: clientSocketPath(root),
    services: { 'web.shop.prod': serviceSocketPath('web', root) },
  });
});

after(async () => {
  await responder.close();
  await server.close({ deadline: 0 });
  await rm(root, { recursive: true, force: true });
});

function get(url: string, options: http.RequestOptions): Promise<{ res: http.IncomingMessage; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ res, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(options.method === 'POST' ? 'posted body' : undefined);
  });
}

describe('host to service ID', () => {
  test('normalizeHost drops port, case and trailing dot', () => {
    assert.equal(normalizeHost('Api.Payments.Prod.:8080'), 'api.payments.prod');
    assert.equal(normalizeHost('a.b.c'), 'a.b.c');
    assert.equal(normalizeHost('[::1]:80'), '[::1]');
    assert.equal(normalizeHost('::1'), '::1');
  });
});

describe('MeshHttpAgent', () => {
  test('reaches the service by URL host, keeps the connection alive', async () => {
    const agent = new MeshHttpAgent({ socketPath: responder.socketPath });
    const handshakesBefore = responder.requests.length;
    try {
      const a = await get('http://web.shop.prod:8080/one', { agent });
      const b = await get('http://web.shop.prod/two', { agent, method: 'POST' });
      const ea = JSON.parse(a.body) as Echo;
      const eb = JSON.parse(b.body) as Echo;
      assert.equal(a.res.statusCode, 200);
      assert.deepEqual([ea.url, ea.host, eb.url, eb.method, eb.body], ['/one', 'web.shop.prod:8080', '/two', 'POST', 'posted body']);
      assert.equal(ea.connection, eb.connection, 'second request reused the first connection');
      assert.equal(responder.requests.length - handshakesBefore, 1);
      assert.equal(agent.serviceIdFor({ host: 'Web.Shop.Prod', port: 80 }), 'web.shop.prod');
    } finally {
      agent.destroy();
    }
  });

  test('a Host header in the request options, or resolveServiceId, picks the service', async () => {
    const byHeader = new MeshHttpAgent({ socketPath: responder.socketPath });
    const byMap = new MeshHttpAgent({
      socketPath: responder.socketPath,
      resolveServiceId: (host) => ({ shop: 'web.shop.prod' })[host] ?? host,
    });
    try {
      const h = await get('http://localhost/h', { agent: byHeader, headers: { Host: 'web.shop.prod' } });
      assert.equal((JSON.parse(h.body) as Echo).host, 'web.shop.prod');
      const m = await get('http://shop/m', { agent: byMap });
      assert.equal((JSON.parse(m.body) as Echo).url, '/m');
    } finally {
      byHeader.destroy();
      byMap.destroy();
    }
  });

  test('mesh refusals surface as request errors with the reply code', async () => {
    const agent = new MeshHttpAgent({ socketPath: responder.socketPath });
    try {
      await assert.rejects(get('http://nope.shop.prod/', { agent }), (err: unknown) => {
        assert.ok(err instanceof MeshConnectError);
        assert.equal(err.code, 'UNKNOWN_SERVICE');
        assert.equal(err.replyCode, 3);
        return true;
      });
      await assert.rejects(get('http://localhost/', { agent }), (err: unknown) => err instanceof MeshConnectError && err.code === 'INVALID_SERVICE_ID');
    } finally {
      agent.destroy();
    }
  });
});

describe('meshDispatcher (undici)', () => {
  test('undici.request and undici.fetch reach the service, one connection for both', async () => {
    const dispatcher = meshDispatcher({ socketPath: responder.socketPath });
    const handshakesBefore = responder.requests.length;
    try {
      const r = await undiciRequest('http://web.shop.prod/req', { dispatcher, method: 'POST', body: 'via request' });
      const er = (await r.body.json()) as Echo;
      // undici frees the connection just after the body ends; let that turn run first.
      await new Promise((res) => setImmediate(res));
      const f = await undiciFetch('http://web.shop.prod/fetch', { dispatcher });
      const ef = (await f.json()) as Echo;
      assert.equal(r.statusCode, 200);
      assert.deepEqual([er.url, er.body, er.host, ef.url], ['/req', 'via request', 'web.shop.prod', '/fetch']);
      assert.equal(er.connection, ef.connection);
      assert.equal(responder.requests.length - handshakesBefore, 1);
    } finally {
      await dispatcher.close();
    }
  });

  test("Node's global fetch accepts the dispatcher too", async () => {
    const dispatcher = meshDispatcher({ socketPath: responder.socketPath });
    try {
      const res = await fetch('http://web.shop.prod/global', { dispatcher } as unknown as RequestInit) // types differ (undici-types 6), runtime works;
      assert.equal(((await res.json()) as Echo).url, '/global');
    } finally {
      await dispatcher.close();
    }
  });

  test('a fixed serviceId sends every origin to one service; refusals reject the request', async () => {
    const fixed = meshDispatcher({ socketPath: responder.socketPath, serviceId: 'web.shop.prod' });
    const plain = meshDispatcher({ socketPath: responder.socketPath });
    try {
      const r = await undiciRequest('http://anything.example:1234/x', { dispatcher: fixed });
      assert.equal(((await r.body.json()) as Echo).url, '/x');
      await assert.rejects(undiciRequest('http://nope.shop.prod/', { dispatcher: plain }), (err: unknown) => {
        assert.ok(err instanceof MeshConnectError, String(err));
        assert.equal(err.code, 'UNKNOWN_SERVICE');
        return true;
      });
      await assert.rejects(undiciRequest('https://web.shop.prod/', { dispatcher: plain }), /http: only/);
    } finally {
      await fixed.close();
      await plain.close();
    }
  });
});

describe('MeshHttpServer graceful shutdown', () => {
  test('idle keep-alive connections close at once, in-flight requests finish with Connection: close', async () => {
    const path = join(root, 'server', 'drain');
    const drainServer = await createMeshHttpServer(
      (req, res) => {
        if (req.url === '/slow') releases.push(() => res.end('slow done'));
        else res.end('fast');
      },
      { socketPath: path },
    );
    const local = await startResponder({ socketPath: join(root, 'client', 'drain'), services: { 'drain.shop.prod': path } });
    const idleAgent = new MeshHttpAgent({ socketPath: local.socketPath });
    const busyAgent = new MeshHttpAgent({ socketPath: local.socketPath });
    try {
      assert.equal((await get('http://drain.shop.prod/', { agent: idleAgent })).body, 'fast');
      const slow = get('http://drain.shop.prod/slow', { agent: busyAgent });
      while (releases.length === 0) await new Promise((r) => setImmediate(r));
      assert.equal(drainServer.connections, 2);
      const closing = drainServer.close({ deadline: 5_000 });
      releases.shift()!();
      const { res, body } = await slow;
      assert.equal(body, 'slow done');
      assert.equal(res.headers.connection, 'close');
      assert.deepEqual(await closing, { ended: 2, destroyed: 0 });
    } finally {
      idleAgent.destroy();
      busyAgent.destroy();
      await local.close();
    }
  });

  test('a keep-alive response whose headers went out before the drain: its connection closes when it ends', async () => {
    const path = join(root, 'server', 'stream');
    let finish: (() => void) | undefined;
    const streamServer = await createMeshHttpServer(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('part one, ');
        finish = () => res.end('part two');
      },
      { socketPath: path },
    );
    const local = await startResponder({ socketPath: join(root, 'client', 'stream'), services: { 'stream.shop.prod': path } });
    const agent = new MeshHttpAgent({ socketPath: local.socketPath });
    try {
      const pending = new Promise<{ res: http.IncomingMessage; body: string }>((resolve, reject) => {
        http
          .get('http://stream.shop.prod/', { agent }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ res, body: Buffer.concat(chunks).toString() }));
          })
          .on('error', reject);
      });
      while (finish === undefined) await new Promise((r) => setImmediate(r));
      const closing = streamServer.close({ deadline: 5_000 });
      finish();
      const { res, body } = await pending;
      assert.equal(body, 'part one, part two');
      assert.equal(res.headers.connection, 'keep-alive');
      assert.deepEqual(await closing, { ended: 1, destroyed: 0 });
    } finally {
      agent.destroy();
      await local.close();
    }
  });

  test('a request still running at the deadline is cut off', async () => {
    const path = join(root, 'server', 'stuck');
    const stuckServer = await createMeshHttpServer(() => {}, { socketPath: path });
    const local = await startResponder({ socketPath: join(root, 'client', 'stuck'), services: { 'stuck.shop.prod': path } });
    const agent = new MeshHttpAgent({ socketPath: local.socketPath });
    try {
      const pending = get('http://stuck.shop.prod/', { agent });
      while (stuckServer.connections === 0) await once(stuckServer, 'connection');
      const result = await stuckServer.close({ deadline: 50 });
      assert.deepEqual(result, { ended: 0, destroyed: 1 });
      await assert.rejects(pending, /socket hang up|ECONNRESET/);
    } finally {
      agent.destroy();
      await local.close();
    }
  });
});
