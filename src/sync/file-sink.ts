// Sync events to files: an append-only YAML event log with size-based
// rotation, and a deduplicated snapshot (snapshot.json, one entry per kind+uid)
// replaced atomically on a debounce, at every log rotation and on close.
// On start it loads the snapshot and replays the current log over it (applying
// is idempotent), so a crash between a log append and the next snapshot loses
// nothing the log had; the snapshot written at each rotation covers the
// rotated files.
import { mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { WeftError } from '../errors.js';
import { logError } from '../errors-explain.js';
import { writeFileAtomic, removeStaleTemps } from './atomic-write.js';
import { CatalogState } from './catalog-state.js';
import { EventLog, eventDocument, readEventLog, type LogStyle } from './event-log.js';
import type { SyncEvent, SyncSink } from './events.js';

export const SNAPSHOT_FILE = 'snapshot.json';

export interface FileSinkOptions {
  /** Output directory (created if missing). */
  dir: string;
  /** Rotate events.yaml when it would pass this size (default 16 MiB). */
  maxLogBytes?: number;
  /** Rotated logs kept: events.yaml.1 … .N (default 5). */
  keepLogs?: number;
  /** Write the snapshot this long after the last change (default 1000 ms)… */
  snapshotDebounceMs?: number;
  /** …but no later than this after the first unsaved change (default 10 s). */
  snapshotMaxDelayMs?: number;
  /** Event log style: 'block' YAML (default) or 'flow' (JSON values, much faster to write). */
  logStyle?: LogStyle;
  /** Removed uids remembered so late, older events cannot resurrect them (default 100,000). */
  maxTombstones?: number;
  log?: (err: WeftError, context: Record<string, unknown>) => void;
}

export interface FileSinkStats {
  written: number;
  logBytes: number;
  rotations: number;
  snapshots: number;
  entries: number;
  /** Events whose log append failed (reported as WEFT-S006). */
  logFailed: number;
  /** Events replayed from the log on start. */
  replayed: number;
}

export class FileSink implements SyncSink {
  readonly name = 'file';
  readonly dir: string;
  readonly snapshotPath: string;
  private readonly state: CatalogState;
  private readonly eventLog: EventLog;
  private readonly debounceMs: number;
  private readonly logStyle: LogStyle;
  private readonly maxDelayMs: number;
  private readonly log: (err: WeftError, context: Record<string, unknown>) => void;
  private pending: string[] = [];
  private dirty = false;
  private dirtySince = 0;
  private timer?: NodeJS.Timeout;
  private snapshotDue = false;
  private draining?: Promise<void>;
  private drainScheduled = false;
  private closed = false;
  private readonly counters = { written: 0, snapshots: 0, logFailed: 0, replayed: 0 };

  private constructor(options: FileSinkOptions, state: CatalogState) {
    this.dir = options.dir;
    this.snapshotPath = join(options.dir, SNAPSHOT_FILE);
    this.state = state;
    this.debounceMs = options.snapshotDebounceMs ?? 1000;
    this.logStyle = options.logStyle ?? 'block';
    this.maxDelayMs = Math.max(options.snapshotMaxDelayMs ?? 10_000, this.debounceMs);
    this.log = options.log ?? ((err, ctx) => logError(err, ctx));
    this.eventLog = new EventLog(options.dir, options.maxLogBytes ?? 16 * 1024 * 1024, options.keepLogs ?? 5);
  }

  /** Opens the directory: loads snapshot.json, replays events.yaml over it, opens the log for appending. */
  static async open(options: FileSinkOptions): Promise<FileSink> {
    for (const [name, v] of [['maxLogBytes', options.maxLogBytes], ['snapshotDebounceMs', options.snapshotDebounceMs]] as const) {
      if (v !== undefined && (!Number.isFinite(v) || v <= 0)) throw new WeftError('WEFT-S009', `${name} must be positive, got ${v}`);
    }
    if (options.keepLogs !== undefined && (!Number.isSafeInteger(options.keepLogs) || options.keepLogs < 0)) {
      throw new WeftError('WEFT-S009', `keepLogs must be a non-negative integer, got ${options.keepLogs}`);
    }
    if (!options.dir) throw new WeftError('WEFT-S009', 'an output directory is required');
    try {
      mkdirSync(options.dir, { recursive: true });
    } catch (err) {
      throw new WeftError('WEFT-S006', `cannot create ${options.dir}: ${(err as Error).message}`, { dir: options.dir });
    }
    const log = options.log ?? ((err: WeftError, ctx: Record<string, unknown>) => logError(err, ctx));
    const snapshotPath = join(options.dir, SNAPSHOT_FILE);
    await removeStaleTemps(snapshotPath);
    const sink = new FileSink(options, FileSink.loadSnapshot(snapshotPath, options.maxTombstones, log));
    const { events, skipped, completeBytes, totalBytes } = await readEventLog(sink.eventLog.path);
    for (const e of events) sink.state.apply(e);
    sink.counters.replayed = events.length;
    if (skipped) log(new WeftError('WEFT-S008', `${skipped} incomplete or invalid documents in ${sink.eventLog.path} skipped on replay`), { file: sink.eventLog.path });
    if (completeBytes < totalBytes) await sink.eventLog.truncateTo(completeBytes);
    await sink.eventLog.open();
    return sink;
  }

  private static loadSnapshot(path: string, maxTombstones: number | undefined, log: FileSinkOptions['log'] & {}): CatalogState {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new CatalogState(maxTombstones);
      throw new WeftError('WEFT-S006', `cannot read ${path}: ${(err as Error).message}`, { file: path });
    }
    try {
      return CatalogState.fromSnapshot(JSON.parse(text), maxTombstones);
    } catch (err) {
      const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      renameSync(path, aside);
      log(new WeftError('WEFT-S005', `${path}: ${(err as Error).message}`), { file: path, movedTo: aside });
      return new CatalogState(maxTombstones);
    }
  }

  // ---- reading ----

  /** The deduplicated catalog: one entry per kind+uid, sorted. */
  entries(): SyncEvent[] {
    return this.state.list();
  }

  get(kind: string, uid: string): SyncEvent | undefined {
    return this.state.get(kind, uid);
  }

  /** Highest version seen (snapshot, replay or live); feed it to SyncEngine.advanceVersion. */
  get maxVersion(): number {
    return this.state.maxVersion;
  }

  stats(): FileSinkStats {
    return {
      ...this.counters,
      logBytes: this.eventLog.bytesWritten,
      rotations: this.eventLog.rotations,
      entries: this.state.size,
    };
  }

  // ---- writing ----

  write(event: SyncEvent): void {
    if (this.closed) {
      this.counters.logFailed++;
      this.log(new WeftError('WEFT-S006', 'event written after close()'), { dir: this.dir, version: event.version, uid: event.uid });
      return;
    }
    this.counters.written++;
    this.pending.push(eventDocument(event, this.logStyle));
    if (this.state.apply(event)) this.markDirty();
    this.scheduleDrain();
  }

  /** Appends everything written so far to the log and writes the snapshot now. */
  async flush(): Promise<void> {
    if (this.dirty) this.snapshotDue = true;
    await this.drain();
    await this.eventLog.sync().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.snapshotDue = true; // always leave a snapshot behind, even if nothing changed
    await this.drain();
    await this.eventLog.sync().catch(() => undefined);
    await this.eventLog.close();
  }

  private markDirty(): void {
    const now = Date.now();
    if (!this.dirty) {
      this.dirty = true;
      this.dirtySince = now;
    }
    if (this.closed) return;
    if (!this.timer) {
      this.timer = setTimeout(() => this.onTimer(), this.debounceMs);
    } else if (now - this.dirtySince + this.debounceMs <= this.maxDelayMs) {
      this.timer.refresh(); // debounce: restart the wait, within the max delay
    }
  }

  private onTimer(): void {
    this.timer = undefined;
    this.snapshotDue = true;
    void this.drain();
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    // One batch per turn of the event loop: many writes, one file write.
    setImmediate(() => {
      this.drainScheduled = false;
      void this.drain();
    });
  }

  /** Runs the single writer: log appends (with rotation), then the snapshot if due. Never rejects. */
  private drain(): Promise<void> {
    if (!this.draining) {
      this.draining = (async () => {
        try {
          while (this.pending.length || this.snapshotDue) {
            if (this.pending.length) await this.appendPending();
            if (this.snapshotDue) await this.writeSnapshot();
          }
        } finally {
          this.draining = undefined;
        }
      })();
    }
    return this.draining;
  }

  private async appendPending(): Promise<void> {
    const docs = this.pending;
    this.pending = [];
    let chunk = '';
    let chunkBytes = 0;
    let appended = 0; // documents safely in the log
    let inChunk = 0;
    try {
      for (const doc of docs) {
        const bytes = Buffer.byteLength(doc);
        if (this.eventLog.wouldOverflow(chunkBytes, bytes)) {
          await this.eventLog.append(chunk);
          appended += inChunk;
          chunk = '';
          chunkBytes = 0;
          inChunk = 0;
          // The rotated file must be covered by a snapshot before it leaves the replay set.
          await this.writeSnapshot();
          await this.eventLog.rotate();
        }
        chunk += doc;
        chunkBytes += bytes;
        inChunk++;
      }
      await this.eventLog.append(chunk);
    } catch (err) {
      const lost = docs.length - appended;
      this.counters.logFailed += lost;
      this.log(new WeftError('WEFT-S006', `event log: ${(err as Error).message}`), { file: this.eventLog.path, events: lost });
    }
  }

  private async writeSnapshot(): Promise<void> {
    this.snapshotDue = false;
    this.dirty = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    // Serialize now: the file holds exactly the state at this moment.
    const text = `${JSON.stringify(this.state.toSnapshot())}\n`;
    try {
      await writeFileAtomic(this.snapshotPath, text);
      this.counters.snapshots++;
    } catch (err) {
      this.log(new WeftError('WEFT-S006', `snapshot: ${(err as Error).message}`), { file: this.snapshotPath });
      if (!this.closed) this.markDirty(); // try again on the debounce
    }
  }
}
