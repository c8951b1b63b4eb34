// The SDK end to end through the real agent process: a MeshServer on a service
// socket and connect() through the client socket; HTTP over the mesh with both
// the http.Agent and the undici dispatcher; reply codes surfacing as error codes;
// and `weft connect` piping stdin/stdout like netcat.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { request as undiciRequest } from 'undici';
import { MeshHttpAgent, connect, createMeshHttpServer, createMeshServer, meshDispatcher, type MeshHttpServer, type MeshServer } from '../../src/sdk/index.js';
import { spawn } from 'node:child_process';
import { CLI, meshlet, startAgent, type AgentProcess } from '../helpers/agent-process.js';

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

/** Runs `weft connect` with `input` on stdin; resolves with stdout, stderr and the exit code. */
function weftConnect(args: string[], input: string): Promise<{ out: string; err: string; code: number | null }> {
  const child = spawn(process.execPath, [CLI, 'connect', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdin.end(input);
  return new Promise((resolve) => child.once('close', (code) => resolve({ out, err, code })));
}

test('weft connect: stdin → service → stdout; the meshlet found from the config; errors name the reply', async () => {
  const ok = await weftConnect(['echo.backend.t', '--config', agent.configFile], 'netcat-like\n');
  assert.equal(ok.code, 0, ok.err);
  assert.equal(ok.out, 'netcat-like\n');
  const asApp = await weftConnect(['echo.backend.t', '--config', agent.configFile, '--as', 'app.t'], 'as app');
  assert.equal(asApp.out, 'as app');
  const denied = await weftConnect(['x.hidden.t', '--socket', clientSocket], '');
  assert.equal(denied.code, 1);
  assert.match(denied.err, /WEFT-A011.*FORBIDDEN/);
});
