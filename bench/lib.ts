// Shared plumbing for the benchmark suites: time cases with tinybench, print a
// table, write bench/results/<suite>.json. Suites cross-check outputs before
// timing anything (see assertSameBytes) so a fast wrong answer never prints.
import { Bench } from 'tinybench';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface BenchCase {
  /** Group rows that are compared with each other, e.g. "seal+open 1 KiB". */
  group: string;
  /** The implementation, e.g. "wasm simd", "node:crypto". */
  name: string;
  /** Payload bytes handled by one call, for MB/s. */
  bytes?: number;
  /** Items handled by one call (records, frames, lookups), for items/s. */
  items?: number;
  fn: () => unknown;
}

export interface BenchRow {
  group: string;
  name: string;
  /** Median calls per second. */
  opsPerSec: number;
  /** Median nanoseconds per call. */
  nsPerOp: number;
  /** Median MB/s (10^6 bytes), when bytes is set. */
  mbPerSec?: number;
  /** Median items per second, when items is set. */
  itemsPerSec?: number;
  samples: number;
}

export interface MeasureOptions {
  /** Milliseconds per case (default 300, WEFT_BENCH_TIME overrides). */
  time?: number;
  warmupTime?: number;
}

/** Times every case with tinybench and returns one row per case (medians). */
export async function measure(cases: BenchCase[], options: MeasureOptions = {}): Promise<BenchRow[]> {
  const time = Number(process.env.WEFT_BENCH_TIME ?? options.time ?? 300);
  const rows: BenchRow[] = [];
  for (const c of cases) {
    // One Bench per case keeps tinybench's per-name map simple and lets a slow
    // case not steal time from the others.
    const bench = new Bench({ time, warmupTime: options.warmupTime ?? Math.min(100, time / 3), iterations: 5 });
    bench.add(`${c.group} / ${c.name}`, c.fn as () => void);
    await bench.run();
    const task = bench.tasks[0]!;
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`bench ${c.group} / ${c.name}: ${r.state}${'error' in r ? `: ${String(r.error)}` : ''}`);
    const nsPerOp = r.latency.p50 * 1e6; // tinybench reports milliseconds
    const opsPerSec = 1e9 / nsPerOp;
    const row: BenchRow = { group: c.group, name: c.name, opsPerSec, nsPerOp, samples: r.latency.samplesCount ?? 0 };
    if (c.bytes !== undefined) row.mbPerSec = (c.bytes * opsPerSec) / 1e6;
    if (c.items !== undefined) row.itemsPerSec = c.items * opsPerSec;
    rows.push(row);
  }
  return rows;
}

function fmt(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '';
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** Prints rows as an aligned table; `baseline` adds a "vs <baseline>" ratio column per group. */
export function printTable(title: string, rows: BenchRow[], baseline?: string): void {
  const header = ['group', 'implementation', 'ops/s', 'ns/op', 'MB/s', 'items/s'];
  if (baseline) header.push(`× ${baseline}`);
  const lines = rows.map((r) => {
    const line = [r.group, r.name, fmt(r.opsPerSec), fmt(r.nsPerOp), fmt(r.mbPerSec), fmt(r.itemsPerSec)];
    if (baseline) {
      const base = rows.find((b) => b.group === r.group && b.name === baseline);
      line.push(base ? `${(r.opsPerSec / base.opsPerSec).toFixed(2)}×` : '');
    }
    return line;
  });
  printGrid(title, header, lines);
}

/** Prints any grid of strings as an aligned table. */
export function printGrid(title: string, header: string[], lines: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const pad = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\n${title}`);
  console.log(pad(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const l of lines) console.log(pad(l));
}

/** Writes bench/results/<suite>.json with the machine's facts beside the data. */
export function writeResults(suite: string, data: unknown): string {
  const dir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}${suite}.json`;
  const payload = {
    suite,
    date: new Date().toISOString(),
    machine: { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30) },
    data,
  };
  writeFileSync(file, JSON.stringify(payload, null, 2) + '\n');
  console.log(`wrote ${file}`);
  return file;
}

/** Throws unless two byte arrays are equal: the cross-check before timing. */
export function assertSameBytes(what: string, a: Uint8Array, b: Uint8Array): void {
  if (a.length !== b.length || !Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))) {
    throw new Error(`bench cross-check failed: ${what} differs between implementations`);
  }
}
