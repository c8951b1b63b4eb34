// The operations a kernel worker runs. Each takes only typed arrays, bigints and
// numbers, so a task crosses threads by transfer or over shared memory.
//
// Transfer mode: `records` and `out` are views over ArrayBuffers the caller
// moved to the worker; the worker fills `out` and hands both back.
// Shared mode: the views lie over SharedArrayBuffers; the worker writes `out`
// in place and returns only numbers.
import { sealRecords, openRecords, aeadKernel } from './aead.js';
import type { KernelVariant } from './load.js';

export interface SealRecordsTask {
  op: 'sealRecords';
  variant?: KernelVariant;
  key: Uint8Array;
  nonceBase: Uint8Array;
  counterStart: bigint;
  records: Uint8Array;
  lengths: Uint32Array;
  out: Uint8Array;
  aad?: Uint8Array;
  aadLengths?: Uint32Array;
}

export interface OpenRecordsTask {
  op: 'openRecords';
  variant?: KernelVariant;
  key: Uint8Array;
  nonceBase: Uint8Array;
  counterStart: bigint;
  sealed: Uint8Array;
  sealedLengths: Uint32Array;
  out: Uint8Array;
  results: Int32Array;
  aad?: Uint8Array;
  aadLengths?: Uint32Array;
}

/** An empty task: measures one round trip through the pool. */
export interface PingTask {
  op: 'ping';
}

/** Loads this worker's kernels so the first real task pays no start-up. */
export interface WarmTask {
  op: 'warm';
  variant?: KernelVariant;
}

export type PoolTask = SealRecordsTask | OpenRecordsTask | PingTask | WarmTask;

export interface SealRecordsResult {
  written: number;
  /** Returned in transfer mode so the caller gets its buffers back. */
  out?: Uint8Array;
  records?: Uint8Array;
}

export interface OpenRecordsResult {
  failed: number;
  out?: Uint8Array;
  results?: Int32Array;
  sealed?: Uint8Array;
}

const isShared = (a: ArrayBufferView) => a.buffer instanceof SharedArrayBuffer;

/** Runs one task on this thread's kernels. */
export function runPoolOperation(task: PoolTask): SealRecordsResult | OpenRecordsResult | number {
  switch (task.op) {
    case 'ping':
      return 0;
    case 'warm':
      aeadKernel(task.variant);
      return 0;
    case 'sealRecords': {
      const written = sealRecords(task.key, task.nonceBase, task.counterStart, task.records, task.lengths, task.out, task.aad, task.aadLengths, task.variant);
      return isShared(task.out) ? { written } : { written, out: task.out, records: task.records };
    }
    case 'openRecords': {
      const failed = openRecords(task.key, task.nonceBase, task.counterStart, task.sealed, task.sealedLengths, task.out, task.results, task.aad, task.aadLengths, task.variant);
      return isShared(task.out) ? { failed } : { failed, out: task.out, results: task.results, sealed: task.sealed };
    }
    default:
      throw new Error(`unknown pool operation ${(task as { op: string }).op}`);
  }
}
