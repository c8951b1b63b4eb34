// bench/tunnel: encrypted hops between two hosts' worth of processes, on
// loopback. The same traffic generator (this process) and the same sink
// (bench/tunnel-sink.ts, a child process) for every row:
//   plain TCP   generator → sink
//   node tls    generator → TLS 1.3 → sink (node:tls both ends)
//   stunnel4    generator → stunnel client → TLS 1.3 → stunnel server → sink
//   spiped      generator → spiped -e → spiped -d → sink
//   weft        generator → agent A client socket (+ handshake) → tunnel → agent B → sink on B's server socket
// Per row: bulk MB/s over one stream and over 16 streams (one direction,
// counted by the sink), 100-byte request/response round trip p50/p99 on one
// open stream. The rows take turns in rounds so machine noise falls on all
// alike; medians are reported. Then handshakes per second (X25519 node:crypto vs
// @noble/curves, full tunnel handshakes) and agent memory per idle stream.
// stunnel4 and spiped come from Debian (apt-get install when missing; a row is
// skipped with a message if that fails). Results: bench/results/tunnel.json.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { measure, printGrid, printTable, writeResults } from './lib.js';
import { encodeRequest } from '../src/kernel/handshake.js';
import { nodeX25519, nobleX25519 } from '../src/tunnel/x25519.js';
import { acceptTunnel, connectTunnel, generateIdentity } from '../src/tunnel/index.js';
import type { AeadEngineChoice } from '../src/tunnel/aead-engine.js';
import { RecordOpener, RecordSealer } from '../src/tunnel/record.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const SINK = fileURLToPath(new URL('./tunnel-sink.js', import.meta.url));
const scale = Math.min(1, Number(process.env.WEFT_BENCH_TIME ?? 300) / 300);
/**
 * WEFT_TUNNEL_ROWS=tcp,tls,stunnel,spiped,weft picks rows (default: all; `node-relay`, two
 * plain Node pipe relays without crypto, only when named); with the
 * weft row left out there is no memory measure, with WEFT_TUNNEL_PARTS=paths only the
 * path table runs (no memory, no handshakes), with WEFT_TUNNEL_PARTS=bulk1 (or bulk16, rtt)
 * only that phase of it — for profiling and quick comparisons. The row `weft` runs the
 * agents with their default records' AEAD engine (the WASM kernel), and by default the
 * opt-in `weft-auto` row beside it; `weft-wasm`, `weft-auto` and
 * `weft-native` with `tunnel.aead` set (each its own agent pair). WEFT_TUNNEL_PARTS=records
 * times sealing and opening one record by engine and size (CPU time, GC included).
 */
const DEFAULT_ROWS = 'tcp,tls,stunnel,spiped,weft,weft-auto';
const DEFAULT_PARTS = 'paths,memory,handshakes';
const ROWS = new Set((process.env.WEFT_TUNNEL_ROWS ?? DEFAULT_ROWS).split(',').map((x) => x.trim()));
const PARTS = new Set((process.env.WEFT_TUNNEL_PARTS ?? DEFAULT_PARTS).split(',').map((x) => x.trim()));
/**
 * Extra node flags for the agents, e.g. WEFT_TUNNEL_AGENT_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
 * The agents run as docs/tunnel.md recommends deploying them, with V8's incremental marking
 * off ("GC on the data path"); WEFT_TUNNEL_INCREMENTAL_MARKING=1 runs them with V8's default.
 */
const AGENT_FLAGS = [
  ...(process.env.WEFT_TUNNEL_INCREMENTAL_MARKING === '1' ? [] : ['--no-incremental-marking']),
  ...(process.env.WEFT_TUNNEL_AGENT_FLAGS ?? '').split(' ').filter(Boolean),
];
const C = {
  bulkBytes: Math.max(32, Math.round(256 * scale)) << 20,
  chunk: 64 << 10,
  parallel: 16,
  roundTrips: Number(process.env.WEFT_TUNNEL_RTT_COUNT ?? 0) || Math.max(500, Math.round(5000 * scale)),
  /** Round trips on each row's stream before timing: enough for the agents' JIT to settle after the bulk phases (docs/tunnel.md). */
  warmup: Number(process.env.WEFT_TUNNEL_RTT_WARMUP ?? 2000),
  /** Round trips per turn when the rows take turns. */
  rttBlock: 250,
  rounds: Number(process.env.WEFT_TUNNEL_ROUNDS ?? 0) || (scale < 1 ? 1 : 3),
  idleStreams: Math.max(200, Math.round(2000 * scale)),
  handshakes: Math.max(20, Math.round(100 * scale)),
};

interface Row {
  name: string;
  /** A stream to the sink, with the mode byte already sent. */
  open(mode: 'B' | 'E'): Promise<Socket>;
  stop(): Promise<void>;
  /** The processes between generator and sink (stunnel, spiped, weft agents): their CPU per byte is reported. */
  relays?: ChildProcess[];
}

const procs: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'weft-bench-tunnel-'));

function track(child: ChildProcess): ChildProcess {
  procs.push(child);
  child.stderr?.resume();
  return child;
}

