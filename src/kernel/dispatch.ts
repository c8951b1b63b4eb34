// Chooses where a batch of AEAD records is sealed or opened: inline on the
// event loop (a WASM call, no hop) or split across the worker pool.
//
// A pool hop costs a fixed round trip plus moving the bytes; it pays only when
// the batch is large enough that sealing it inline would hold the event loop
// for much longer than that. The default crossover comes from `npm run bench
// pool` on the reference machine (docs/kernels.md); pass your own to override.
import { aeadKernel, AEAD_TAG_LENGTH } from './aead.js';
import { preferredVariant, type KernelVariant } from './load.js';
import { KernelPool } from './pool.js';
import type { SealRecordsResult, OpenRecordsResult } from './pool-operations.js';

/** Batches below this many payload bytes are sealed inline (measured; docs/kernels.md). */
export const DEFAULT_INLINE_BELOW_BYTES = 1024 * 1024;

export type PoolTransport = 'shared' | 'transfer';

export interface AeadDispatcherOptions {
  /** The pool to use for large batches; without one everything runs inline. */
  pool?: KernelPool;
  /** Payload bytes under which a batch runs inline. */
  inlineBelowBytes?: number;
  /**
   * How bytes reach the workers. 'shared': shards are views of SharedArrayBuffers
   * (zero copy when the caller's buffers are shared, one copy in and out when
   * not). 'transfer': each shard is copied into its own ArrayBuffer and moved.
   */
  transport?: PoolTransport;
  variant?: KernelVariant;
}

interface Shard {
  first: number;
  count: number;
  inStart: number;
  inEnd: number;
  outStart: number;
  outEnd: number;
  aadStart: number;
  aadEnd: number;
}

/** Splits records into up to `parts` runs of about equal bytes. */
function shardRecords(lengths: Uint32Array, aadLengths: Uint32Array | undefined, parts: number, outLength: (inLength: number) => number): Shard[] {
  let total = 0;
  for (const l of lengths) total += l;
  const target = total / parts;
  const shards: Shard[] = [];
  let first = 0, inPos = 0, outPos = 0, aadPos = 0, acc = 0;
  let start = { inPos, outPos, aadPos };
  for (let i = 0; i < lengths.length; i++) {
    const l = lengths[i]!;
    acc += l;
    inPos += l;
    outPos += outLength(l);
    aadPos += aadLengths ? aadLengths[i]! : 0;
    const last = i === lengths.length - 1;
    if (last || (acc >= target && shards.length < parts - 1)) {
      shards.push({ first, count: i + 1 - first, inStart: start.inPos, inEnd: inPos, outStart: start.outPos, outEnd: outPos, aadStart: start.aadPos, aadEnd: aadPos });
      first = i + 1;
      acc = 0;
      start = { inPos, outPos, aadPos };
    }
  }
  return shards;
}

// Where each record's output lands (as in aead.ts): a sealed record grows by its
// tag; an opened one shrinks by it, and one shorter than a tag takes no room.
const sealedLength = (l: number) => l + AEAD_TAG_LENGTH;
const openedLength = (l: number) => Math.max(0, l - AEAD_TAG_LENGTH);

const isShared = (a: ArrayBufferView) => a.buffer instanceof SharedArrayBuffer;

/**
 * Reusable SharedArrayBuffer scratch for callers whose buffers are not shared:
 * allocating (and zero-filling) a fresh SharedArrayBuffer per call costs more
 * than the sealing, so each call borrows a scratch pair and gives it back.
 */
class SharedScratch {
  private readonly free: { input: Uint8Array; output: Uint8Array }[] = [];

  acquire(inputBytes: number, outputBytes: number): { input: Uint8Array; output: Uint8Array } {
    const s = this.free.pop();
    if (s && s.input.length >= inputBytes && s.output.length >= outputBytes) return s;
    const grow = (n: number, old?: Uint8Array) => new Uint8Array(new SharedArrayBuffer(Math.max(n, old ? old.length * 2 : 0)));
    return { input: grow(inputBytes, s?.input), output: grow(outputBytes, s?.output) };
  }

  release(s: { input: Uint8Array; output: Uint8Array }): void {
    // Keep a couple: concurrent calls each need their own.
    if (this.free.length < 4) this.free.push(s);
  }
}

type ShardMode = 'zero-copy' | 'shared-copy' | 'transfer';
type Scratch = { input: Uint8Array; output: Uint8Array };

/**
 * The buffers a shard's task carries: the caller's own views when they are
 * shared (zero copy), slices of the shared scratch, or fresh ArrayBuffers to
 * transfer. The input is copied in for the last two; the output is copied back
 * by the caller once the task returns.
 */
function shardBuffers(mode: ShardMode, scratch: Scratch | undefined, s: Shard, input: Uint8Array, outView: Uint8Array): { taskIn: Uint8Array; taskOut: Uint8Array } {
  const inView = input.subarray(s.inStart, s.inEnd);
  if (mode === 'zero-copy') return { taskIn: inView, taskOut: outView };
  if (scratch) {
    const taskIn = scratch.input.subarray(s.inStart, s.inEnd);
    taskIn.set(inView);
    return { taskIn, taskOut: scratch.output.subarray(s.outStart, s.outEnd) };
  }
  return { taskIn: inView.slice(), taskOut: new Uint8Array(outView.length) };
}

export class AeadDispatcher {
  readonly inlineBelowBytes: number;
  readonly transport: PoolTransport;
  readonly variant: KernelVariant;
  private readonly pool: KernelPool | undefined;
  private readonly scratch = new SharedScratch();

  constructor(options: AeadDispatcherOptions = {}) {
    this.pool = options.pool;
    this.inlineBelowBytes = options.inlineBelowBytes ?? DEFAULT_INLINE_BELOW_BYTES;
    this.transport = options.transport ?? 'shared';
    this.variant = options.variant ?? preferredVariant();
  }

