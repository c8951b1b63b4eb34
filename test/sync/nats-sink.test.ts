// The NATS sink against a real nats-server (started here on a free port):
// per-object order, JetStream surviving a SIGKILL of the server with nothing
// lost, core NATS reporting (never hiding) what a bounded buffer dropped.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Msg, type NatsConnection } from 'nats';
import { SyncEngine, type SyncEvent } from '../../src/sync/events.js';
import { NatsSink, GAP_HEADER, GAP_FIRST_HEADER, GAP_LAST_HEADER, streamNameFor, type GapReport } from '../../src/sync/nats-sink.js';
import { NatsServer, natsServerBinary } from './nats-server.js';
import type { WeftError } from '../../src/errors.js';

const decoder = new TextDecoder();

interface Received {
  event: SyncEvent;
  gap?: string;
  gapFirst?: string;
  gapLast?: string;
}

function parse(m: Msg): Received {
  const r: Received = { event: JSON.parse(decoder.decode(m.data)) as SyncEvent };
  if (m.headers?.has(GAP_HEADER)) {
    r.gap = m.headers.get(GAP_HEADER);
    r.gapFirst = m.headers.get(GAP_FIRST_HEADER);
    r.gapLast = m.headers.get(GAP_LAST_HEADER);
  }
  return r;
}

