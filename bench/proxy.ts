// bench/proxy: the sidecar HTTP proxy end to end with real processes. One
// upstream (a node:http server in its own process, one handler, listening on a
// TCP port and on a meshlet server socket) reached:
//   direct          client → upstream TCP port
//   nginx           client → nginx (1 worker, upstream keepalive, Unix socket) → upstream
//   weft            client → `weft agent` proxy (1 process; HTTP/1 fast path; access log off) → meshlet server socket
//   weft full path  the same with the fast path off (`proxy.fastPath: false`: node:http + undici)
//   weft + log      the fast path with the JSON access log written to a file
//   weft 2 agents   client → agent A proxy → encrypted tunnel → agent B → B's meshlet server socket
// Two measurements, the paths taking turns in rounds so machine noise falls on all alike:
//   1. throughput: wrk, 1 thread, fixed connections, requests/s and wrk's p50/p99;
//   2. added latency at a fixed 1,000 requests/s: an open-loop generator on raw
//      keep-alive sockets (requests leave on schedule whether or not earlier ones
//      returned), a warm-up slice per path first, then short slices with the paths
//      interleaved; p50/p99 minus the direct path's, over all samples and as the
//      median of the per-round differences.
// wrk and nginx come from Debian (apt-get install when missing; a row is
// skipped with a message if that fails). WEFT_BENCH_TIME scales durations.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type Socket } from 'node:net';
import { request } from 'undici';
import { stringify } from 'yaml';
import { instanceDir, serverSocketPath } from '../src/agent/socket-layout.js';
import { printGrid, writeResults } from './lib.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const scale = Math.min(1, Number(process.env.WEFT_BENCH_TIME ?? 300) / 300);
const SETTINGS = {
  rounds: 5,
  wrkSeconds: Math.max(1, Math.round(3 * scale)),
  connections: 32,
  rate: 1000,
  /** Requests per path per latency round (at 1,000/s: seconds × 1000). */
  // Many short rounds: a stall of the shared machine spoils one round's p99, and the median of rounds shrugs it off.
  rateSlice: 500,
  rateRounds: Math.max(4, Math.round(12 * scale)),
  rateWarmup: 1000,
  rateConnections: 8,
};
const SERVICE = 'hello.bench.bench';
const BODY = 'hello from the upstream\n';

interface PathDef {
  name: string;
  /** Where the load generator connects. */
  url: string;
  /** Host header it sends (the proxies route on it). */
  host: string;
  /** The proxy's processes (nginx's worker, the agents), whose CPU time is counted per request. */
  pids: number[];
}

interface WrkResult {
  rps: number;
  /** CPU time of the path's proxy processes per request (µs), or undefined without any. */
  cpuUsPerRequest: number | undefined;
  p50ms: number;
  p99ms: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Installs Debian packages when a command is missing; false if it is still missing. */
function ensure(cmd: string, pkg: string): boolean {
  if (have(cmd)) return true;
  console.log(`bench/proxy: installing ${pkg} (apt-get)…`);
  spawnSync('apt-get', ['update'], { stdio: 'ignore' });
  spawnSync('apt-get', ['install', '-y', pkg], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return have(cmd) || existsSync(`/usr/sbin/${cmd}`);
}

function waitForLine(child: ChildProcess, pred: (line: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${what}: not ready within ${timeoutMs} ms\n${err}`)), timeoutMs);
    child.stderr?.on('data', (d) => (err += d));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (pred(line)) {
          clearTimeout(timer);
          resolve(line);
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}\n${err}`));
    });
  });
}

const UPSTREAM = `
import { createServer } from 'node:http';
const [port, ...socks] = process.argv.slice(1);
const body = Buffer.from(${JSON.stringify(BODY)});
const handler = (req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }); res.end(body); };
let n = 0;
const ready = () => { if (++n === socks.length + 1) console.log('ready'); };
createServer({ keepAliveTimeout: 60000 }, handler).listen(Number(port), '127.0.0.1', ready);
for (const s of socks) createServer({ keepAliveTimeout: 60000 }, handler).listen(s, ready);
`;

