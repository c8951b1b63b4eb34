// Worker pool: the cost of one round trip, and MB/s sealing 64 MiB in batches
// inline vs on 1..N pool threads over shared memory and by transfer. Also the
// crossover: the smallest batch for which the pool beats inline, which sets
// DEFAULT_INLINE_BELOW_BYTES (docs/kernels.md).
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { KernelPool } from '../src/kernel/pool.js';
import { AeadDispatcher, DEFAULT_INLINE_BELOW_BYTES, type PoolTransport } from '../src/kernel/dispatch.js';
import { aeadKernel } from '../src/kernel/aead.js';
import { measure, printTable, printGrid, writeResults, assertSameBytes, type BenchRow } from './lib.js';

const TOTAL = 64 * 1024 * 1024;
const RECORD = 16 * 1024;

function makeBatch(bytes: number, shared: boolean) {
  const count = Math.max(1, Math.floor(bytes / RECORD));
  const recordLength = Math.min(RECORD, bytes);
  const lengths = new Uint32Array(count).fill(recordLength);
  const mk = (n: number) => new Uint8Array(shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
  const records = mk(count * recordLength);
  records.set(randomBytes(records.length));
  return { lengths, records, out: mk(count * (recordLength + 16)) };
}

async function timeIt(fn: () => Promise<unknown> | unknown, minMs = 300): Promise<number> {
  await fn();
  let runs = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    await fn();
    runs++;
  }
  return (performance.now() - start) / runs; // ms per call
}

export async function run(): Promise<void> {
  const maxThreads = Math.max(2, availableParallelism());
  const key = randomBytes(32), nonceBase = randomBytes(12);
  const kernel = aeadKernel();

  // 1. Round trip of one small task.
  const pool1 = new KernelPool({ threads: 1 });
  await pool1.warm();
  const rtRows = await measure([{ group: 'pool round trip', name: 'ping (1 thread)', fn: () => pool1.run({ op: 'ping' }) }]);
  await pool1.close();
  printTable('Pool: one small task, round trip', rtRows);

  // 2. MB/s sealing 64 MiB in 4 MiB batches.
  const batchBytes = 4 * 1024 * 1024;
  const batches = TOTAL / batchBytes;
  const plain = makeBatch(batchBytes, false);
  const shared = makeBatch(batchBytes, true);
  shared.records.set(plain.records);
  const expected = new Uint8Array(plain.out.length);
  kernel.sealRecords(key, nonceBase, 0n, plain.records, plain.lengths, expected);
  const throughput: BenchRow[] = [];
  const seal64 = async (fn: () => Promise<unknown> | unknown) => {
    const ms = await timeIt(async () => { for (let b = 0; b < batches; b++) await fn(); }, 1000);
    return ms;
  };
  const row = (name: string, ms: number): BenchRow => ({ group: 'seal 64 MiB (4 MiB batches of 16 KiB records)', name, opsPerSec: 1000 / ms, nsPerOp: ms * 1e6, mbPerSec: TOTAL / 1e6 / (ms / 1000), samples: 0 });
  throughput.push(row('inline', await seal64(() => kernel.sealRecords(key, nonceBase, 0n, plain.records, plain.lengths, plain.out))));
  const poolResults: Record<string, number> = {};
  for (let threads = 1; threads <= maxThreads; threads++) {
    const pool = new KernelPool({ threads });
    await pool.warm();
    for (const transport of ['shared', 'transfer'] as PoolTransport[]) {
      const d = new AeadDispatcher({ pool, transport, inlineBelowBytes: 0 });
      const check = new Uint8Array(expected.length);
      await d.sealRecords(key, nonceBase, 0n, plain.records, plain.lengths, check);
      assertSameBytes(`pool ${threads} ${transport}`, check, expected);
      const ms = await seal64(() => d.sealRecords(key, nonceBase, 0n, plain.records, plain.lengths, plain.out));
      throughput.push(row(`pool ${threads} thread${threads > 1 ? 's' : ''}, ${transport}`, ms));
      poolResults[`${threads}:${transport}`] = ms;
    }
    const d = new AeadDispatcher({ pool, transport: 'shared', inlineBelowBytes: 0 });
    const ms = await seal64(() => d.sealRecords(key, nonceBase, 0n, shared.records, shared.lengths, shared.out));
    assertSameBytes(`pool ${threads} zero-copy`, new Uint8Array(shared.out), expected);
    throughput.push(row(`pool ${threads} thread${threads > 1 ? 's' : ''}, shared zero-copy`, ms));
    await pool.close();
  }
  printTable('Pool: sealing 64 MiB', throughput, 'inline');

  // 3. Crossover: ms per batch, inline vs pool (all threads, shared), by batch size.
  const pool = new KernelPool({ threads: maxThreads });
  await pool.warm();
  const dispatcher = new AeadDispatcher({ pool, transport: 'shared', inlineBelowBytes: 0 });
  const sizes = [4, 16, 64, 256, 1024, 4096].map((k) => k * 1024);
  const crossover: { bytes: number; inlineUs: number; poolUs: number; zeroCopyUs: number }[] = [];
  for (const bytes of sizes) {
    const b = makeBatch(bytes, false);
    const s = makeBatch(bytes, true);
    const inlineMs = await timeIt(() => kernel.sealRecords(key, nonceBase, 0n, b.records, b.lengths, b.out));
    const poolMs = await timeIt(() => dispatcher.sealRecords(key, nonceBase, 0n, b.records, b.lengths, b.out));
    const zeroMs = await timeIt(() => dispatcher.sealRecords(key, nonceBase, 0n, s.records, s.lengths, s.out));
    crossover.push({ bytes, inlineUs: inlineMs * 1000, poolUs: poolMs * 1000, zeroCopyUs: zeroMs * 1000 });
  }
  await pool.close();
  const firstWin = crossover.find((c) => c.poolUs < c.inlineUs);
  printGrid(`Pool: crossover (µs per batch, ${maxThreads} threads, shared)`, ['batch', 'inline µs', 'pool µs', 'pool zero-copy µs', 'pool/inline'],
    crossover.map((c) => [`${c.bytes / 1024} KiB`, c.inlineUs.toFixed(1), c.poolUs.toFixed(1), c.zeroCopyUs.toFixed(1), `${(c.inlineUs / c.poolUs).toFixed(2)}×`]));
  console.log(`pool beats inline from ${firstWin ? `${firstWin.bytes / 1024} KiB` : 'no size measured'}; DEFAULT_INLINE_BELOW_BYTES = ${DEFAULT_INLINE_BELOW_BYTES / 1024} KiB`);
  writeResults('pool', { roundTrip: rtRows, throughput, crossover, firstPoolWinBytes: firstWin?.bytes ?? null, defaultInlineBelowBytes: DEFAULT_INLINE_BELOW_BYTES });
}