  /** How a batch's bytes reach the workers given where the caller's buffers live. */
  private modeFor(input: Uint8Array, output: Uint8Array): ShardMode {
    if (this.transport === 'transfer') return 'transfer';
    return isShared(input) && isShared(output) ? 'zero-copy' : 'shared-copy';
  }

  /** Where a batch of this many payload bytes would run. */
  placement(payloadBytes: number): 'inline' | 'pool' {
    return this.pool && payloadBytes >= this.inlineBelowBytes ? 'pool' : 'inline';
  }

  /** Seals records (see sealRecords in aead.ts); resolves to the bytes written to out. */
  async sealRecords(
    key: Uint8Array, nonceBase: Uint8Array, counterStart: bigint, records: Uint8Array, lengths: Uint32Array, out: Uint8Array,
    aad?: Uint8Array, aadLengths?: Uint32Array,
  ): Promise<number> {
    const kernel = aeadKernel(this.variant);
    if (this.placement(records.length) === 'inline' || !this.pool) {
      return kernel.sealRecords(key, nonceBase, counterStart, records, lengths, out, aad, aadLengths);
    }
    const pool = this.pool;
    const shards = shardRecords(lengths, aadLengths, pool.threads, sealedLength);
    const outBytes = shards[shards.length - 1]!.outEnd;
    const mode = this.modeFor(records, out);
    const scratch = mode === 'shared-copy' ? this.scratch.acquire(records.length, outBytes) : undefined;
    try {
      const written = await Promise.all(shards.map(async (s) => {
        const outView = out.subarray(s.outStart, s.outEnd);
        const { taskIn, taskOut } = shardBuffers(mode, scratch, s, records, outView);
        const task = {
          op: 'sealRecords' as const,
          variant: this.variant,
          key, nonceBase,
          counterStart: counterStart + BigInt(s.first),
          records: taskIn,
          lengths: lengths.slice(s.first, s.first + s.count),
          out: taskOut,
          aad: aad?.slice(s.aadStart, s.aadEnd),
          aadLengths: aadLengths?.slice(s.first, s.first + s.count),
        };
        const transfer = mode === 'transfer' ? [taskIn.buffer as ArrayBuffer, taskOut.buffer as ArrayBuffer] : [];
        const r = await pool.run<SealRecordsResult>(task, transfer);
        if (mode !== 'zero-copy') outView.set(r.out ?? taskOut);
        return r.written;
      }));
      return written.reduce((a, b) => a + b, 0);
    } finally {
      if (scratch) this.scratch.release(scratch);
    }
  }

  /** Opens records (see openRecords in aead.ts); resolves to how many failed. */
  async openRecords(
    key: Uint8Array, nonceBase: Uint8Array, counterStart: bigint, sealed: Uint8Array, sealedLengths: Uint32Array, out: Uint8Array,
    results: Int32Array, aad?: Uint8Array, aadLengths?: Uint32Array,
  ): Promise<number> {
    const kernel = aeadKernel(this.variant);
    if (this.placement(sealed.length) === 'inline' || !this.pool) {
      return kernel.openRecords(key, nonceBase, counterStart, sealed, sealedLengths, out, results, aad, aadLengths);
    }
    const pool = this.pool;
    const shards = shardRecords(sealedLengths, aadLengths, pool.threads, openedLength);
    const outBytes = shards[shards.length - 1]!.outEnd;
    const mode: ShardMode = isShared(results) ? this.modeFor(sealed, out) : this.transport === 'shared' ? 'shared-copy' : 'transfer';
    const scratch = mode === 'shared-copy' ? this.scratch.acquire(sealed.length, outBytes) : undefined;
    try {
      const failed = await Promise.all(shards.map(async (s) => {
        const outView = out.subarray(s.outStart, s.outEnd);
        const resultView = results.subarray(s.first, s.first + s.count);
        const { taskIn, taskOut } = shardBuffers(mode, scratch, s, sealed, outView);
        const task = {
          op: 'openRecords' as const,
          variant: this.variant,
          key, nonceBase,
          counterStart: counterStart + BigInt(s.first),
          sealed: taskIn,
          sealedLengths: sealedLengths.slice(s.first, s.first + s.count),
          out: taskOut,
          results: mode === 'zero-copy' ? resultView : new Int32Array(mode === 'shared-copy' ? new SharedArrayBuffer(s.count * 4) : new ArrayBuffer(s.count * 4)),
          aad: aad?.slice(s.aadStart, s.aadEnd),
          aadLengths: aadLengths?.slice(s.first, s.first + s.count),
        };
        const transfer = mode === 'transfer'
          ? [task.sealed.buffer as ArrayBuffer, task.out.buffer as ArrayBuffer, task.results.buffer as ArrayBuffer]
          : [];
        const shardOut = task.out, shardResults = task.results;
        const r = await pool.run<OpenRecordsResult>(task, transfer);
        if (mode !== 'zero-copy') {
          const got = r.out ?? shardOut;
          const res = r.results ?? shardResults;
          // Only authenticated records' plaintext is released into the caller's buffer.
          let pos = 0;
          const lens = task.sealedLengths;
          for (let i = 0; i < s.count; i++) {
            const plain = Math.max(0, lens[i]! - AEAD_TAG_LENGTH);
            if (res[i]! >= 0) outView.set(got.subarray(pos, pos + plain), pos);
            pos += plain;
          }
          resultView.set(res);
        }
        return r.failed;
      }));
      return failed.reduce((a, b) => a + b, 0);
    } finally {
      if (scratch) this.scratch.release(scratch);
    }
  }
}
