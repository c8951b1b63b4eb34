// bench/agent: the node agent's data path, end to end with real processes.
// Three ways to reach the same echo service (a `weft serve-echo` child process):
//   direct   client → server socket
//   socat    client → socat relay (UNIX-LISTEN,fork → UNIX-CONNECT) → server socket
//   agent    client → agent client socket (+ handshake) → server socket
// For each: connections (+ handshake) per second, 100-byte request/response round
// trip p50/p99, and bulk MB/s (echoed, so every byte crosses the hop twice).
// Bounded loops; WEFT_BENCH_TIME scales the counts down for a quick run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { assertSameBytes, printGrid, writeResults } from './lib.js';
import { encodeRequest } from '../src/kernel/handshake.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const scale = Math.min(1, Number(process.env.WEFT_BENCH_TIME ?? 300) / 300);
const COUNTS = {
  connections: Math.max(200, Math.round(3000 * scale)),
  connectionConcurrency: 8,
  roundTrips: Math.max(1000, Math.round(20000 * scale)),
  warmupRoundTrips: 1000,
  bulkBytes: Math.max(16, Math.round(256 * scale)) * 1024 * 1024,
  bulkChunk: 64 * 1024,
  /** The paths take turns in this many rounds, so machine noise hits them alike. */
  rounds: 5,
};

interface Path {
  name: string;
  /** Opens a stream to the echo service, ready for bytes. */
  open(): Promise<Socket>;
}

function rawConnect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ path, allowHalfOpen: true, noDelay: true } as never);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Reads exactly n bytes (concatenated) from a socket in flowing mode. */
function readExactly(s: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer) => {
      parts.push(c);
      got += c.length;
      if (got >= n) {
        s.off('data', onData);
        s.off('error', reject);
        const all = Buffer.concat(parts);
        if (all.length > n) s.unshift(all.subarray(n));
        resolve(all.subarray(0, n));
      }
    };
    s.on('data', onData);
    s.once('error', reject);
  });
}

async function agentConnect(clientSocket: string, serviceId: string): Promise<Socket> {
  const s = await rawConnect(clientSocket);
  s.write(encodeRequest(serviceId));
  const reply = await readExactly(s, 2);
  if (reply[0] !== 1 || reply[1] !== 0) throw new Error(`agent replied ${reply[1]}`);
  return s;
}

/** `count` streams: connect (+handshake), one byte echoed, close. Reports streams per second. */
async function connectionsPerSecond(p: Path, count: number): Promise<number> {
  let left = count;
  const one = Buffer.from([42]);
  const worker = async () => {
    while (left-- > 0) {
      const s = await p.open();
      s.write(one);
      await readExactly(s, 1);
      s.end();
      s.destroy();
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: COUNTS.connectionConcurrency }, worker));
  return count / ((performance.now() - started) / 1000);
}

/** Sequential 100-byte ping-pong on an open stream: `n` round trips after `warmup`; microseconds each. */
async function roundTrips(s: Socket, n: number, warmup: number): Promise<number[]> {
  const msg = Buffer.alloc(100, 7);
  const total = warmup + n;
  const samples: number[] = [];
  await new Promise<void>((resolve, reject) => {
    let i = 0;
    let got = 0;
    let t0 = 0;
    const send = () => {
      t0 = performance.now();
      s.write(msg);
    };
    const onData = (c: Buffer) => {
      got += c.length;
      if (got < 100) return;
      got -= 100;
      if (i >= warmup) samples.push((performance.now() - t0) * 1000);
      if (++i === total) {
        s.off('data', onData);
        s.off('error', reject);
        return resolve();
      }
      send();
    };
    s.on('data', onData);
    s.once('error', reject);
    send();
  });
  return samples;
}

/** Writes `bytes` with backpressure while reading the echo; MB/s of payload. */
async function bulk(p: Path, bytes: number): Promise<number> {
  const s = await p.open();
  const chunk = Buffer.alloc(COUNTS.bulkChunk, 0x5a);
  const started = performance.now();
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    s.on('data', (c: Buffer) => {
      received += c.length;
      if (received >= bytes) resolve();
    });
    s.once('error', reject);
  });
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!s.write(chunk)) await once(s, 'drain');
  }
  await done;
  const seconds = (performance.now() - started) / 1000;
  s.destroy();
  return bytes / 1e6 / seconds;
}

const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

function haveSocat(): boolean {
  const which = () => spawnSync('sh', ['-c', 'command -v socat'], { encoding: 'utf8' }).status === 0;
  if (which()) return true;
  console.log('socat not found; installing it with apt-get (Debian package socat)...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', 'socat'], { stdio: 'inherit', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', 'socat'], { stdio: 'inherit', env });
  }
  return which();
}

/** Spawns a child and resolves when a stdout line matches. */
async function spawnUntil(cmd: string, args: string[], ready: (line: string) => boolean): Promise<{ child: ChildProcess; line: string }> {
  // stderr (the agent's banner) is kept and shown only if the child dies early.
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      for (const line of buf.split('\n')) if (ready(line)) return resolve({ child, line });
    });
    child.once('exit', (code) => reject(new Error(`${cmd} exited with ${code} before ready:\n${stderr}`)));
  });
}

