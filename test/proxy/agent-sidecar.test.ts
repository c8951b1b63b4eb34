// The real agent as a process with the proxy hooks: `weft agent --config F
// --mode sidecar --service-ports rest:<port> --proxy-port 0`. The local app is
// a plain TCP HTTP server on that port (sidecar delivery), reached by curl
// through the proxy by its short name and by meshlet clients through the
// agent's own client socket; the proxy's metrics are on the admin /metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { CLI } from '../helpers/agent-process.js';

const run = promisify(execFile);

describe('weft agent --mode sidecar', () => {
  let dir: string;
  let app: Server;
  let appPort: number;
  let web: Server;
  let webPort: number;
  let child: ChildProcess;
  let ready: Record<string, unknown>;
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-sidecar-'));
    app = createServer((req, res) => res.end(JSON.stringify({ app: 'orders', url: req.url, fwdPort: req.headers['x-forwarded-port'] ?? null })));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    appPort = (app.address() as AddressInfo).port;
    web = createServer((req, res) => res.end(JSON.stringify({ app: 'web', url: req.url })));
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    webPort = (web.address() as AddressInfo).port;
    const config = {
      apiVersion: 'weft.dev/v1alpha1',
      kind: 'AgentConfig',
      socketRoot: join(dir, 's'),
      admin: { host: '127.0.0.1', port: 0 },
      meshlets: {
        inline: [{ apiVersion: 'weft.dev/v1alpha1', kind: 'Meshlet', metadata: { name: 'orders', namespace: 'shop' }, spec: { provides: ['rest', 'web'], uses: ['*.orders.shop'] } }],
      },
    };
    const file = join(dir, 'agent.yaml');
    writeFileSync(file, stringify(config));
    child = spawn(process.execPath, [CLI, 'agent', '--config', file, '--mode', 'sidecar', '--service-ports', `rest:${appPort}`, '--proxy-port', '0'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    ready = await new Promise((resolve, reject) => {
      let buf = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
          buf = buf.slice(nl + 1);
          lines.push(line);
          if (line.msg === 'agent ready') resolve(line);
        }
      });
      child.once('exit', (code) => reject(new Error(`agent exited ${code}: ${stderr}`)));
    });
    assert.match(stderr, /proxy {8}http:\/\/127\.0\.0\.1:\d+ {2}\(sidecar, service ports rest:\d+/);
  });
  after(async () => {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    app.close();
    web.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('curl through the sidecar proxy: the short name and port reach the app on its TCP port', async () => {
    const proxy = String(ready.proxy);
    const env = { ...process.env, http_proxy: proxy, no_proxy: '' };
    const a = JSON.parse((await run('curl', ['-sS', `http://orders:${appPort}/v1/items`], { env })).stdout);
    assert.deepEqual(a, { app: 'orders', url: '/v1/items', fwdPort: String(appPort) });
    const b = JSON.parse((await run('curl', ['-sS', 'http://rest.orders.shop/full-id'], { env })).stdout);
    assert.equal(b.url, '/full-id');
    // The sidecar's meshlet uses only *.orders.shop: anything else is forbidden (403, WEFT-P012) — here, nothing else exists: 404.
    const c = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', 'http://other.orders.shop/'], { env });
    assert.equal(c.stdout, '404');
  });

  test('a service without a --service-ports entry goes to the port named by X-Forwarded-Port', async () => {
    const env = { ...process.env, http_proxy: String(ready.proxy), no_proxy: '' };
    const r = JSON.parse((await run('curl', ['-sS', '-H', `X-Forwarded-Port: ${webPort}`, 'http://web.orders.shop/w'], { env })).stdout);
    assert.deepEqual(r, { app: 'web', url: '/w' });
  });

  test('the proxy metrics are in the agent registry (admin /metrics) and requests are in the access log', async () => {
    const text = await (await fetch(`${String(ready.admin)}/metrics`)).text();
    assert.match(text, /weft_proxy_requests_total\{route="default",service="rest.orders.shop",code_class="2xx"\} [1-9]/);
    assert.match(text, /weft_agent_handshakes_total/);
    // Access-log lines are written in batches (16 KiB, or 50 ms after the first): wait for it, bounded.
    const logged = () => lines.some((l) => l.msg === 'access' && l.path === '/v1/items' && l.status === 200);
    for (let i = 0; i < 100 && !logged(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(logged());
  });
});
