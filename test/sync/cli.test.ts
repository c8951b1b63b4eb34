// `weft sync --out DIR`: NDJSON on stdin, and a durable JetStream consumer that
// resumes where it left off.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSyncCommand } from '../../src/sync/cli.js';
import { readEventLog, LOG_FILE } from '../../src/sync/event-log.js';
import { SNAPSHOT_FILE } from '../../src/sync/file-sink.js';
import { SyncEngine, type SyncEvent } from '../../src/sync/events.js';
import { NatsSink } from '../../src/sync/nats-sink.js';
import type { SnapshotFile } from '../../src/sync/catalog-state.js';
import { NatsServer } from './nats-server.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-sync-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function snapshot(dir: string): SnapshotFile {
  return JSON.parse(readFileSync(join(dir, SNAPSHOT_FILE), 'utf8')) as SnapshotFile;
}

describe('weft sync', () => {
  test('stdin NDJSON: changes are stamped, full events kept, bad lines reported as WEFT-S008 and skipped', async (t) => {
    const dir = tempDir(t);
    const foreign: SyncEvent = { uid: 'node-b', version: 42, timestamp: '2026-01-01T00:00:00.000Z', agent: 'agent-b', kind: 'member', event: 'joined', object: { address: '10.0.0.2:7946' } };
    const lines = [
      JSON.stringify({ kind: 'service', event: 'added', uid: 'http.web.default', object: { port: 80 } }),
      '',
      'not json',
      JSON.stringify({ kind: 'service', event: 'exploded', uid: 'x', object: {} }),
      JSON.stringify(foreign),
      JSON.stringify({ ...foreign, version: 'seven' }),
      JSON.stringify({ kind: 'service', event: 'updated', uid: 'http.web.default', object: { port: 8080 } }),
    ];
    const stderr: string[] = [];
    const code = await runSyncCommand(['--out', dir, '--agent', 'cli-test'], { stdin: Readable.from(lines.map((l) => `${l}\n`)), stderr: (s) => stderr.push(s) });
    assert.equal(code, 0);
    const logged = stderr.join('').trim().split('\n').map((l) => JSON.parse(l) as { code: string; context: { line: number } });
    assert.deepEqual(logged.map((l) => [l.code, l.context.line]), [['WEFT-S008', 3], ['WEFT-S008', 4], ['WEFT-S008', 6]]);
    const { events } = await readEventLog(join(dir, LOG_FILE));
    assert.deepEqual(events.map((e) => [e.agent, e.kind, e.event, e.uid]), [
      ['cli-test', 'service', 'added', 'http.web.default'],
      ['agent-b', 'member', 'joined', 'node-b'],
      ['cli-test', 'service', 'updated', 'http.web.default'],
    ]);
    const snap = snapshot(dir);
    assert.deepEqual(snap.entries.map((e) => [e.kind, e.uid, e.object]), [
      ['member', 'node-b', { address: '10.0.0.2:7946' }],
      ['service', 'http.web.default', { port: 8080 }],
    ]);
  });

  test('usage errors exit 2 with the usage text', async () => {
    for (const argv of [[], ['--out'], ['--out', '/tmp/x', '--nats', 'nats://127.0.0.1:1'], ['--out', '/tmp/x', '--bogus'], ['--out', '/tmp/x', '--keep', '-1']]) {
      const stderr: string[] = [];
      assert.equal(await runSyncCommand(argv, { stdin: Readable.from([]), stderr: (s) => stderr.push(s) }), 2, argv.join(' '));
      assert.ok(stderr.join('').length > 0);
    }
  });

  describe('--nats --jetstream', () => {
    let server: NatsServer;
    before(async () => {
      server = await NatsServer.start({ jetstream: true });
    });
    after(async () => {
      await server?.stop();
    });

    test('a durable consumer mirrors the stream to files and resumes after a restart without duplicates', async (t) => {
      const dir = tempDir(t);
      const sink = new NatsSink({ servers: server.url, cluster: 'omega', jetstream: true, log: () => undefined });
      const engine = new SyncEngine({ agent: 'agent-o', sinks: [sink] });
      t.after(() => engine.close());
      const published: SyncEvent[] = [];
      for (let i = 0; i < 150; i++) published.push(engine.publish('endpoint', 'updated', `ep-${i % 15}`, { i }));
      await engine.flush();

      const runUntil = async (count: number): Promise<number> => {
        const stop = new AbortController();
        const run = runSyncCommand(['--out', dir, '--nats', server.url, '--cluster', 'omega', '--jetstream', '--durable', 'mirror', '--snapshot-debounce', '5'], {
          stderr: () => undefined,
          signal: stop.signal,
        });
        const deadline = Date.now() + 10_000;
        while ((await readEventLog(join(dir, LOG_FILE))).events.length < count) {
          if (Date.now() > deadline) throw new Error(`weft sync did not log ${count} events`);
          await new Promise((r) => setTimeout(r, 20));
        }
        stop.abort();
        return run;
      };
      assert.equal(await runUntil(150), 0);
      for (let i = 150; i < 200; i++) published.push(engine.publish('endpoint', 'updated', `ep-${i % 15}`, { i }));
      await engine.flush();
      assert.equal(await runUntil(200), 0);
      const { events } = await readEventLog(join(dir, LOG_FILE));
      assert.deepEqual(events.map((e) => e.version), published.map((e) => e.version), 'every event once, in order');
      assert.equal(snapshot(dir).count, 15);
    });
  });
});