async function waitForSocket(path: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (existsSync(path)) {
      try {
        (await rawConnect(path)).destroy();
        return;
      } catch {
        // not accepting yet
      }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${path} never accepted connections`);
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  const children: ChildProcess[] = [];
  try {
    const root = join(dir, 's');
    const meshlets = join(dir, 'meshlets');
    mkdirSync(meshlets, { recursive: true });
    const m = (name: string, spec: object) => stringify({ apiVersion: 'weft.dev/v1alpha1', kind: 'Meshlet', metadata: { name, namespace: 'bench' }, spec });
    writeFileSync(join(meshlets, 'm.yaml'), `${m('client', { uses: ['echo.server.bench'] })}---\n${m('server', { provides: ['echo'] })}`);
    writeFileSync(
      join(dir, 'agent.yaml'),
      stringify({ socketRoot: root, admin: { port: 0 }, meshlets: { paths: [meshlets], watch: false }, limits: { maxConnections: 100000, maxPendingHandshakes: 10000 } }),
    );
    const agent = await spawnUntil(process.execPath, [CLI, 'agent', '--config', join(dir, 'agent.yaml')], (l) => l.includes('"agent ready"'));
    children.push(agent.child);
    const serverSocket = join(root, 'bench', 'server', 'main', 'server', 'echo');
    const clientSocket = join(root, 'bench', 'client', 'main', 'client', 'meshless');
    const echo = await spawnUntil(process.execPath, [CLI, 'serve-echo', '--socket', serverSocket], (l) => l.includes('echo listening'));
    children.push(echo.child);

    const paths: Path[] = [
      { name: 'direct', open: () => rawConnect(serverSocket) },
      { name: 'agent', open: () => agentConnect(clientSocket, 'echo.server.bench') },
    ];
    let socatNote: string | undefined;
    if (haveSocat()) {
      const relay = join(dir, 'relay.sock');
      const socat = spawn('socat', [`UNIX-LISTEN:${relay},fork,backlog=1024`, `UNIX-CONNECT:${serverSocket}`], { stdio: 'ignore' });
      children.push(socat);
      await waitForSocket(relay);
      paths.splice(1, 0, { name: 'socat relay', open: () => rawConnect(relay) });
    } else {
      socatNote = 'socat is not installed and apt-get could not install it: the socat row is skipped';
      console.log(socatNote);
    }

    // Cross-check: every path echoes the same bytes before anything is timed.
    const probe = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31) & 0xff));
    for (const p of paths) {
      const s = await p.open();
      s.write(probe);
      assertSameBytes(`echo through ${p.name}`, probe, await readExactly(s, probe.length));
      s.destroy();
    }

    // Interleaved rounds: each path gets 1/rounds of every measurement per round.
    const conn = new Map<string, number[]>(paths.map((p) => [p.name, []]));
    const rtt = new Map<string, number[]>(paths.map((p) => [p.name, []]));
    const mbps = new Map<string, number[]>(paths.map((p) => [p.name, []]));
    const streams = new Map<string, Socket>();
    for (const p of paths) streams.set(p.name, await p.open());
    const perRound = (n: number) => Math.ceil(n / COUNTS.rounds);
    for (let round = 0; round < COUNTS.rounds; round++) {
      for (const p of paths) conn.get(p.name)!.push(await connectionsPerSecond(p, perRound(COUNTS.connections)));
      for (const p of paths) rtt.get(p.name)!.push(...(await roundTrips(streams.get(p.name)!, perRound(COUNTS.roundTrips), round === 0 ? COUNTS.warmupRoundTrips : 100)));
      for (const p of paths) mbps.get(p.name)!.push(await bulk(p, Math.ceil(COUNTS.bulkBytes / COUNTS.rounds / COUNTS.bulkChunk) * COUNTS.bulkChunk));
    }
    for (const s of streams.values()) s.destroy();
    const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 0.5);
    const rows = paths.map((p) => {
      const samples = rtt.get(p.name)!.sort((a, b) => a - b);
      return {
        path: p.name,
        connectionsPerSec: median(conn.get(p.name)!),
        rttP50us: percentile(samples, 0.5),
        rttP99us: percentile(samples, 0.99),
        bulkMBps: median(mbps.get(p.name)!),
      };
    });
    const direct = rows.find((r) => r.path === 'direct')!;
    const viaAgent = rows.find((r) => r.path === 'agent')!;
    const viaSocat = rows.find((r) => r.path === 'socat relay');
    const f = (n: number, d = 1) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
    printGrid(
      `agent data path (${COUNTS.connections} connections, ${COUNTS.roundTrips} round trips of 100 B, ${COUNTS.bulkBytes / 2 ** 20} MiB echoed)`,
      ['path', 'conn/s', 'rtt p50 µs', 'rtt p99 µs', 'added p50 µs', 'added p99 µs', 'bulk MB/s'],
      rows.map((r) => [
        r.path,
        f(r.connectionsPerSec, 0),
        f(r.rttP50us),
        f(r.rttP99us),
        r === direct ? '' : f(r.rttP50us - direct.rttP50us),
        r === direct ? '' : f(r.rttP99us - direct.rttP99us),
        f(r.bulkMBps, 0),
      ]),
    );
    const targets = {
      addedP50us: { target: 40, measured: viaAgent.rttP50us - direct.rttP50us },
      addedP99us: { target: 150, measured: viaAgent.rttP99us - direct.rttP99us },
      bulkVsSocat: viaSocat ? { target: 1, measured: viaAgent.bulkMBps / viaSocat.bulkMBps } : null,
    };
    console.log(
      `agent adds ${f(targets.addedP50us.measured)} µs p50 (target < 40), ${f(targets.addedP99us.measured)} µs p99 (target < 150)` +
        (targets.bulkVsSocat ? `; bulk ${f(targets.bulkVsSocat.measured, 2)}× socat (target ≥ 1)` : ''),
    );
    writeResults('agent', { counts: COUNTS, rows, targets, ...(socatNote ? { note: socatNote } : {}) });
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, 'exit') : undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}
