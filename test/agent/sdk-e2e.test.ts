// The SDK end to end through the real agent process: a MeshServer on a service
// socket and connect() through the client socket; HTTP over the mesh with both
// the http.Agent and the undici dispatcher; reply codes surfacing as error codes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { request as undiciRequest } from 'undici';
import { MeshHttpAgent, connect, createMeshHttpServer, createMeshServer, meshDispatcher, type MeshHttpServer, type MeshServer } from '../../src/sdk/index.js';
import { meshlet, startAgent, type AgentProcess } from '../helpers/agent-process.js';

let agent: AgentProcess;
let echo: MeshServer;
let web: MeshHttpServer;
let clientSocket: string;

before(async () => {
  agent = await startAgent({
    meshlets: {
      'm.yaml': [
        meshlet('t', 'app', { uses: ['*.backend.t'] }),
        meshlet('t', 'backend', { provides: ['echo', 'web'] }),
        meshlet('t', 'hidden', { provides: ['x'] }),
      ],
    },
  });
  clientSocket = agent.clientSocket('t', 'app');
  echo = await createMeshServer({ socketPath: agent.serverSocket('t', 'backend', 'echo'), onConnection: (s) => s.pipe(s) });
  web = await createMeshHttpServer((req, res) => res.end(`hello ${req.method} ${req.url}`), { socketPath: agent.serverSocket('t', 'backend', 'web') });
});

after(async () => {
  await echo?.close({ deadline: 1000 });
  await web?.close({ deadline: 1000 });
  await agent?.stop();
});

test('SDK connect() → agent → SDK server: bytes both ways', async () => {
  const s = await connect('echo.backend.t', { socketPath: clientSocket });
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.end('through the mesh');
  await once(s, 'close');
  assert.equal(Buffer.concat(chunks).toString(), 'through the mesh');
});

test('SDK connect() rejects with the reply code as the error code', async () => {
  await assert.rejects(connect('x.hidden.t', { socketPath: clientSocket }), (e: { code: string }) => e.code === 'FORBIDDEN');
  await assert.rejects(connect('nope.backend.t', { socketPath: clientSocket }), (e: { code: string }) => e.code === 'UNKNOWN_SERVICE');
});

test('HTTP over the mesh: http.Agent and undici dispatcher', async () => {
  const httpAgent = new MeshHttpAgent({ serviceId: 'web.backend.t', socketPath: clientSocket });
  const body = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: 'web.backend.t', path: '/a?b=1', agent: httpAgent }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve(text));
      })
      .on('error', reject);
  });
  assert.equal(body, 'hello GET /a?b=1');
  httpAgent.destroy();
  const dispatcher = meshDispatcher({ serviceId: 'web.backend.t', socketPath: clientSocket });
  const res = await undiciRequest('http://web.backend.t/u', { method: 'POST', body: 'x', dispatcher });
  assert.equal(await res.body.text(), 'hello POST /u');
  await dispatcher.close();
});