function parseWrk(out: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const toMs = (v: string, unit: string) => Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);
  const pct = (p: string) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    return m ? toMs(m[1]!, m[2]!) : NaN;
  };
  return { rps, p50ms: pct('50'), p99ms: pct('99'), cpuUsPerRequest: undefined };
}

/** user + system CPU seconds of processes so far (/proc/<pid>/stat, clock ticks at 100 Hz). */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
  }
  return ticks / 100;
}

function runWrk(p: PathDef, seconds: number): Promise<WrkResult> {
  const cpu0 = p.pids.length ? cpuSeconds(p.pids) : 0;
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t1', `-c${SETTINGS.connections}`, `-d${seconds}s`, '--latency', '-H', `Host: ${p.host}`, `${p.url}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('exit', (code) => {
      const r = parseWrk(out);
      const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
      if (p.pids.length && requests > 0) r.cpuUsPerRequest = ((cpuSeconds(p.pids) - cpu0) * 1e6) / requests;
      if (code !== 0 || !Number.isFinite(r.rps)) reject(new Error(`wrk ${p.name}: exit ${code}\n${out}`));
      else if (/Non-2xx/.test(out)) reject(new Error(`wrk ${p.name}: non-2xx answers\n${out}`));
      else resolve(r);
    });
  });
}