/** Spawns and waits for the first stdout line matching pred (JSON). */
/** GCs a child reported on stdout (--trace-gc), by kind. */
const gcCounts = new Map<ChildProcess, { scavenges: number; markCompacts: number }>();
function gcCount(c: ChildProcess): { scavenges: number; markCompacts: number } {
  let g = gcCounts.get(c);
  if (!g) gcCounts.set(c, (g = { scavenges: 0, markCompacts: 0 }));
  return g;
}

async function spawnReady(cmd: string, args: string[], pred: (l: Record<string, unknown>) => boolean, env?: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; line: Record<string, unknown> }> {
  const child = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env }));
  let buf = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    // WEFT_TUNNEL_AGENT_LOG=dir: each child's stdout is also kept in dir/<pid>.log (e.g. --trace-deopt output).
    const log = process.env.WEFT_TUNNEL_AGENT_LOG ? join(process.env.WEFT_TUNNEL_AGENT_LOG, `${child.pid}.log`) : null;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      if (log) appendFileSync(log, d);
      buf += d;
      for (let nl; (nl = buf.indexOf('\n')) >= 0; ) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        // With WEFT_TUNNEL_AGENT_FLAGS=--trace-gc, the agents' GC lines are counted (gcCounts).
        if (text.includes('Scavenge')) gcCount(child).scavenges++;
        else if (text.includes('Mark-Compact')) gcCount(child).markCompacts++;
        if (!text.startsWith('{')) continue;
        const line = JSON.parse(text) as Record<string, unknown>;
        if (pred(line)) return resolve({ child, line });
      }
    });
    child.once('exit', (code) => reject(new Error(`${cmd} exited with ${code}: ${err}`)));
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function waitForPort(port: number, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const s = net.connect(port, '127.0.0.1');
      await once(s, 'connect');
      s.destroy();
      return;
    } catch {
      if (Date.now() > end) throw new Error(`nothing listens on ${port}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  c.kill('SIGTERM');
  return once(c, 'exit').then(() => undefined);
}

async function tcpOpen(port: number, mode: 'B' | 'E'): Promise<Socket> {
  const s = net.connect({ port, host: '127.0.0.1', noDelay: true, allowHalfOpen: true });
  await once(s, 'connect');
  s.write(mode);
  return s;
}

async function startSink(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const { child, line } = await spawnReady(process.execPath, [SINK, ...args], (l) => 'listening' in l);
  return { child, port: Number(line.listening) };
}

// ---------------------------------------------------------------- the rows

async function plainTcp(): Promise<Row> {
  const sink = await startSink(['--tcp', '0']);
  return { name: 'plain TCP', open: (m) => tcpOpen(sink.port, m), stop: () => stopChild(sink.child) };
}

function makeCert(): { cert: string; key: string } | null {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  if (existsSync(cert)) return { cert, key };
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  return r.status === 0 ? { cert, key } : null;
}

async function nodeTls(): Promise<Row | string> {
  const pem = makeCert();
  if (!pem) return 'openssl could not make a test certificate';
  const sink = await startSink(['--tls', '0', '--cert', pem.cert, '--key', pem.key]);
  return {
    name: 'node tls 1.3',
    open: async (mode) => {
      const s = tls.connect({ port: sink.port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1.3', allowHalfOpen: true } as tls.ConnectionOptions);
      await once(s, 'secureConnect');
      s.setNoDelay(true);
      s.write(mode);
      return s;
    },
    stop: () => stopChild(sink.child),
  };
}

function ensureTool(bin: string, pkg: string): boolean {
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0) return true;
  process.stderr.write(`bench tunnel: installing ${pkg} (apt-get)…\n`);
  spawnSync('sh', ['-c', `apt-get install -y ${pkg} >/dev/null 2>&1 || (apt-get update >/dev/null 2>&1 && apt-get install -y ${pkg} >/dev/null 2>&1)`]);
  return spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
}

async function stunnelPair(): Promise<Row | string> {
  if (!ensureTool('stunnel4', 'stunnel4')) return 'stunnel4 is not installed and apt-get could not install it';
  const pem = makeCert();
  if (!pem) return 'openssl could not make a test certificate';
  const sink = await startSink(['--tcp', '0']);
  const [front, back] = [await freePort(), await freePort()];
  const common = 'foreground = yes\npid =\nsocket = l:TCP_NODELAY=1\nsocket = r:TCP_NODELAY=1\ndebug = 3\n';
  const server = join(dir, 'stunnel-server.conf');
  const client = join(dir, 'stunnel-client.conf');
  writeFileSync(server, `${common}[srv]\naccept = 127.0.0.1:${back}\nconnect = 127.0.0.1:${sink.port}\ncert = ${pem.cert}\nkey = ${pem.key}\nsslVersionMin = TLSv1.3\n`);
  writeFileSync(client, `${common}[cli]\nclient = yes\naccept = 127.0.0.1:${front}\nconnect = 127.0.0.1:${back}\nsslVersionMin = TLSv1.3\n`);
  const a = track(spawn('stunnel4', [server], { stdio: ['ignore', 'ignore', 'pipe'] }));
  const b = track(spawn('stunnel4', [client], { stdio: ['ignore', 'ignore', 'pipe'] }));
  await Promise.all([waitForPort(back), waitForPort(front)]);
  return { name: 'stunnel4 pair', relays: [a, b], open: (m) => tcpOpen(front, m), stop: async () => void (await Promise.all([stopChild(a), stopChild(b), stopChild(sink.child)])) };
}

async function spipedPair(): Promise<Row | string> {
  if (!ensureTool('spiped', 'spiped')) return 'spiped is not installed and apt-get could not install it';
  const sink = await startSink(['--tcp', '0']);
  const key = join(dir, 'spiped.key');
  writeFileSync(key, randomBytes(32), { mode: 0o600 });
  const [front, back] = [await freePort(), await freePort()];
  const d = track(spawn('spiped', ['-F', '-d', '-s', `[127.0.0.1]:${back}`, '-t', `[127.0.0.1]:${sink.port}`, '-k', key, '-n', '64'], { stdio: ['ignore', 'ignore', 'pipe'] }));
  const e = track(spawn('spiped', ['-F', '-e', '-s', `[127.0.0.1]:${front}`, '-t', `[127.0.0.1]:${back}`, '-k', key, '-n', '64'], { stdio: ['ignore', 'ignore', 'pipe'] }));
  await Promise.all([waitForPort(back), waitForPort(front)]);
  return { name: 'spiped pair', relays: [d, e], open: (m) => tcpOpen(front, m), stop: async () => void (await Promise.all([stopChild(d), stopChild(e), stopChild(sink.child)])) };
}

const RELAY = fileURLToPath(new URL('./tunnel-relay.js', import.meta.url));

/** Optional row `node-relay`: two plain Node pipe relays (Unix → TCP → Unix, like weft's sockets), no crypto. */
async function nodeRelayPair(): Promise<Row> {
  const sinkPath = join(dir, 'relay-sink.sock');
  const sink = await spawnReady(process.execPath, [SINK, '--unix', sinkPath], (l) => 'listening' in l);
  const second = await spawnReady(process.execPath, [RELAY, '--listen-tcp', '0', '--to-unix', sinkPath], (l) => 'listening' in l);
  const front = join(dir, 'relay-front.sock');
  const first = await spawnReady(process.execPath, [RELAY, '--listen-unix', front, '--to-tcp', String(second.line.listening)], (l) => 'listening' in l);
  const open = async (mode: 'B' | 'E'): Promise<Socket> => {
    const s = net.connect({ path: front, allowHalfOpen: true });
    await once(s, 'connect');
    s.write(mode);
    return s;
  };
  return { name: 'node relay pair (no crypto)', relays: [first.child, second.child], open, stop: async () => void (await Promise.all([first.child, second.child, sink.child].map(stopChild))) };
}

interface WeftAgents {
  row: Row;
  admin: { a: string; b: string };
  clientSocket: string;
}

async function startWeftAgent(name: string, config: Record<string, unknown>, expose: boolean, cli = CLI, flags: string[] = []): Promise<{ child: ChildProcess; line: Record<string, unknown> }> {
  const d = join(dir, name);
  mkdirSync(join(d, 'meshlets'), { recursive: true });
  writeFileSync(join(d, 'secret'), 'bench cluster secret', { mode: 0o600 });
  const file = join(d, 'agent.yaml');
  writeFileSync(file, stringify({ socketRoot: join(d, 's'), admin: { host: '127.0.0.1', port: 0 }, meshlets: { paths: [join(d, 'meshlets')], watch: false }, ...config }));
  const env = { ...process.env, ...(expose ? { NODE_OPTIONS: '--expose-gc' } : {}) };
  return spawnReady(process.execPath, [...AGENT_FLAGS, ...flags, cli, 'agent', '--config', file], (l) => l.msg === 'agent ready', env);
}

async function weftPair(engine?: AeadEngineChoice, cli = CLI, label = '', flags: string[] = []): Promise<WeftAgents> {
  const meshlet = (n: string, spec: Record<string, unknown>) => ({ apiVersion: 'weft.dev/v1alpha1', kind: 'Meshlet', metadata: { name: n, namespace: 'bench' }, spec });
  const tag = (engine ? `-${engine}` : '') + (label ? `-${label}` : '');
  const aead = engine ? { aead: engine } : {};
  const bDir = join(dir, 'b' + tag);
  const bConf = { tunnel: { name: 'b', listen: '127.0.0.1:0', identityFile: join(bDir, 'id.json'), secretFile: join(bDir, 'secret'), ...aead } };
  mkdirSync(join(bDir, 'meshlets'), { recursive: true });
  writeFileSync(join(bDir, 'meshlets', 'svc.yaml'), stringify(meshlet('svc', { provides: ['sink'] })));
  const b = await startWeftAgent('b' + tag, bConf, true, cli, flags);
  const sinkPath = join(bDir, 's', 'bench', 'svc', 'main', 'server', 'sink');
  mkdirSync(join(bDir, 's', 'bench', 'svc', 'main', 'server'), { recursive: true });
  const sink = await startSink(['--unix', sinkPath]);
  const aDir = join(dir, 'a' + tag);
  mkdirSync(join(aDir, 'meshlets'), { recursive: true });
  writeFileSync(join(aDir, 'meshlets', 'app.yaml'), stringify(meshlet('app', { uses: ['sink.svc.bench'] })));
  const a = await startWeftAgent(
    'a' + tag,
    {
      limits: { maxConnections: 100_000, maxPendingHandshakes: 10_000 },
      tunnel: {
        name: 'a',
        listen: '127.0.0.1:0',
        identityFile: join(aDir, 'id.json'),
        secretFile: join(aDir, 'secret'),
        peers: [{ name: 'b', address: String(b.line.tunnel), publicKey: String(b.line.publicKey), services: ['sink.svc.bench'] }],
        ...aead,
      },
    },
    true,
    cli,
    flags,
  );
  const clientSocket = join(aDir, 's', 'bench', 'app', 'main', 'client', 'meshless');
  const request = Buffer.from(encodeRequest('sink.svc.bench'));
  const open = async (mode: 'B' | 'E'): Promise<Socket> => {
    const s = net.connect({ path: clientSocket, allowHalfOpen: true });
    await once(s, 'connect');
    s.write(request);
    const [reply] = (await once(s, 'data')) as [Buffer];
    if (reply[0] !== 1 || reply[1] !== 0) throw new Error(`weft handshake reply ${reply[1]}`);
    s.write(mode);
    return s;
  };
  return {
    row: { name: `weft agent A → B${engine ? ` (${engine})` : ''}${label ? ` (${label})` : ''}`, relays: [a.child, b.child], open, stop: async () => void (await Promise.all([stopChild(a.child), stopChild(b.child), stopChild(sink.child)])) },
    admin: { a: String(a.line.admin), b: String(b.line.admin) },
    clientSocket,
  };
}

// ---------------------------------------------------------------- the traffic

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (Linux; the
 * whole thread group, threads that exited included — stunnel runs a thread per connection);
 * NaN elsewhere. 10 ms ticks: fine for the bulk runs' seconds.
 */
function cpuSeconds(c: ChildProcess): number {
  try {
    const f = readFileSync(`/proc/${c.pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}

/**
 * Seconds on CPU and seconds runnable but waiting for a CPU (run-queue wait), summed over the
 * process's live threads, from /proc/<pid>/task/<tid>/schedstat (nanoseconds, Linux): precise
 * enough for the round trips' microseconds. Read while the streams are open (a stunnel
 * connection's thread exits with it). NaN where there is no schedstat.
 */
function schedStat(c: ChildProcess): { run: number; wait: number } {
  try {
    let run = 0;
    let wait = 0;
    for (const t of readdirSync(`/proc/${c.pid}/task`)) {
      try {
        const [r, w] = readFileSync(`/proc/${c.pid}/task/${t}/schedstat`, 'utf8').split(' ');
        run += Number(r);
        wait += Number(w);
      } catch {
        // the thread exited meanwhile
      }
    }
    return { run: run / 1e9, wait: wait / 1e9 };
  } catch {
    return { run: NaN, wait: NaN };
  }
}

/** Relay CPU per GB moved in each bulk run, per relay process (first hop, second hop), by `<row>/<streams>`. */
const relayCpu = new Map<string, number[][]>();

/** Sends `bytes` on each of `streams` streams at once; MB/s from first byte to the sink's last count. */
async function bulk(row: Row, bytes: number, streams: number): Promise<number> {
  const relays = row.relays ?? [];
  const cpu0 = relays.map(cpuSeconds);
  const gc0 = relays.map((c) => ({ ...gcCount(c) }));
  const block = randomBytes(C.chunk);
  const sockets = await Promise.all(Array.from({ length: streams }, () => row.open('B')));
  const per = Math.floor(bytes / streams);
  const started = performance.now();
  const counts = await Promise.all(
    sockets.map(async (s) => {
      const reply: Buffer[] = [];
      s.on('data', (c: Buffer) => reply.push(c));
      const ended = once(s, 'end');
      for (let sent = 0; sent < per; sent += C.chunk) if (!s.write(block)) await once(s, 'drain');
      s.end();
      await ended;
      s.destroy();
      return Number(Buffer.concat(reply).toString());
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const expected = Math.ceil(per / C.chunk) * C.chunk + 0;
  for (const n of counts) if (n !== expected) throw new Error(`${row.name}: the sink counted ${n} bytes, not ${expected}`);
  if (relays.length > 0) {
    const key = `${row.name}/${streams}`;
    const list = relayCpu.get(key) ?? [];
    list.push(relays.map((c, i) => (cpuSeconds(c) - cpu0[i]!) / ((expected * streams) / 1e9)));
    relayCpu.set(key, list);
    const gc = relays.map((c, i) => `${gcCount(c).scavenges - gc0[i]!.scavenges}/${gcCount(c).markCompacts - gc0[i]!.markCompacts}`);
    if (AGENT_FLAGS.includes('--trace-gc')) progress(`${row.name}, ${streams} stream(s): GCs per relay (scavenges/mark-compacts) ${gc.join(' + ')}`);
  }
  return (expected * streams) / seconds / 1e6;
}

/** Percentile q (0..1) of ascending `sorted`: the same nearest-rank rule for every row. */
function pct(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

/** Every round trip of a row over all rounds (µs), relay CPU µs per round trip and GCs during the phase. */
const rttDetail = new Map<string, { times: number[]; cpuUs: number[][]; waitUs: number[][]; gcs: string[] }>();

/** One row's round-trip client: one open stream, one 100-byte write at a time, waits for the 100 bytes back. */
interface RttClient {
  row: Row;
  /** Runs n round trips; their times (µs) are appended to `times` when given. */
  run(n: number, times: number[] | null): Promise<void>;
  close(): void;
}

async function rttClient(row: Row): Promise<RttClient> {
  const s = await row.open('E');
  const msg = randomBytes(100);
  let have = 0;
  let wake: (() => void) | null = null;
  s.on('data', (c: Buffer) => {
    have += c.length;
    if (have >= 100 && wake) wake();
  });
  return {
    row,
    async run(n, times) {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const got = new Promise<void>((r) => (wake = r));
        s.write(msg);
        if (have < 100) await got;
        have -= 100;
        wake = null;
        if (times) times.push((performance.now() - t0) * 1000);
      }
    },
    close: () => s.destroy(),
  };
}

/**
 * 100-byte request/response round trips, every row in one phase: each row's stream is
 * warmed up (C.warmup round trips), then the rows take turns (forward, backward, …) in
 * blocks of C.rttBlock round trips until each has C.roundTrips, so that a burst of load from elsewhere on
 * the machine falls on every row alike rather than on whichever row ran at that moment.
 * The same generator for every row, and the same percentile rule (pct). Returns
 * p50/p99 per row (µs).
 */
async function roundTrips(rows: Row[]): Promise<Map<string, { p50: number; p99: number }>> {
  const clients: RttClient[] = [];
  for (const r of rows) clients.push(await rttClient(r));
  for (const c of clients) await c.run(C.warmup, null);
  const times = clients.map(() => [] as number[]);
  const sched0 = clients.map((c) => (c.row.relays ?? []).map(schedStat));
  const gc0 = clients.map((c) => (c.row.relays ?? []).map((p) => ({ ...gcCount(p) })));
  // Every other turn in reverse order: no row always runs right after the same other row
  // (the row after stunnel4's block measured a few % more CPU per round trip, whichever it was).
  for (let done = 0, turn = 0; done < C.roundTrips; done += C.rttBlock, turn++) {
    for (let j = 0; j < clients.length; j++) {
      const k = turn % 2 === 0 ? j : clients.length - 1 - j;
      await clients[k]!.run(Math.min(C.rttBlock, C.roundTrips - done), times[k]!);
    }
  }
  const sched1 = clients.map((c) => (c.row.relays ?? []).map(schedStat));
  const out = new Map<string, { p50: number; p99: number }>();
  clients.forEach((c, k) => {
    c.close();
    const t = times[k]!;
    if (process.env.WEFT_TUNNEL_RTT_DECILES === '1') {
      // Where the slow round trips fall in the run (tenths): clustered at the start means warm-up (JIT), spread means load.
      const slow = pct([...t].sort((a, b) => a - b), 0.99);
      const tenths = new Array<number>(10).fill(0);
      t.forEach((x, i) => x >= slow && tenths[Math.floor((i * 10) / t.length)]!++);
      progress(`${c.row.name}: round trips ≥ p99 (${slow.toFixed(0)} µs) by tenth of the run: ${tenths.join(' ')}`);
    }
    const relays = c.row.relays ?? [];
    const d = rttDetail.get(c.row.name) ?? { times: [], cpuUs: [], waitUs: [], gcs: [] };
    rttDetail.set(c.row.name, d);
    d.times.push(...t);
    if (relays.length > 0) {
      const now = sched1[k]!;
      d.cpuUs.push(now.map((x, i) => ((x.run - sched0[k]![i]!.run) * 1e6) / C.roundTrips));
      d.waitUs.push(now.map((x, i) => ((x.wait - sched0[k]![i]!.wait) * 1e6) / C.roundTrips));
      d.gcs.push(relays.map((p, i) => `${gcCount(p).scavenges - gc0[k]![i]!.scavenges}/${gcCount(p).markCompacts - gc0[k]![i]!.markCompacts}`).join(' + '));
    }
    t.sort((a, b) => a - b);
    out.set(c.row.name, { p50: pct(t, 0.5), p99: pct(t, 0.99) });
  });
  return out;
}

/** The round trips' distribution per row, all rounds pooled: percentiles, a log2 histogram, relay CPU per round trip. */
function printRttDistribution(): void {
  const edges = [50, 100, 200, 400, 800, 1600, 3200, 6400];
  const rows: string[][] = [];
  for (const [name, d] of rttDetail) {
    const t = [...d.times].sort((a, b) => a - b);
    const hist = new Array<number>(edges.length + 1).fill(0);
    for (const x of t) {
      let b = 0;
      while (b < edges.length && x >= edges[b]!) b++;
      hist[b]!++;
    }
    const med = (xs: number[][]) => (xs.length ? xs[0]!.map((_, i) => median(xs.map((r) => r[i]!)).toFixed(1)).join(' + ') : '-');
    rows.push([name, ...[0.5, 0.9, 0.99, 0.999].map((q) => pct(t, q).toFixed(0)), t[t.length - 1]!.toFixed(0), hist.join(' '), med(d.cpuUs), med(d.waitUs), d.gcs.join(', ') || '-']);
  }
  printGrid(
    'round trips, all rounds pooled (µs); histogram buckets <50 <100 <200 <400 <800 <1600 <3200 <6400 ≥6400',
    ['path', 'p50', 'p90', 'p99', 'p99.9', 'max', 'histogram', 'relay CPU µs/RT (hop 1 + 2)', 'relay run-queue wait µs/RT', 'GCs per round (scav/mc, --trace-gc)'],
    rows,
  );
}

const progress = (msg: string) => process.stderr.write(`bench tunnel: ${msg}\n`);
const median = (xs: number[]) => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!);
/** A path phase runs with 'paths', or alone when named (WEFT_TUNNEL_PARTS=bulk1, bulk16, rtt). */
const phase = (name: 'bulk1' | 'bulk16' | 'rtt') => PARTS.has('paths') || PARTS.has(name);

// ---------------------------------------------------------------- handshakes and memory

async function handshakeRates(): Promise<Record<string, number>> {
  const a = nodeX25519.generateKeyPair();
  const b = nodeX25519.generateKeyPair();
  const na = nobleX25519.keyPairFromPrivate(a.privateKey);
  // Cross-check before timing: both give the same shared secret.
  if (Buffer.compare(Buffer.from(nodeX25519.dh(a, b.publicKey)), Buffer.from(nobleX25519.dh(na, b.publicKey))) !== 0) throw new Error('X25519 implementations disagree');
  const rows = await measure([
    { group: 'X25519 dh', name: 'node:crypto', fn: () => nodeX25519.dh(a, b.publicKey) },
    { group: 'X25519 dh', name: '@noble/curves', fn: () => nobleX25519.dh(na, b.publicKey) },
  ]);
  printTable('X25519 shared secret', rows, 'node:crypto');
  // Full tunnel handshakes (4 DH per side, Noise hashing, TCP connect) over loopback, both ends here.
  const out: Record<string, number> = { 'X25519 node:crypto dh/s': rows[0]!.opsPerSec, 'X25519 @noble dh/s': rows[1]!.opsPerSec };
  for (const [label, x] of [['node:crypto', nodeX25519], ['@noble/curves', nobleX25519]] as const) {
    const server = net.createServer((sock) => void acceptTunnel(sock, { identity: serverId, psk: 'x', x25519: x }).then((s) => s.destroy(), () => {}));
    const serverId = generateIdentity();
    const clientId = generateIdentity();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const n = label === 'node:crypto' ? C.handshakes : Math.max(10, Math.round(C.handshakes / 5));
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const sock = net.connect(port, '127.0.0.1');
      await once(sock, 'connect');
      const s = await connectTunnel(sock, { identity: clientId, psk: 'x', x25519: x });
      s.destroy();
    }
    out[`tunnel handshakes/s (${label}, both ends in one process)`] = n / ((performance.now() - t0) / 1000);
    server.close();
  }
  return out;
}

/**
 * Seal + open of one record by AEAD engine and plaintext size, in CPU time of this
 * process (GC, including its helper threads, counted): where node:crypto starts to win.
 */
function recordEngines(): Record<string, Record<string, number>> {
  const key = randomBytes(32);
  const out = Buffer.allocUnsafe(20_000);
  const rows: string[][] = [];
  const result: Record<string, Record<string, number>> = {};
  const policy = { afterRecords: 1 << 30, afterMs: 1e12 };
  for (const size of [256, 1024, 4096, 8192, 12288, 16384, 16896]) {
    const plain = randomBytes(size);
    const mbs: Record<string, number> = {};
    for (const engine of ['wasm', 'native', 'wasm', 'native'] as const) {
      const sealer = new RecordSealer(key, policy, 0, undefined, engine);
      const opener = new RecordOpener(key, undefined, { transient: true, engine });
      const sink = () => true;
      const iters = Math.max(200, Math.round((1e8 * scale) / 3 / (size + 300)));
      const step = () => {
        sealer.kernel.io.set(plain);
        const n = sealer.sealFromIo(size, out, 0, 0);
        if (!opener.feed(out.subarray(0, n), sink)) throw new Error('record did not open');
      };
      for (let i = 0; i < 50; i++) step();
      const t0 = process.cpuUsage();
      for (let i = 0; i < iters; i++) step();
      const t = process.cpuUsage(t0);
      const v = (size * iters) / ((t.user + t.system) / 1e6) / 1e6;
      mbs[engine] = Math.max(mbs[engine] ?? 0, v);
    }
    result[String(size)] = mbs;
    rows.push([String(size), mbs.wasm!.toFixed(0), mbs.native!.toFixed(0), (mbs.native! / mbs.wasm!).toFixed(2)]);
  }
  printGrid('one record sealed + opened, CPU-time MB/s (best of 2, alternated)', ['plaintext bytes', 'wasm kernel', 'node:crypto', 'native / wasm'], rows);
  return result;
}

async function agentMemory(admin: string): Promise<{ heapUsed: number; arrayBuffers: number; rss: number; external: number }> {
  const res = await fetch(admin + '/debug/memory');
  return ((await res.json()) as { memory: { heapUsed: number; arrayBuffers: number; rss: number; external: number } }).memory;
}

/** Opens n idle streams A → B, measures both agents' memory, closes them. */
async function idleStreamMemory(w: WeftAgents, n: number): Promise<Record<string, number>> {
  // Warm up first (code compiled, pools and the session's tables grown once), so that what is
  // measured is what each further stream costs, not one-time costs spread over n streams.
  const warm = await Promise.all(Array.from({ length: 100 }, () => w.row.open('E')));
  await Promise.all(warm.map((s) => (s.destroy(), once(s, 'close'))));
  const base = { a: await agentMemory(w.admin.a), b: await agentMemory(w.admin.b) };
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i += 100) sockets.push(...(await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => w.row.open('E')))));
  const held = { a: await agentMemory(w.admin.a), b: await agentMemory(w.admin.b) };
  // Diagnostics: hold the idle streams open (e.g. for heap snapshots with
  // WEFT_TUNNEL_AGENT_FLAGS=--heapsnapshot-signal=SIGUSR2) before closing them.
  const holdMs = Number(process.env.WEFT_TUNNEL_MEMORY_HOLD_MS ?? 0);
  if (holdMs > 0) {
    console.log(`holding ${n} idle streams for ${holdMs} ms (agent pids ${w.row.relays?.map((c) => c.pid).join(', ')})`);
    await new Promise((r) => setTimeout(r, holdMs));
  }
  for (const s of sockets) s.destroy();
  if (holdMs > 0) {
    console.log(`closed them; holding for ${holdMs} ms`);
    await new Promise((r) => setTimeout(r, holdMs));
  }
  const per = (k: 'a' | 'b', f: 'heapUsed' | 'arrayBuffers' | 'rss') => (held[k][f] - base[k][f]) / n;
  return {
    streams: n,
    'agent A heap bytes/stream': per('a', 'heapUsed'),
    'agent A buffers bytes/stream': per('a', 'arrayBuffers'),
    'agent A rss bytes/stream': per('a', 'rss'),
    'agent B heap bytes/stream': per('b', 'heapUsed'),
    'agent B buffers bytes/stream': per('b', 'arrayBuffers'),
    'agent B rss bytes/stream': per('b', 'rss'),
  };
}

