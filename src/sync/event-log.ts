// The append-only event log: every event as one YAML document
// ("---" ... "..."), in events.yaml, rotated by size to events.yaml.1 (newest)
// … events.yaml.<keep> (oldest). The explicit end marker "..." tells a complete
// document from one torn by a crash mid-append.
import { open, rename, rm, stat, readFile, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { eventProblem, type SyncEvent } from './events.js';

export const LOG_FILE = 'events.yaml';
const END_MARKER = '...\n';

/**
 * How documents are written: 'block' is the yaml package's block style (easy
 * to read); 'flow' writes each value as JSON, which YAML 1.2 reads as flow
 * style — the same data, ~20x cheaper to produce (see bench/sync).
 */
export type LogStyle = 'block' | 'flow';

/** One event as a complete YAML document. */
export function eventDocument(e: SyncEvent, style: LogStyle = 'block'): string {
  if (style === 'flow') {
    return (
      `---\nuid: ${JSON.stringify(e.uid)}\nversion: ${e.version}\ntimestamp: ${JSON.stringify(e.timestamp)}\n` +
      `agent: ${JSON.stringify(e.agent)}\nkind: ${e.kind}\nevent: ${e.event}\nobject: ${JSON.stringify(e.object)}\n${END_MARKER}`
    );
  }
  return `---\n${stringify(e, { lineWidth: 0 })}${END_MARKER}`;
}

export interface ReplayResult {
  events: SyncEvent[];
  /** Documents skipped: torn by a crash, or not valid events. */
  skipped: number;
  /** Bytes up to the end of the last complete document (what a torn file should be cut to). */
  completeBytes: number;
  totalBytes: number;
}

/** Reads the complete, valid events of one log file (a missing file is empty). */
export async function readEventLog(path: string): Promise<ReplayResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { events: [], skipped: 0, completeBytes: 0, totalBytes: 0 };
    throw err;
  }
  let skipped = 0;
  // A crash can tear only the last document; cut it unless it ended.
  const end = text.lastIndexOf(`\n${END_MARKER}`);
  const complete = end < 0 ? '' : text.slice(0, end + 1 + END_MARKER.length);
  if (complete.length < text.length) skipped++;
  const events: SyncEvent[] = [];
  for (const doc of parseAllDocuments(complete)) {
    if (doc.errors.length) {
      skipped++;
      continue;
    }
    const value: unknown = doc.toJS();
    if (eventProblem(value)) skipped++;
    else events.push(value as SyncEvent);
  }
  return { events, skipped, completeBytes: Buffer.byteLength(complete), totalBytes: Buffer.byteLength(text) };
}

export class EventLog {
  readonly path: string;
  private fh?: FileHandle;
  private size = 0;
  rotations = 0;
  bytesWritten = 0;

  constructor(
    readonly dir: string,
    private readonly maxBytes: number,
    private readonly keep: number,
  ) {
    this.path = join(dir, LOG_FILE);
  }

  /** Cuts a document torn by a crash off the end, so the next append starts clean. */
  async truncateTo(bytes: number): Promise<void> {
    await truncate(this.path, bytes);
  }

  async open(): Promise<void> {
    this.fh = await open(this.path, 'a', 0o644);
    this.size = (await stat(this.path)).size;
  }

  /**
   * Whether a document of `bytes`, after `chunked` bytes not yet appended,
   * would pass the size limit. A document is never split: one larger than the
   * limit gets a file of its own.
   */
  wouldOverflow(chunked: number, bytes: number): boolean {
    return this.size + chunked > 0 && this.size + chunked + bytes > this.maxBytes;
  }

  async append(chunk: string): Promise<void> {
    if (!chunk) return;
    const data = Buffer.from(chunk, 'utf8');
    await this.fh!.write(data);
    this.size += data.byteLength;
    this.bytesWritten += data.byteLength;
  }

  /** events.yaml -> .1 -> .2 … the oldest beyond `keep` is deleted. */
  async rotate(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
    if (this.keep <= 0) await rm(this.path, { force: true });
    else {
      await rm(`${this.path}.${this.keep}`, { force: true });
      for (let i = this.keep - 1; i >= 1; i--) {
        await rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
      }
      await rename(this.path, `${this.path}.1`);
    }
    this.rotations++;
    await this.open();
  }

  async sync(): Promise<void> {
    await this.fh?.sync();
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
  }
}
