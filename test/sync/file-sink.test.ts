// The file sink: YAML event log with rotation, deduplicated snapshot written
// atomically (checked by SIGKILLing a writer mid-loop), restart from snapshot
// plus log replay.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { parseAllDocuments } from 'yaml';
import { FileSink, SNAPSHOT_FILE } from '../../src/sync/file-sink.js';
import { LOG_FILE, readEventLog } from '../../src/sync/event-log.js';
import { SNAPSHOT_FORMAT, type SnapshotFile } from '../../src/sync/catalog-state.js';
import { SyncEngine, type SyncEvent } from '../../src/sync/events.js';
import { scriptedChange, scriptedState } from './catalog-script.js';
import type { WeftError } from '../../src/errors.js';

const here = dirname(fileURLToPath(import.meta.url));

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-file-sink-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function collectingLog(): { log: (err: WeftError, ctx: Record<string, unknown>) => void; codes: string[] } {
  const codes: string[] = [];
  return { codes, log: (err) => codes.push(err.code) };
}

function readSnapshot(dir: string): SnapshotFile {
  return JSON.parse(readFileSync(join(dir, SNAPSHOT_FILE), 'utf8')) as SnapshotFile;
}

function yamlEvents(path: string): SyncEvent[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  for (const d of docs) assert.deepEqual(d.errors, [], `${path} parses as YAML`);
  return docs.map((d) => d.toJS() as SyncEvent);
}