// ---------------------------------------------------------------- run

export async function run(): Promise<void> {
  const results: Record<string, unknown> = { counts: C };
  // An interrupted run must not leave sinks, relays or agents behind.
  const onSignal = (signal: NodeJS.Signals) => {
    for (const c of procs) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const rows: Row[] = [];
    const skipped: Record<string, string> = {};
    progress(`starting the paths (weft agents run with node flags: ${AGENT_FLAGS.join(' ') || 'none'})`);
    if (ROWS.has('tcp')) rows.push(await plainTcp());
    for (const [key, name, make] of [['tls', 'node tls 1.3', nodeTls], ['stunnel', 'stunnel4 pair', stunnelPair], ['spiped', 'spiped pair', spipedPair]] as const) {
      if (!ROWS.has(key)) continue;
      const r = await make();
      if (typeof r === 'string') {
        skipped[name] = r;
        process.stderr.write(`bench tunnel: row ${name} skipped: ${r}\n`);
      } else rows.push(r);
      progress(`${name} ready`);
    }
    if (ROWS.has('node-relay')) rows.push(await nodeRelayPair());
    const weft = ROWS.has('weft') ? await weftPair() : null;
    if (weft) {
      rows.push(weft.row);
      progress('weft agents ready');
    }
    // A/B comparisons of builds in one run: WEFT_TUNNEL_BASELINE_CLI=/copy/of/dist/src/cli.js adds
    // the row `weft agent A → B (baseline)`, an agent pair started from that build (several:
    // label=path,label=path).
    for (const item of (process.env.WEFT_TUNNEL_BASELINE_CLI ?? '').split(',').filter(Boolean)) {
      const [label, cli] = item.includes('=') ? (item.split('=') as [string, string]) : ['baseline', item];
      rows.push((await weftPair(undefined, cli, label)).row);
      progress(`weft agents (${label} build) ready`);
    }
    // Node flags compared side by side: WEFT_TUNNEL_FLAG_ROWS="stgc=--single-threaded-gc;semi=--max-semi-space-size=32"
    // adds an agent pair per entry, this build with those flags on top of the usual ones.
    for (const item of (process.env.WEFT_TUNNEL_FLAG_ROWS ?? '').split(';').filter(Boolean)) {
      const [label, flags] = item.split('=', 2) as [string, string];
      rows.push((await weftPair(undefined, CLI, label, item.slice(label.length + 1).split(' ').filter(Boolean))).row);
      progress(`weft agents (${label}: ${flags}) ready`);
    }
    let firstWeft = weft;
    for (const engine of ['wasm', 'auto', 'native'] as const) {
      if (!ROWS.has(`weft-${engine}`)) continue;
      const w = await weftPair(engine);
      rows.push(w.row);
      firstWeft ??= w;
      progress(`weft agents (${engine}) ready`);
    }

    const samples = new Map<string, { one: number[]; many: number[]; p50: number[]; p99: number[] }>();
    for (const r of rows) samples.set(r.name, { one: [], many: [], p50: [], p99: [] });
    for (let round = 0; round < C.rounds; round++) {
      for (const r of rows) {
        const s = samples.get(r.name)!;
        progress(`round ${round + 1}: ${r.name}`);
        if (phase('bulk1')) s.one.push(await bulk(r, C.bulkBytes, 1));
        if (phase('bulk16')) s.many.push(await bulk(r, C.bulkBytes, C.parallel));
      }
      if (phase('rtt')) {
        progress(`round ${round + 1}: round trips, rows in turns`);
        const rt = await roundTrips(rows);
        for (const r of rows) {
          samples.get(r.name)!.p50.push(rt.get(r.name)!.p50);
          samples.get(r.name)!.p99.push(rt.get(r.name)!.p99);
        }
      }
    }
    const table = rows.map((r) => {
      const s = samples.get(r.name)!;
      const cpu = (n: number) => {
        const runs = relayCpu.get(`${r.name}/${n}`);
        return runs ? runs[0]!.map((_, i) => median(runs.map((x) => x[i]!))) : null;
      };
      return { name: r.name, bulk1MBs: median(s.one), bulk16MBs: median(s.many), rttP50us: median(s.p50), rttP99us: median(s.p99), relayCpuSecondsPerGB: cpu(1), relayCpuSecondsPerGB16: cpu(C.parallel), samples: s };
    });
    printGrid(
      `tunnel: loopback, same generator and sink (bulk ${C.bulkBytes >> 20} MiB per run, ${C.roundTrips} round trips, median of ${C.rounds} rounds)`,
      ['path', 'bulk 1 stream MB/s', `bulk ${C.parallel} streams MB/s`, 'RTT p50 µs', 'RTT p99 µs', 'relay CPU s/GB 1 stream (hop 1 + 2)', `relay CPU s/GB ${C.parallel} streams`],
      table.map((t) => [t.name, t.bulk1MBs.toFixed(0), t.bulk16MBs.toFixed(0), t.rttP50us.toFixed(0), t.rttP99us.toFixed(0), ...[t.relayCpuSecondsPerGB, t.relayCpuSecondsPerGB16].map((c) => (c === null ? '-' : c.map((x) => x.toFixed(2)).join(' + ')))]),
    );
    if (phase('rtt')) printRttDistribution();
    for (const [name, why] of Object.entries(skipped)) process.stdout.write(`  (${name} skipped: ${why})\n`);
    results.paths = table;
    results.skipped = skipped;

    const memory = firstWeft && PARTS.has('memory') ? await idleStreamMemory(firstWeft, C.idleStreams) : null;
    if (memory) {
      printGrid('agent memory per idle stream (A: client socket + splice + tunnel stream; B: tunnel stream + splice + server socket)', ['measure', 'value'], Object.entries(memory).map(([k, v]) => [k, v.toFixed(0)]));
      results.idleStreamMemory = memory;
    }

    const stunnel = table.find((t) => t.name === 'stunnel4 pair');
    const w = weft ? table.find((t) => t.name === weft.row.name) : undefined;
    if (stunnel && w && memory) {
      results.targets = {
        'weft bulk 1 stream ≥ stunnel4': w.bulk1MBs >= stunnel.bulk1MBs,
        'weft bulk 16 streams ≥ stunnel4': w.bulk16MBs >= stunnel.bulk16MBs,
        'weft RTT p50 ≤ stunnel4': w.rttP50us <= stunnel.rttP50us,
        'weft RTT p99 ≤ stunnel4': w.rttP99us <= stunnel.rttP99us,
        // Heap plus Buffer memory per stream (a negative Buffer delta is GC noise and counts as 0), per agent.
        'agent A memory per idle stream < 4 KiB': memory['agent A heap bytes/stream']! + Math.max(0, memory['agent A buffers bytes/stream']!) < 4096,
        'agent B memory per idle stream < 4 KiB': memory['agent B heap bytes/stream']! + Math.max(0, memory['agent B buffers bytes/stream']!) < 4096,
      };
      printGrid('targets', ['target', 'met'], Object.entries(results.targets as Record<string, boolean>).map(([k, v]) => [k, v ? 'yes' : 'NO']));
    }
    for (const r of rows) await r.stop();

    if (PARTS.has('records')) results.records = recordEngines();
    if (PARTS.has('handshakes')) {
      results.handshakes = await handshakeRates();
      printGrid('handshakes', ['measure', 'per second'], Object.entries(results.handshakes as Record<string, number>).map(([k, v]) => [k, v.toFixed(0)]));
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.all(procs.map(stopChild));
    rmSync(dir, { recursive: true, force: true });
  }
  // A partial run (rows or parts picked) does not replace the full results.
  const full = process.env.WEFT_TUNNEL_ROWS === undefined && process.env.WEFT_TUNNEL_PARTS === undefined;
  writeResults(full ? 'tunnel' : 'tunnel-partial', results);
}
