// A Piscina worker pool that runs the kernels' batch operations off the event
// loop. Workers load their own kernel instances on first use.
//
// A pool task costs a round trip of tens of microseconds (see docs/kernels.md),
// so only batches worth far more than that belong here; src/kernel/dispatch.ts
// makes that choice.
import { Piscina } from 'piscina';
import { availableParallelism } from 'node:os';
import { WeftError } from '../errors.js';
import type { KernelVariant } from './load.js';
import type { PoolTask, SealRecordsResult, OpenRecordsResult } from './pool-operations.js';

export interface KernelPoolOptions {
  /** Worker threads (default: the machine's parallelism). */
  threads?: number;
  /** Milliseconds an idle worker lives (default: forever; kernels are costly to reload). */
  idleTimeout?: number;
}

const WORKER_FILE = new URL('./pool-worker.js', import.meta.url).href;

export class KernelPool {
  readonly threads: number;
  private readonly piscina: Piscina;

  constructor(options: KernelPoolOptions = {}) {
    this.threads = Math.max(1, options.threads ?? availableParallelism());
    this.piscina = new Piscina({
      filename: WORKER_FILE,
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: options.idleTimeout ?? Number.POSITIVE_INFINITY,
      // Tasks are CPU-bound and short: one at a time per worker keeps latency flat.
      concurrentTasksPerWorker: 1,
    });
  }

  /** Runs a task; buffers in `transfer` are moved to the worker (the caller's views go empty). */
  async run<R extends SealRecordsResult | OpenRecordsResult | number>(task: PoolTask, transfer: ArrayBuffer[] = []): Promise<R> {
    try {
      return (await this.piscina.run(task, { transferList: transfer })) as R;
    } catch (err) {
      throw new WeftError('WEFT-K006', (err as Error).message, { op: task.op });
    }
  }

  /** Starts every worker and loads its kernels, so the first real task pays no start-up. */
  async warm(variant?: KernelVariant): Promise<void> {
    await Promise.all(Array.from({ length: this.threads * 2 }, () => this.run({ op: 'warm', variant })));
  }

  /** Tasks waiting for a worker. */
  get queued(): number {
    return this.piscina.queueSize;
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}
