// Child process for the crash test: feeds the scripted changes into a FileSink
// as fast as it can (snapshots every few ms, small log files that rotate) and
// reports progress on stdout until the test SIGKILLs it.
import { FileSink } from '../../src/sync/file-sink.js';
import { SyncEngine } from '../../src/sync/events.js';
import { scriptedChange } from './catalog-script.js';

const dir = process.argv[2]!;
const sink = await FileSink.open({ dir, maxLogBytes: 16 * 1024, keepLogs: 100, snapshotDebounceMs: 1, snapshotMaxDelayMs: 2, log: () => undefined });
const engine = new SyncEngine({ agent: 'crash-child', now: () => 0, sinks: [sink] });
engine.advanceVersion(sink.maxVersion);
let i = sink.maxVersion;
for (;;) {
  for (let k = 0; k < 50; k++) {
    const c = scriptedChange(++i);
    engine.publish(c.kind, c.event, c.uid, c.object);
  }
  await new Promise((r) => setImmediate(r));
  const s = sink.stats();
  process.stdout.write(`${JSON.stringify({ version: i, snapshots: s.snapshots, rotations: s.rotations })}\n`);
}