/** A keep-alive client connection that knows where each (Content-Length) response ends. */
class LoadConnection {
  readonly socket: Socket;
  busy = false;
  /** Closed, or the server said it closes after the last response (nginx does every 1,000 requests). */
  dead = false;
  #buf = '';
  #t0 = 0;
  #done: ((ms: number) => void) | undefined;
  constructor(url: URL, onError: (e: Error) => void) {
    this.socket = connect(Number(url.port), url.hostname);
    this.socket.setNoDelay(true);
    this.socket.setEncoding('latin1');
    this.socket.on('error', onError);
    this.socket.on('close', () => {
      this.dead = true;
      if (this.busy) onError(new Error('connection closed with a request in flight'));
    });
    this.socket.on('data', (d: string) => {
      this.#buf += d;
      const end = this.#buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const cl = /\r\ncontent-length: *(\d+)/i.exec(this.#buf.slice(0, end));
      if (!cl || !this.#buf.startsWith('HTTP/1.1 200')) return onError(new Error(`unexpected response: ${this.#buf.slice(0, 200)}`));
      if (this.#buf.length < end + 4 + Number(cl[1])) return;
      const ms = performance.now() - this.#t0;
      if (/\r\nconnection: *close/i.test(this.#buf.slice(0, end))) this.dead = true;
      this.#buf = '';
      this.busy = false;
      const done = this.#done;
      this.#done = undefined;
      done?.(ms);
    });
  }
  send(bytes: Buffer, done: (ms: number) => void): void {
    this.busy = true;
    this.#done = done;
    this.#t0 = performance.now();
    this.socket.write(bytes);
  }
}

/**
 * Open loop at `rate` req/s for `count` requests: each request leaves on schedule on a free
 * keep-alive connection (a new one if all are busy), whether or not earlier ones returned.
 */
async function openLoop(p: PathDef, conns: LoadConnection[], rate: number, count: number, errors: { failure: Error | undefined }): Promise<number[]> {
  const bytes = Buffer.from(`GET / HTTP/1.1\r\nHost: ${p.host}\r\n\r\n`, 'latin1');
  const lat: number[] = [];
  let answered = 0;
  let finish: () => void = () => undefined;
  const all = new Promise<void>((r) => (finish = r));
  const onError = (e: Error) => (errors.failure ??= e);
  const watchdog = setInterval(() => {
    if (errors.failure || performance.now() - start > (count / rate) * 1000 + 15_000) finish();
  }, 100);
  const start = performance.now();
  let sent = 0;
  while (sent < count && !errors.failure) {
    const due = Math.min(count, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
    while (sent < due) {
      let c = conns.find((x) => !x.busy && !x.dead);
      if (!c) conns.push((c = new LoadConnection(new URL(p.url), onError)));
      if (errors.failure) break;
      c.send(bytes, (ms) => {
        lat.push(ms);
        if (++answered === count) finish();
      });
      sent++;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await all;
  clearInterval(watchdog);
  if (errors.failure) throw new Error(`${p.name}: ${errors.failure.message}`);
  if (answered < count) throw new Error(`${p.name}: only ${answered} of ${count} requests answered`);
  return lat;
}

/** Latency at a fixed rate for every path: a warm-up slice each, then rounds of interleaved slices. */
async function latencyRounds(paths: PathDef[]): Promise<Map<string, number[][]>> {
  const errors: { failure: Error | undefined } = { failure: undefined };
  const onError = (e: Error) => (errors.failure ??= e);
  const pools = new Map(paths.map((p) => [p.name, Array.from({ length: SETTINGS.rateConnections }, () => new LoadConnection(new URL(p.url), onError))]));
  const out = new Map<string, number[][]>();
  try {
    for (const p of paths) await openLoop(p, pools.get(p.name)!, SETTINGS.rate, SETTINGS.rateWarmup, errors);
    for (let round = 0; round < SETTINGS.rateRounds; round++) {
      for (const p of paths) {
        const lat = await openLoop(p, pools.get(p.name)!, SETTINGS.rate, SETTINGS.rateSlice, errors);
        out.set(p.name, [...(out.get(p.name) ?? []), lat]);
      }
    }
  } finally {
    for (const cs of pools.values()) for (const c of cs) c.socket.destroy();
  }
  return out;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function median(xs: number[]): number {
  return percentile(xs, 50);
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-proxy-'));
  const children: ChildProcess[] = [];
  const notes: string[] = [];
  try {
    const wrk = ensure('wrk', 'wrk');
    const nginxOk = ensure('nginx', 'nginx-light') || ensure('nginx', 'nginx');
    if (!wrk) notes.push('wrk missing and not installable: throughput rows skipped');
    if (!nginxOk) notes.push('nginx missing and not installable: nginx row skipped');

    // The upstream: one process, one handler, on a TCP port and on a server socket for nginx
    // and for each agent (each agent has its own socket root).
    const weftVariants = [
      ['weft', 'off', true],
      ['weft full path', 'off', false],
      ['weft + access log', join(dir, 'access.log'), true],
    ] as const;
    // The two-agent row's upstream sits behind agent B (its own socket root).
    const twoAgentRoot = join(dir, 'agent-b', 's');
    const roots = [...weftVariants.map(([name]) => join(dir, name.replace(/\W+/g, '-'), 's')), twoAgentRoot];
    const sockFor = (root: string) => serverSocketPath(instanceDir(root, 'bench', 'bench', 'main'), 'hello');
    const sock = join(dir, 'nginx-upstream.sock');
    for (const r of roots) mkdirSync(dirname(sockFor(r)), { recursive: true });
    const directPort = await freePort();
    const upstream = spawn(process.execPath, ['--input-type=module', '-e', UPSTREAM, String(directPort), sock, ...roots.map(sockFor)], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(upstream);
    await waitForLine(upstream, (l) => l === 'ready', 'upstream');

    const paths: PathDef[] = [{ name: 'direct', url: `http://127.0.0.1:${directPort}`, host: SERVICE, pids: [] }];

    if (nginxOk) {
      const port = await freePort();
      const conf = join(dir, 'nginx.conf');
      for (const d of ['client', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, 'nginx-tmp', d), { recursive: true });
      writeFileSync(
        conf,
        `user root;
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/nginx-tmp/client;
  proxy_temp_path ${dir}/nginx-tmp/proxy;
  fastcgi_temp_path ${dir}/nginx-tmp/fastcgi;
  uwsgi_temp_path ${dir}/nginx-tmp/uwsgi;
  scgi_temp_path ${dir}/nginx-tmp/scgi;
  upstream app { server unix:${sock}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; }
  }
}
`,
      );
      const nginxBin = have('nginx') ? 'nginx' : '/usr/sbin/nginx';
      const nginx = spawn(nginxBin, ['-c', conf, '-p', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(nginx);
      // nginx prints nothing when ready: poll the port.
      const url = `http://127.0.0.1:${port}`;
      for (let i = 0; ; i++) {
        try {
          const r = await request(url, { headers: { host: SERVICE } });
          if ((await r.body.text()) === BODY) break;
        } catch {
          if (i > 100 || nginx.exitCode !== null) throw new Error(`nginx did not start (exit ${nginx.exitCode})`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      // The worker does the proxying (the master only supervises).
      const workers = readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .filter((d) => {
          try {
            const st = readFileSync(`/proc/${d}/stat`, 'latin1');
            return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === nginx.pid;
          } catch {
            return false;
          }
        })
        .map(Number);
      paths.push({ name: 'nginx', url, host: SERVICE, pids: workers });
    }

    // weft: a real agent process per variant, the meshlet's server socket is the upstream's.
    const startAgent = async (name: string, cfgDir: string, cfg: Record<string, unknown>): Promise<Record<string, string>> => {
      mkdirSync(cfgDir, { recursive: true });
      const file = join(cfgDir, 'agent.yaml');
      writeFileSync(file, stringify({ apiVersion: 'weft.dev/v1alpha1', kind: 'AgentConfig', admin: { host: '127.0.0.1', port: 0 }, ...cfg }));
      const agent = spawn(process.execPath, [CLI, 'agent', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(agent);
      return { ...(JSON.parse(await waitForLine(agent, (l) => l.includes('"agent ready"'), name)) as Record<string, string>), pid: String(agent.pid) };
    };
    const benchMeshlet = { apiVersion: 'weft.dev/v1alpha1', kind: 'Meshlet', metadata: { name: 'bench', namespace: 'bench' }, spec: { provides: ['hello'], uses: [] } };
    for (const [k, [name, accessLog, fastPath]] of weftVariants.entries()) {
      const ready = await startAgent(name, dirname(roots[k]!), {
        socketRoot: roots[k]!,
        meshlets: { inline: [benchMeshlet], watch: false },
        proxy: { port: 0, accessLog, namespace: 'bench', fastPath },
      });
      paths.push({ name, url: ready.proxy!, host: SERVICE, pids: [Number(ready.pid)] });
    }

    // Two agents: B serves the meshlet (the upstream's socket under B's root) and listens for
    // tunnels; A runs the proxy and knows B as a static tunnel peer offering the service.
    {
      const bDir = dirname(twoAgentRoot);
      writeFileSync(join(dir, 'secret'), 'bench proxy cluster secret', { mode: 0o600 });
      const b = await startAgent('agent B', bDir, {
        socketRoot: twoAgentRoot,
        meshlets: { inline: [benchMeshlet], watch: false },
        tunnel: { name: 'b', listen: '127.0.0.1:0', identityFile: join(bDir, 'id.json'), secretFile: join(dir, 'secret') },
      });
      const aDir = join(dir, 'agent-a');
      const a = await startAgent('agent A', aDir, {
        socketRoot: join(aDir, 's'),
        meshlets: { inline: [], watch: false },
        proxy: { port: 0, accessLog: 'off', namespace: 'bench' },
        tunnel: {
          name: 'a',
          listen: '127.0.0.1:0',
          identityFile: join(aDir, 'id.json'),
          secretFile: join(dir, 'secret'),
          peers: [{ name: 'b', address: b.tunnel!, publicKey: b.publicKey!, services: [SERVICE] }],
        },
      });
      paths.push({ name: 'weft 2 agents + tunnel', url: a.proxy!, host: SERVICE, pids: [Number(a.pid), Number(b.pid)] });
    }

    // Cross-check: every path answers with the upstream's body before anything is timed.
    for (const p of paths) {
      const r = await request(`${p.url}/`, { headers: { host: p.host } });
      const text = await r.body.text();
      if (r.statusCode !== 200 || text !== BODY) throw new Error(`bench cross-check failed: ${p.name} answered ${r.statusCode} ${text.slice(0, 100)}`);
    }

    const wrkRuns = new Map<string, WrkResult[]>();
    if (wrk) {
      for (let round = 0; round < SETTINGS.rounds; round++) {
        for (const p of paths) {
          const r = await runWrk(p, SETTINGS.wrkSeconds);
          wrkRuns.set(p.name, [...(wrkRuns.get(p.name) ?? []), r]);
        }
      }
    }
    const rateRuns = await latencyRounds(paths);

    const direct = rateRuns.get('direct')!;
    const dAll = direct.flat();
    const dP50 = percentile(dAll, 50);
    const dP99 = percentile(dAll, 99);
    const nginxRps = wrk && wrkRuns.has('nginx') ? median(wrkRuns.get('nginx')!.map((r) => r.rps)) : undefined;
    const cpuOf = (name: string) => {
      const xs = (wrkRuns.get(name) ?? []).map((r) => r.cpuUsPerRequest).filter((x): x is number => x !== undefined);
      return xs.length ? median(xs) : undefined;
    };
    const nginxCpu = cpuOf('nginx');
    const rows: Record<string, unknown>[] = [];
    const lines: string[][] = [];
    for (const p of paths) {
      const w = wrkRuns.get(p.name);
      const rps = w ? median(w.map((r) => r.rps)) : undefined;
      const rounds = rateRuns.get(p.name)!;
      const lat = rounds.flat();
      const p50 = percentile(lat, 50);
      const p99 = percentile(lat, 99);
      // Per round, against the direct path's slice of the same round: a noisy second shows in one round only.
      const perRoundP99 = rounds.map((r, i) => percentile(r, 99) - percentile(direct[i]!, 99));
      const perRoundP50 = rounds.map((r, i) => percentile(r, 50) - percentile(direct[i]!, 50));
      const row = {
        path: p.name,
        rps,
        rpsRuns: w?.map((r) => Math.round(r.rps)),
        wrkP50ms: w ? median(w.map((r) => r.p50ms)) : undefined,
        wrkP99ms: w ? median(w.map((r) => r.p99ms)) : undefined,
        vsNginx: rps !== undefined && nginxRps ? rps / nginxRps : undefined,
        // CPU per request of the proxy processes: what one dedicated core would serve, less sensitive to a busy machine than req/s.
        cpuUsPerRequest: cpuOf(p.name),
        onOneCoreRps: cpuOf(p.name) ? 1e6 / cpuOf(p.name)! : undefined,
        onOneCoreVsNginx: cpuOf(p.name) && nginxCpu ? nginxCpu / cpuOf(p.name)! : undefined,
        at1000: {
          p50ms: p50,
          p99ms: p99,
          addedP50ms: p50 - dP50,
          addedP99ms: p99 - dP99,
          addedP50msMedianOfRounds: median(perRoundP50),
          addedP99msMedianOfRounds: median(perRoundP99),
          addedP99msRounds: perRoundP99.map((x) => Math.round(x * 1000) / 1000),
          samples: lat.length,
        },
      };
      rows.push(row);
      const fmt = (x: number) => x.toFixed(3);
      lines.push([
        p.name,
        rps === undefined ? '-' : Math.round(rps).toLocaleString('en-US'),
        row.vsNginx === undefined ? '-' : `${row.vsNginx.toFixed(2)}×`,
        row.cpuUsPerRequest === undefined ? '-' : row.cpuUsPerRequest.toFixed(1),
        row.onOneCoreVsNginx === undefined ? '-' : `${row.onOneCoreVsNginx.toFixed(2)}×`,
        row.wrkP50ms === undefined ? '-' : row.wrkP50ms.toFixed(2),
        row.wrkP99ms === undefined ? '-' : row.wrkP99ms.toFixed(2),
        fmt(p50),
        fmt(p99),
        p.name === 'direct' ? '-' : fmt(p50 - dP50),
        p.name === 'direct' ? '-' : fmt(p99 - dP99),
        p.name === 'direct' ? '-' : fmt(median(perRoundP99)),
      ]);
    }
    printGrid(
      `bench/proxy: ${SETTINGS.connections} connections (wrk -t1, ${SETTINGS.wrkSeconds}s × ${SETTINGS.rounds} rounds, median); latency at ${SETTINGS.rate} req/s open loop (raw keep-alive sockets, ${SETTINGS.rateWarmup} warm-up + ${SETTINGS.rateRounds} × ${SETTINGS.rateSlice} requests per path, paths interleaved)`,
      ['path', 'req/s', 'vs nginx', 'CPU µs/req', 'one core vs nginx', 'wrk p50 ms', 'wrk p99 ms', '@1k p50 ms', '@1k p99 ms', 'added p50 ms', 'added p99 ms', 'added p99 (median of rounds)'],
      lines,
    );
    for (const n of notes) console.log(`note: ${n}`);
    writeResults('proxy', { settings: SETTINGS, rows, notes });
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}
