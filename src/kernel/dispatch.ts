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
export const DEFAULT_INLINE_BELOW_BYTES = 256 * 1024;

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

/** Copies a view into fresh memory of the chosen kind. */
function copyTo(kind: PoolTransport, src: Uint8Array): Uint8Array {
  const dst = new Uint8Array(kind === 'shared' ? new SharedArrayBuffer(src.length) : new ArrayBuffer(src.length));
  dst.set(src);
  return dst;
}
function zeroed(kind: PoolTransport, length: number): Uint8Array {
  return new Uint8Array(kind === 'shared' ? new SharedArrayBuffer(length) : new ArrayBuffer(length));
}

export class AeadDispatcher {
  readonly inlineBelowBytes: number;
  readonly transport: PoolTransport;
  readonly variant: KernelVariant;
  private readonly pool: KernelPool | undefined;

  constructor(options: AeadDispatcherOptions = {}) {
    this.pool = options.pool;
    this.inlineBelowBytes = options.inlineBelowBytes ?? DEFAULT_INLINE_BELOW_BYTES;
    this.transport = options.transport ?? 'shared';
    this.variant = options.variant ?? preferredVariant();
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
    const zeroCopy = this.transport === 'shared' && isShared(records) && isShared(out);
    const written = await Promise.all(shards.map(async (s) => {
      const inView = records.subarray(s.inStart, s.inEnd);
      const outView = out.subarray(s.outStart, s.outEnd);
      const task = {
        op: 'sealRecords' as const,
        variant: this.variant,
        key, nonceBase,
        counterStart: counterStart + BigInt(s.first),
        records: zeroCopy ? inView : copyTo(this.transport, inView),
        lengths: lengths.slice(s.first, s.first + s.count),
        out: zeroCopy ? outView : zeroed(this.transport, outView.length),
        aad: aad?.slice(s.aadStart, s.aadEnd),
        aadLengths: aadLengths?.slice(s.first, s.first + s.count),
      };
      const transfer = this.transport === 'transfer' ? [task.records.buffer as ArrayBuffer, task.out.buffer as ArrayBuffer] : [];
      const shardOut = task.out;
      const r = await pool.run<SealRecordsResult>(task, transfer);
      if (!zeroCopy) outView.set(r.out ?? shardOut);
      return r.written;
    }));
    return written.reduce((a, b) => a + b, 0);
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
    const zeroCopy = this.transport === 'shared' && isShared(sealed) && isShared(out) && isShared(results);
    const failed = await Promise.all(shards.map(async (s) => {
      const inView = sealed.subarray(s.inStart, s.inEnd);
      const outView = out.subarray(s.outStart, s.outEnd);
      const resultView = results.subarray(s.first, s.first + s.count);
      const task = {
        op: 'openRecords' as const,
        variant: this.variant,
        key, nonceBase,
        counterStart: counterStart + BigInt(s.first),
        sealed: zeroCopy ? inView : copyTo(this.transport, inView),
        sealedLengths: sealedLengths.slice(s.first, s.first + s.count),
        out: zeroCopy ? outView : zeroed(this.transport, outView.length),
        results: zeroCopy ? resultView : new Int32Array(this.transport === 'shared' ? new SharedArrayBuffer(s.count * 4) : new ArrayBuffer(s.count * 4)),
        aad: aad?.slice(s.aadStart, s.aadEnd),
        aadLengths: aadLengths?.slice(s.first, s.first + s.count),
      };
      const transfer = this.transport === 'transfer'
        ? [task.sealed.buffer as ArrayBuffer, task.out.buffer as ArrayBuffer, task.results.buffer as ArrayBuffer]
        : [];
      const shardOut = task.out, shardResults = task.results;
      const r = await pool.run<OpenRecordsResult>(task, transfer);
      if (!zeroCopy) {
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
  }
}