describe('file sink', () => {
  test('every event is appended to events.yaml as one YAML document', async (t) => {
    const dir = tempDir(t);
    const { log } = collectingLog();
    const sink = await FileSink.open({ dir, log });
    const engine = new SyncEngine({ agent: 'a1', sinks: [sink] });
    const published = [
      engine.publish('member', 'joined', 'm-1', { name: 'node-1', address: '10.0.0.1:7946' }),
      engine.publish('meshlet', 'added', 'default/web', { name: 'web', provides: ['http'], note: 'multi\nline\n...\n---' }),
      engine.publish('canary', 'step-changed', 'default/web', { step: 2, percent: 25 }),
    ];
    await engine.close();
    assert.deepEqual(yamlEvents(join(dir, LOG_FILE)), published);
    assert.deepEqual((await readEventLog(join(dir, LOG_FILE))).events, published, 'a string with "..." and "---" lines does not break the documents');
  });

  test("logStyle 'flow' writes the same events as JSON-valued YAML documents", async (t) => {
    const dir = tempDir(t);
    const { log } = collectingLog();
    const sink = await FileSink.open({ dir, log, logStyle: 'flow' });
    const engine = new SyncEngine({ agent: 'a1', sinks: [sink] });
    const published = [
      engine.publish('service', 'added', 'http.web.default', { ports: [80, 443], note: 'multi\nline\n...\n---', 'key: with colon': null, nested: { '#': true } }),
      engine.publish('health', 'down', 'ep "quoted" \u2028', { reason: 'timeout', unicode: 'é✓' }),
    ];
    await engine.close();
    assert.deepEqual(yamlEvents(join(dir, LOG_FILE)), published);
    assert.deepEqual((await readEventLog(join(dir, LOG_FILE))).events, published);
  });

  test('the log rotates by size: events.yaml, .1 … .N, oldest deleted, documents never split', async (t) => {
    const dir = tempDir(t);
    const { log } = collectingLog();
    const sink = await FileSink.open({ dir, maxLogBytes: 4096, keepLogs: 3, log });
    const engine = new SyncEngine({ agent: 'a1', now: () => 0, sinks: [sink] });
    for (let i = 1; i <= 400; i++) {
      engine.publish('service', 'updated', `svc-${i % 9}`, { i, padding: 'x'.repeat(i % 50) });
      if (i % 37 === 0) await sink.flush(); // several batches, several rotations
    }
    await engine.close();
    const files = readdirSync(dir).filter((f) => f.startsWith(LOG_FILE)).sort();
    assert.deepEqual(files, ['events.yaml', 'events.yaml.1', 'events.yaml.2', 'events.yaml.3']);
    assert.ok(sink.stats().rotations > 3);
    const versions: number[] = [];
    for (const f of ['events.yaml.3', 'events.yaml.2', 'events.yaml.1', 'events.yaml']) {
      assert.ok(statSync(join(dir, f)).size <= 4096, `${f} is within the size limit`);
      versions.push(...yamlEvents(join(dir, f)).map((e) => e.version));
    }
    // The kept files hold the newest events, contiguous, oldest file first.
    const last = versions.at(-1)!;
    assert.equal(last, 400);
    assert.deepEqual(versions, Array.from({ length: versions.length }, (_, k) => last - versions.length + 1 + k));
  });

  test('the snapshot has one entry per kind+uid: the latest version wins, removed objects are dropped', async (t) => {
    const dir = tempDir(t);
    const { log } = collectingLog();
    const sink = await FileSink.open({ dir, log });
    let clock = 1;
    const engine = new SyncEngine({ agent: 'a1', now: () => clock, sinks: [sink] });
    engine.publish('endpoint', 'added', 'ep-1', { address: '10.0.0.1:1', weight: 1 });
    engine.publish('endpoint', 'added', 'ep-2', { address: '10.0.0.2:1', weight: 1 });
    engine.publish('health', 'down', 'ep-1', { reason: 'timeout' });
    const ep1 = engine.publish('endpoint', 'updated', 'ep-1', { address: '10.0.0.1:1', weight: 5 });
    const ep1Health = engine.publish('health', 'up', 'ep-1', {});
    const removal = engine.publish('endpoint', 'removed', 'ep-2', { address: '10.0.0.2:1' });
    const member = engine.publish('member', 'joined', 'node-a', { address: '10.0.0.9:7946' });
    engine.publish('member', 'joined', 'node-b', {});
    engine.publish('member', 'left', 'node-b', {});
    // A late event from another agent, older than the removal, must not resurrect ep-2.
    sink.write({ uid: 'ep-2', version: removal.version - 1, timestamp: new Date().toISOString(), agent: 'a2', kind: 'endpoint', event: 'updated', object: { stale: true } });
    // And an older update than the one we hold is ignored.
    sink.write({ ...ep1, version: ep1.version - 2, agent: 'a2', object: { stale: true } });
    await sink.flush();
    const snap = readSnapshot(dir);
    assert.equal(snap.format, SNAPSHOT_FORMAT);
    assert.deepEqual(snap.entries, [ep1, ep1Health, member]);
    assert.equal(snap.count, 3);
    assert.deepEqual(snap.tombstones, { 'ep-2': removal.version, 'node-b': engine.version });
    assert.equal(snap.maxVersion, engine.version);
    // Removing an endpoint drops its health entry too.
    clock = 2;
    engine.publish('endpoint', 'removed', 'ep-1', {});
    await engine.close();
    assert.deepEqual(readSnapshot(dir).entries, [member]);
  });

  test('replaying every event over the final state changes nothing (removals stay removed after a re-add)', async (t) => {
    const dir = tempDir(t);
    const { log } = collectingLog();
    const sink = await FileSink.open({ dir, log });
    const engine = new SyncEngine({ agent: 'a1', now: () => 0, sinks: [sink] });
    const all: SyncEvent[] = [];
    for (let i = 1; i <= 600; i++) {
      const c = scriptedChange(i);
      all.push(engine.publish(c.kind, c.event, c.uid, c.object));
    }
    await engine.close();
    const reopened = await FileSink.open({ dir, log });
    for (const e of all) reopened.write(e);
    assert.deepEqual(reopened.entries(), scriptedState(600, 'a1'));
    await reopened.close();
  });

  test('a restart loads the snapshot and replays the log written after it', async (t) => {
    const dir = tempDir(t);
    const { log } = collectingLog();
    // A long debounce: the snapshot on disk lags the log until close.
    const first = await FileSink.open({ dir, snapshotDebounceMs: 60_000, log });
    const engine = new SyncEngine({ agent: 'a1', now: () => 0, sinks: [first] });
    for (let i = 1; i <= 300; i++) {
      const c = scriptedChange(i);
      engine.publish(c.kind, c.event, c.uid, c.object);
    }
    await first.flush();
    for (let i = 301; i <= 500; i++) {
      const c = scriptedChange(i);
      engine.publish(c.kind, c.event, c.uid, c.object);
    }
    await new Promise((r) => setImmediate(r)); // appended to the log, snapshot still at 300
    assert.equal(readSnapshot(dir).maxVersion, 300);

    const second = await FileSink.open({ dir, log });
    assert.deepEqual(second.entries(), scriptedState(500, 'a1'), 'snapshot (300) + log replay (…500)');
    assert.equal(second.maxVersion, 500);
    await second.close();
    await engine.close();

    const third = await FileSink.open({ dir, log });
    assert.deepEqual(third.entries(), scriptedState(500, 'a1'));
    await third.close();
  });

  test('a SIGKILL mid-write never leaves a half-written snapshot; reopening recovers every logged event', async (t) => {
    const dir = tempDir(t);
    const child = spawn(process.execPath, [join(here, 'file-sink-crash-child.js'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => child.kill('SIGKILL'));
    let progress = { version: 0, snapshots: 0, rotations: 0 };
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    for await (const line of createInterface({ input: child.stdout! })) {
      progress = JSON.parse(line) as typeof progress;
      if (progress.snapshots >= 10 && progress.rotations >= 2) break;
    }
    child.kill('SIGKILL');
    await exited;

    const snap = readSnapshot(dir); // parses: never torn
    assert.equal(snap.format, SNAPSHOT_FORMAT);
    assert.ok(snap.maxVersion > 0);
    assert.deepEqual(snap.entries, scriptedState(snap.maxVersion, 'crash-child'), `the snapshot is exactly the catalog at version ${snap.maxVersion}`);

    const { log, codes } = collectingLog();
    const reopened = await FileSink.open({ dir, log });
    const logged = (await readEventLog(join(dir, LOG_FILE))).events.map((e) => e.version);
    const recovered = Math.max(snap.maxVersion, ...logged);
    assert.equal(reopened.maxVersion, recovered);
    assert.deepEqual(reopened.entries(), scriptedState(recovered, 'crash-child'), 'snapshot + replay = the catalog at the last logged version');
    assert.ok(!readdirSync(dir).some((f) => f.includes('.tmp-')), 'temporary files of the killed writer are removed');
    assert.ok(codes.every((c) => c === 'WEFT-S008'), `only a torn tail may be reported: ${codes.join(',')}`);
    await reopened.close();
  });

  test('a corrupt snapshot is moved aside and reported (WEFT-S005); a torn log tail is skipped (WEFT-S008)', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, SNAPSHOT_FILE), '{"format":"weft-sync-snapshot/1","entries":[{"uid":');
    const good: SyncEvent = { uid: 'svc-1', version: 7, timestamp: new Date(0).toISOString(), agent: 'a1', kind: 'service', event: 'added', object: { name: 'svc' } };
    writeFileSync(join(dir, LOG_FILE), `---\nuid: svc-1\nversion: 7\ntimestamp: "1970-01-01T00:00:00.000Z"\nagent: a1\nkind: service\nevent: added\nobject:\n  name: svc\n...\n`);
    appendFileSync(join(dir, LOG_FILE), '---\nuid: svc-2\nversion: 8\ntimestamp: "1970-01-01T00:00:00.000Z"\nagent: a1\nkind: service\nevent: added\nobject:\n  na');
    const { log, codes } = collectingLog();
    const sink = await FileSink.open({ dir, log });
    assert.deepEqual(codes, ['WEFT-S005', 'WEFT-S008']);
    assert.ok(readdirSync(dir).some((f) => f.startsWith(`${SNAPSHOT_FILE}.corrupt-`)));
    assert.deepEqual(sink.entries(), [good]);
    await sink.close();
    assert.deepEqual(readSnapshot(dir).entries, [good]);
    assert.ok(existsSync(join(dir, LOG_FILE)));
  });
});