/** Resolves when `cond()` holds, checking on every tick of `emitterPoll` ms; rejects after `ms`. */
async function until(cond: () => boolean, ms: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function assertOrderedPerObject(events: readonly SyncEvent[]): void {
  const last = new Map<string, number>();
  for (const e of events) {
    const prev = last.get(e.uid) ?? -1;
    assert.ok(e.version > prev, `uid ${e.uid}: version ${e.version} arrived after ${prev}`);
    last.set(e.uid, e.version);
  }
}

function quietLog(): { log: (err: WeftError, ctx: Record<string, unknown>) => void; codes: string[] } {
  const codes: string[] = [];
  return { codes, log: (err) => codes.push(err.code) };
}

/** A subscriber that reconnects fast (so it is back before a slow-reconnecting sink). */
async function subscriber(url: string, subject: string): Promise<{ nc: NatsConnection; got: Received[]; gapRecords: unknown[] }> {
  const nc = await connect({ servers: url, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 20, reconnectJitter: 0 });
  const got: Received[] = [];
  const gapRecords: unknown[] = [];
  nc.subscribe(subject, {
    callback: (_err, m) => {
      if (m.subject.endsWith('.sync.gap')) gapRecords.push(JSON.parse(decoder.decode(m.data)));
      else got.push(parse(m));
    },
  });
  await nc.flush();
  return { nc, got, gapRecords };
}

describe('NATS sink (real nats-server)', () => {
  before(() => {
    // Fails every test below with the install hint when the binary is missing.
    natsServerBinary();
  });

  describe('core NATS', () => {
    let server: NatsServer;
    before(async () => {
      server = await NatsServer.start();
    });
    after(async () => {
      await server?.stop();
    });

    test('every event arrives, in order per object, on weft.<cluster>.<kind>.<event>', async (t) => {
      const { nc, got } = await subscriber(server.url, 'weft.alpha.>');
      const subjects = new Set<string>();
      nc.subscribe('weft.alpha.>', { callback: (_e, m) => subjects.add(m.subject) });
      await nc.flush();
      const { log } = quietLog();
      const sink = new NatsSink({ servers: server.url, cluster: 'alpha', log });
      const engine = new SyncEngine({ agent: 'agent-1', sinks: [sink] });
      t.after(() => Promise.all([engine.close(), nc.close()]));
      await sink.ready();
      const kinds = [
        ['service', 'added'],
        ['service', 'updated'],
        ['endpoint', 'updated'],
        ['health', 'down'],
        ['health', 'up'],
      ] as const;
      const n = 3000;
      for (let i = 0; i < n; i++) {
        const [kind, event] = kinds[i % kinds.length]!;
        engine.publish(kind, event, `obj-${i % 37}`, { i, name: `svc-${i % 37}` });
        if (i % 500 === 0) await new Promise((r) => setImmediate(r)); // interleave with delivery
      }
      await engine.flush();
      await until(() => got.length === n, 5000, `${n} messages`);
      assertOrderedPerObject(got.map((r) => r.event));
      assert.deepEqual(
        got.map((r) => r.event.object),
        Array.from({ length: n }, (_, i) => ({ i, name: `svc-${i % 37}` })),
        'nothing lost, nothing duplicated, publish order kept',
      );
      assert.deepEqual([...subjects].sort(), ['weft.alpha.endpoint.updated', 'weft.alpha.health.down', 'weft.alpha.health.up', 'weft.alpha.service.added', 'weft.alpha.service.updated']);
      assert.equal(sink.acked, n);
      assert.equal(sink.dropped, 0);
      assert.equal(sink.queued, 0);
    });

    test('SIGKILL while 50k events arrive: the 1k buffer stays bounded, drops are counted, reported and marked', async (t) => {
      const { nc, got, gapRecords } = await subscriber(server.url, 'weft.beta.>');
      const { log, codes } = quietLog();
      // Slow reconnects, so the fast subscriber (20 ms) is back before the sink delivers:
      // core NATS keeps nothing for a subscriber that is not there yet. 3 s leaves room
      // for a slow server restart on a loaded machine.
      const sink = new NatsSink({ servers: server.url, cluster: 'beta', maxBuffered: 1000, maxInFlight: 100, reconnectTimeWaitMs: 3000, log });
      const engine = new SyncEngine({ agent: 'agent-2', sinks: [sink] });
      t.after(() => Promise.all([engine.close(), nc.close()]));
      const gaps: GapReport[] = [];
      sink.on('gap', (g: GapReport) => gaps.push(g));
      await sink.ready();

      for (let i = 0; i < 200; i++) engine.publish('endpoint', 'updated', `ep-${i % 10}`, { phase: 'before', i });
      await engine.flush();
      assert.equal(sink.acked, 200);

      const disconnected = once(sink, 'disconnected');
      await server.kill();
      await disconnected;
      const down: SyncEvent[] = [];
      let maxQueued = 0;
      for (let i = 0; i < 50_000; i++) {
        down.push(engine.publish('endpoint', 'updated', `ep-${i % 10}`, { phase: 'down', i }));
        if (sink.queued > maxQueued) maxQueued = sink.queued;
      }
      assert.equal(maxQueued, 1000, 'the buffer never holds more than maxBuffered');
      assert.equal(sink.dropped, 49_000, 'dropped = what overflowed');
      assert.equal(sink.queued, 1000);
      assert.deepEqual(gaps, [], 'the gap is reported when delivery resumes');
      assert.ok(codes.includes('WEFT-S001') && codes.includes('WEFT-S002'), `logged the drop and the disconnect: ${codes.join(',')}`);

      // Restart right after a failed reconnect attempt: the sink's next one is ~3 s away.
      await once(sink, 'reconnecting');
      const subBack = (async () => {
        for await (const s of nc.status()) if (s.type === 'reconnect') return;
      })();
      await server.restart();
      await subBack;
      await nc.flush();
      await engine.flush();
      await until(() => got.length === 200 + 1000, 20_000, () => `the buffered events (have ${got.length - 200} of 1000, sink queued ${sink.queued})`);

      const kept = down.slice(49_000);
      assert.deepEqual(got.slice(200).map((r) => r.event.version), kept.map((e) => e.version), 'the newest 1000 survive, in order');
      const marked = got[200]!;
      assert.equal(marked.gap, '49000');
      assert.equal(marked.gapFirst, String(down[0]!.version));
      assert.equal(marked.gapLast, String(down[48_999]!.version));
      assert.ok(got.slice(201).every((r) => r.gap === undefined), 'only the first event after the gap is marked');
      const report = { dropped: 49_000, firstVersion: down[0]!.version, lastVersion: down[48_999]!.version, reason: 'overflow', markedVersion: kept[0]!.version };
      assert.deepEqual(gaps, [report]);
      assert.deepEqual(gapRecords, [{ agent: 'agent-2', ...report }], 'a gap record on weft.beta.sync.gap');
      assertOrderedPerObject(got.map((r) => r.event));
      assert.equal(sink.acked, 1200);
    });
  });

  describe('JetStream', () => {
    let server: NatsServer;
    before(async () => {
      server = await NatsServer.start({ jetstream: true });
    });
    after(async () => {
      await server?.stop();
    });

    test('SIGKILL and restart of nats-server loses nothing: a consumer that was away replays every version in order', async (t) => {
      const { log } = quietLog();
      const sink = new NatsSink({
        servers: server.url,
        cluster: 'gamma',
        jetstream: { maxMsgs: 100_000 },
        maxBuffered: 5000,
        reconnectTimeWaitMs: 100,
        ackTimeoutMs: 1000,
        retryDelayMs: 50,
        log,
      });
      const engine = new SyncEngine({ agent: 'agent-3', sinks: [sink] });
      t.after(() => engine.close());
      await sink.ready();
      const published: SyncEvent[] = [];
      const burst = (phase: string, n: number): void => {
        for (let i = 0; i < n; i++) published.push(engine.publish('service', i % 3 === 0 ? 'added' : 'updated', `svc-${i % 25}`, { phase, i }));
      };

      burst('acked', 300);
      await engine.flush();
      assert.equal(sink.acked, 300, 'acknowledged before the kill');
      // SIGKILL goes out synchronously, before the sink's pump hands these to the (dying) connection.
      burst('in-flight', 300);
      const killed = server.kill();
      burst('down', 900);
      await killed;
      assert.equal(sink.dropped, 0);
      await server.restart();
      burst('after', 300);
      await engine.flush();
      assert.equal(sink.acked, 1800);
      assert.equal(sink.queued, 0);
      assert.equal(sink.dropped, 0);
      assert.ok(sink.stats().retried > 0, 'events in flight at the kill were sent again');

      // The consumer: a fresh connection replaying the stream from the start.
      const nc = await connect({ servers: server.url });
      t.after(() => nc.close());
      const js = nc.jetstream();
      const consumer = await js.consumers.get(streamNameFor('gamma'));
      const replayed: Received[] = [];
      const messages = await consumer.consume();
      for await (const m of messages) {
        replayed.push(parse(m as unknown as Msg));
        if (m.info.pending === 0) break;
      }
      const versions = replayed.map((r) => r.event.version);
      assert.equal(new Set(versions).size, versions.length, 'no event stored twice (Nats-Msg-Id dedupe)');
      assert.deepEqual([...versions].sort((a, b) => a - b), published.map((e) => e.version), 'every version is in the stream');
      assertOrderedPerObject(replayed.map((r) => r.event));
      assert.ok(replayed.every((r) => r.gap === undefined), 'no gap marker');
    });

    test('the stream is created with the cluster subjects and limits, and updated in place', async (t) => {
      const { log } = quietLog();
      const first = new NatsSink({ servers: server.url, cluster: 'delta', jetstream: { maxMsgs: 500, maxAgeMs: 60_000 }, log });
      await first.ready();
      await first.close();
      const second = new NatsSink({ servers: server.url, cluster: 'delta', jetstream: { maxMsgs: 700, maxAgeMs: 60_000 }, log });
      t.after(() => second.close());
      await second.ready();
      const nc = await connect({ servers: server.url });
      t.after(() => nc.close());
      const info = await (await nc.jetstreamManager()).streams.info('WEFT_DELTA');
      assert.deepEqual(info.config.subjects, ['weft.delta.>']);
      assert.equal(info.config.max_msgs, 700);
      assert.equal(info.config.max_age, 60_000 * 1_000_000);
      assert.equal(info.config.duplicate_window, 60_000 * 1_000_000, 'the duplicate window is clamped to the retention');
    });
  });
});
