// The real agent process publishing its catalog to a real nats-server (started
// here on a free port): with JetStream, nats-server SIGKILLed and restarted
// mid-run loses nothing and a consumer started after the agent is gone
// replays every event; with core NATS and a small buffer, the same outage
// drops events and the agent reports the gap (a WEFT-S001 log line, the
// Weft-Gap headers, a gap record) rather than hiding it. The agent's file
// sink (`out`) runs beside the NATS sink and is the record of what was
// published.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type JsMsg, type NatsConnection } from 'nats';
import { readEventLog } from '../../src/sync/event-log.js';
import type { SyncEvent } from '../../src/sync/events.js';
import { GAP_FIRST_HEADER, GAP_HEADER, GAP_LAST_HEADER, streamNameFor } from '../../src/sync/nats-sink.js';
import { makeTempDir, meshlet, startAgent, type AgentProcess, type LogLine } from '../helpers/agent-process.js';
import { NatsServer, natsServerBinary } from '../sync/nats-server.js';

const decoder = new TextDecoder();

interface Stored {
  subject: string;
  body: Record<string, unknown>;
  gap?: { count: string; first: string; last: string };
}

/** Every message of a stream, read by an ordered consumer on a fresh connection. */
async function readStream(url: string, stream: string): Promise<Stored[]> {
  const nc = await connect({ servers: url });
  try {
    const consumer = await nc.jetstream().consumers.get(stream);
    const out: Stored[] = [];
    const messages = await consumer.consume();
    for await (const m of messages as AsyncIterable<JsMsg>) {
      const s: Stored = { subject: m.subject, body: JSON.parse(decoder.decode(m.data)) as Record<string, unknown> };
      if (m.headers?.has(GAP_HEADER)) s.gap = { count: m.headers.get(GAP_HEADER), first: m.headers.get(GAP_FIRST_HEADER), last: m.headers.get(GAP_LAST_HEADER) };
      out.push(s);
      if (m.info.pending === 0) break;
    }
    return out;
  } finally {
    await nc.close();
  }
}

function assertOrderedPerObject(events: readonly SyncEvent[]): void {
  const last = new Map<string, number>();
  for (const e of events) {
    assert.ok(e.version > (last.get(`${e.kind} ${e.uid}`) ?? -1), `${e.kind} ${e.uid}: version ${e.version} after a newer one`);
    last.set(`${e.kind} ${e.uid}`, e.version);
  }
}

const isError = (code: string, extra: (l: LogLine) => boolean = () => true) => (l: LogLine) => (l.error as { code?: string } | undefined)?.code === code && extra(l);

async function reloaded(a: AgentProcess, what: 'added' | 'removed', key: string): Promise<void> {
  await a.waitForLog((l) => l.msg === 'meshlets reloaded' && (l[what] as string[]).includes(key));
}

