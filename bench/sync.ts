// Sync sinks: events/s for 10,000 catalog changes through the file sink, NATS
// core and NATS JetStream (publish until every event is confirmed), and the
// memory a NATS sink holds while the server is down. Starts its own
// nats-server (installing the Debian package if it is missing).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { connect } from 'nats';
import { printGrid, writeResults } from './lib.js';
import { SyncEngine, type SyncSink } from '../src/sync/events.js';
import { FileSink } from '../src/sync/file-sink.js';
import { NatsSink, streamNameFor } from '../src/sync/nats-sink.js';
import { NatsServer, natsServerBinary } from '../test/sync/nats-server.js';
import { scriptedChange, scriptedState } from '../test/sync/catalog-script.js';

const CHANGES = 10_000;
const RUNS = Number(process.env.WEFT_BENCH_SYNC_RUNS ?? 5);

function ensureNatsServer(): void {
  try {
    natsServerBinary();
  } catch {
    console.log('nats-server missing: apt-get install -y nats-server');
    spawnSync('apt-get', ['install', '-y', 'nats-server'], { stdio: 'inherit' });
    natsServerBinary(); // throws with the install hint if that failed
  }
}

/** Publishes the scripted changes and waits until the sink has them all (flush). Returns seconds. */
async function pushChanges(engine: SyncEngine, first: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = first; i < first + CHANGES; i++) {
    const c = scriptedChange(i);
    engine.publish(c.kind, c.event, c.uid, c.object);
  }
  await engine.flush();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

interface Row {
  sink: string;
  medianSeconds: number;
  eventsPerSec: number;
  runs: number[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeSink(name: string, open: () => Promise<{ sink: SyncSink; check: (first: number) => Promise<void>; done: () => Promise<void> }>): Promise<Row> {
  const runs: number[] = [];
  for (let r = 0; r <= RUNS; r++) {
    const { sink, check, done } = await open();
    const engine = new SyncEngine({ agent: 'bench', now: () => 0, sinks: [sink] });
    const seconds = await pushChanges(engine, 1);
    await check(1); // cross-check: every change arrived, before the figure counts
    await engine.close();
    await done();
    if (r > 0) runs.push(seconds); // run 0 warms up
  }
  const m = median(runs);
  return { sink: name, medianSeconds: m, eventsPerSec: CHANGES / m, runs };
}

async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

interface DownRow {
  maxBuffered: number;
  published: number;
  queued: number;
  dropped: number;
  heapGrowthMiB: number;
}

/** Publishes `n` changes into a core NATS sink whose server is dead, and measures what it holds. */
async function memoryWhileDown(server: NatsServer, maxBuffered: number, n: number): Promise<DownRow> {
  if (!server.running) await server.restart();
  const sink = new NatsSink({ servers: server.url, cluster: 'benchdown', maxBuffered, reconnectTimeWaitMs: 1000, closeTimeoutMs: 10, log: () => undefined });
  const engine = new SyncEngine({ agent: 'bench', sinks: [sink] });
  await sink.ready();
  const disconnected = once(sink, 'disconnected');
  await server.kill();
  await disconnected;
  const before = await heapAfterGc();
  for (let i = 1; i <= n; i++) {
    const c = scriptedChange(i);
    engine.publish(c.kind, c.event, c.uid, c.object);
  }
  const afterHeap = await heapAfterGc();
  const row = { maxBuffered, published: n, queued: sink.queued, dropped: sink.dropped, heapGrowthMiB: (afterHeap - before) / 2 ** 20 };
  if (row.queued !== maxBuffered || row.dropped !== n - maxBuffered) throw new Error(`bench cross-check failed: queued ${row.queued}, dropped ${row.dropped}`);
  await engine.close(); // reports the held events as dropped (closed) and stops reconnecting
  return row;
}

export async function run(): Promise<void> {
  ensureNatsServer();
  const expected = scriptedState(CHANGES, 'bench');
  const rows: Row[] = [];

  for (const logStyle of ['block', 'flow'] as const) rows.push(
    await timeSink(`file (${logStyle} YAML log + snapshot)`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'weft-bench-sync-'));
      const sink = await FileSink.open({ dir, logStyle, log: () => undefined });
      return {
        sink,
        check: async () => {
          if (JSON.stringify(sink.entries()) !== JSON.stringify(expected)) throw new Error('bench cross-check failed: file snapshot differs');
          if (sink.stats().snapshots < 1) throw new Error('bench cross-check failed: no snapshot written');
        },
        done: async () => rmSync(dir, { recursive: true, force: true }),
      };
    }),
  );

  const core = await NatsServer.start();
  try {
    rows.push(
      await timeSink('NATS core', async () => {
        const nc = await connect({ servers: core.url });
        let got = 0;
        nc.subscribe('weft.bench.>', { callback: () => got++ });
        await nc.flush();
        const sink = new NatsSink({ servers: core.url, cluster: 'bench', maxBuffered: 20_000, log: () => undefined });
        await sink.ready();
        return {
          sink,
          check: async () => {
            await nc.flush();
            if (got !== CHANGES || sink.acked !== CHANGES) throw new Error(`bench cross-check failed: NATS core delivered ${got}, acked ${sink.acked}`);
          },
          done: () => nc.close(),
        };
      }),
    );
  } finally {
    await core.stop();
  }

  const js = await NatsServer.start({ jetstream: true });
  try {
    let run = 0;
    rows.push(
      await timeSink('NATS JetStream (acked)', async () => {
        const cluster = `benchjs${run++}`;
        const sink = new NatsSink({ servers: js.url, cluster, jetstream: true, maxBuffered: 20_000, log: () => undefined });
        await sink.ready();
        return {
          sink,
          check: async () => {
            const nc = await connect({ servers: js.url });
            const info = await (await nc.jetstreamManager()).streams.info(streamNameFor(cluster));
            await nc.close();
            if (info.state.messages !== CHANGES || sink.acked !== CHANGES) throw new Error(`bench cross-check failed: stream holds ${info.state.messages}`);
          },
          done: async () => undefined,
        };
      }),
    );
  } finally {
    await js.stop();
  }

  const downServer = await NatsServer.start();
  const down: DownRow[] = [];
  try {
    for (const maxBuffered of [1_000, 10_000]) down.push(await memoryWhileDown(downServer, maxBuffered, 100_000));
  } finally {
    await downServer.stop();
  }

  printGrid(
    `sync sinks: ${CHANGES.toLocaleString('en-US')} catalog changes, publish until all confirmed (median of ${RUNS})`,
    ['sink', '', 'ms / 10k', 'events/s', '× file (block)'],
    rows.map((r) => [r.sink, '', (r.medianSeconds * 1000).toFixed(1), Math.round(r.eventsPerSec).toLocaleString('en-US'), `${(r.eventsPerSec / rows[0]!.eventsPerSec).toFixed(2)}×`]),
  );
  printGrid(
    'NATS sink while the server is down: 100,000 changes published',
    ['maxBuffered', '', 'queued', 'dropped', 'heap growth MiB'],
    down.map((d) => [d.maxBuffered.toLocaleString('en-US'), '', String(d.queued), String(d.dropped), d.heapGrowthMiB.toFixed(1)]),
  );
  writeResults('sync', { changes: CHANGES, runs: RUNS, sinks: rows, whileDown: down, gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function' });
}