/** Resolves once the admin metrics say the NATS sink holds nothing unconfirmed. */
async function natsSettled(a: AgentProcess): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const { text } = await a.admin('/metrics');
    if (/^weft_agent_sync_nats_queued 0$/m.test(text) && /^weft_agent_sync_nats_connected 1$/m.test(text)) return;
    if (Date.now() > deadline) throw new Error(`NATS sink not settled:\n${text.split('\n').filter((l) => l.includes('sync')).join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('agent sync to NATS (real agent, real nats-server)', () => {
  let server: NatsServer;
  let out: string;
  before(async () => {
    natsServerBinary(); // a missing binary fails with the install hint
    server = await NatsServer.start({ jetstream: true });
    out = makeTempDir();
  });
  after(async () => {
    await server?.stop();
    rmSync(out, { recursive: true, force: true });
  });

  test('JetStream: nats-server killed and restarted mid-run loses nothing; a consumer started afterwards catches up on every event', { timeout: 30_000 }, async () => {
    const dir = join(out, 'js');
    const a = await startAgent({
      config: { sync: { agent: 'node-j', out: dir, nats: { servers: [server.url], cluster: 'j1', jetstream: true, reconnectWait: '200ms' } } },
      meshlets: { 'a.yaml': meshlet('t', 'a', { provides: ['x', 'y'] }) },
    });
    a.writeMeshlet('b.yaml', meshlet('t', 'b', { provides: ['z'], instances: [{ name: 'i1' }, { name: 'i2' }] }));
    await reloaded(a, 'added', 't/b');
    await server.kill();
    await a.waitForLog(isError('WEFT-S002'));
    // While NATS is down: a meshlet added, another removed.
    a.writeMeshlet('c.yaml', meshlet('t', 'c', { provides: ['w'] }));
    await reloaded(a, 'added', 't/c');
    unlinkSync(join(a.meshletDir, 'a.yaml'));
    await reloaded(a, 'removed', 't/a');
    await server.restart();
    // The drain flushes: close() waits for the reconnect and every JetStream ack.
    assert.equal(await a.stop(), 0);
    const closed = a.logs.find((l) => l.msg === 'sync closed') as LogLine & { nats: { written: number; acked: number; dropped: number } };
    assert.ok(closed, 'the sinks were closed on drain');

    const published = (await readEventLog(join(dir, 'events.yaml'))).events;
    assert.ok(published.length >= 12, `events published: ${published.length}`);
    assert.equal(closed.nats.written, published.length);
    assert.equal(closed.nats.dropped, 0);

    const stored = await readStream(server.url, streamNameFor('j1'));
    const events = stored.map((s) => s.body as unknown as SyncEvent);
    const versions = events.map((e) => e.version);
    assert.equal(new Set(versions).size, versions.length, 'no event stored twice');
    assert.deepEqual([...versions].sort((x, y) => x - y), published.map((e) => e.version), 'every published event is in the stream');
    assert.deepEqual(stored.map((s) => s.subject).filter((s, i, all) => all.indexOf(s) === i).sort(), [
      'weft.j1.endpoint.added',
      'weft.j1.endpoint.removed',
      'weft.j1.meshlet.added',
      'weft.j1.meshlet.removed',
      'weft.j1.service.added',
      'weft.j1.service.removed',
    ]);
    assertOrderedPerObject(events);
    assert.ok(stored.every((s) => s.gap === undefined), 'no gap');
    for (const e of published) assert.deepEqual(events.find((x) => x.version === e.version), e, 'the same event in the file log and the stream');
  });

  test('core NATS: nats-server restarted mid-run with more changes than the buffer holds: the gap is logged and marked, not hidden', { timeout: 30_000 }, async () => {
    const dir = join(out, 'core');
    // A recorder stream on the server keeps what the agent's core-NATS publishes reach it, headers and all,
    // so the test sees the first message after the restart whenever the sink's reconnect happens.
    const recorder = await connect({ servers: server.url });
    const jsm = await recorder.jetstreamManager();
    await jsm.streams.add({ name: 'RECORDER', subjects: ['weft.c2.>'] });
    await recorder.close();

    let seen = 0;
    let firstThree!: () => void;
    const started = new Promise<void>((r) => (firstThree = r));
    const sub: NatsConnection = await connect({ servers: server.url, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 20 });
    sub.subscribe('weft.c2.>', { callback: () => ++seen >= 3 && firstThree() });
    await sub.flush();

    const a = await startAgent({
      config: { sync: { agent: 'node-c', out: dir, nats: { servers: [server.url], cluster: 'c2', maxBuffered: 4, reconnectWait: '200ms' } } },
      meshlets: { 'a.yaml': meshlet('t', 'a', { provides: ['x'] }) },
    });
    await started; // meshlet, service and endpoint of t/a delivered
    await natsSettled(a);
    await server.kill();
    await a.waitForLog(isError('WEFT-S002'));
    // 1 meshlet + 2 services + 6 endpoints while NATS is down, into a buffer of 4.
    a.writeMeshlet('big.yaml', meshlet('t', 'big', { provides: ['p', 'q'], instances: [{ name: 'i1' }, { name: 'i2' }, { name: 'i3' }] }));
    await reloaded(a, 'added', 't/big');
    await a.waitForLog(isError('WEFT-S001', (l) => l.msg === 'sync events dropped'));
    await server.restart();
    const report = await a.waitForLog(isError('WEFT-S001', (l) => l.reason === 'overflow' && typeof l.dropped === 'number'));
    assert.equal(await a.stop(), 0);
    await sub.close();

    const published = (await readEventLog(join(dir, 'events.yaml'))).events;
    assert.equal(published.length, 12);
    const dropped = report.dropped as number;
    const first = report.firstVersion as number;
    const last = report.lastVersion as number;
    assert.ok(dropped >= 5, `at least the overflow of 9 events into 4 places was dropped: ${dropped}`);

    const stored = await readStream(server.url, 'RECORDER');
    const gapRecords = stored.filter((s) => s.subject === 'weft.c2.sync.gap').map((s) => s.body);
    const events = stored.filter((s) => s.subject !== 'weft.c2.sync.gap');
    const delivered = new Set(events.map((s) => (s.body as unknown as SyncEvent).version));
    const missing = published.filter((e) => !delivered.has(e.version));
    // Exactly the reported run of versions is missing: the oldest queued, nothing else.
    assert.equal(missing.length, dropped);
    assert.deepEqual(missing, published.filter((e) => e.version >= first && e.version <= last));
    assert.equal(missing[0]!.version, first);
    assert.equal(missing.at(-1)!.version, last);
    // The first event delivered after the gap carries it; a record precedes it on weft.c2.sync.gap.
    const marked = events.filter((s) => s.gap);
    assert.equal(marked.length, 1);
    assert.deepEqual(marked[0]!.gap, { count: String(dropped), first: String(first), last: String(last) });
    assert.equal((marked[0]!.body as unknown as SyncEvent).version, report.markedVersion);
    assert.deepEqual(gapRecords, [{ agent: 'node-c', dropped, firstVersion: first, lastVersion: last, reason: 'overflow', markedVersion: report.markedVersion }]);
    assert.ok(stored.indexOf(marked[0]!) > stored.findIndex((s) => s.subject === 'weft.c2.sync.gap'), 'the gap record comes first');
    assertOrderedPerObject(events.map((s) => s.body as unknown as SyncEvent));
    const closed = a.logs.find((l) => l.msg === 'sync closed') as LogLine & { nats: { dropped: number; gaps: number } };
    assert.deepEqual([closed.nats.dropped, closed.nats.gaps], [dropped, 1]);
  });
});
