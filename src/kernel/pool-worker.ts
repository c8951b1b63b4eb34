// The Piscina worker: runs kernel batch operations on its own thread with its
// own kernel instances (loaded once per worker, on first use).
//
// A task names an operation and carries only typed arrays and numbers, so it
// crosses the thread boundary either by transfer (ArrayBuffers moved, zero
// copy) or over SharedArrayBuffer views (no move at all). Results go back the
// same way: transferred buffers are returned; shared views are written in place.
import { runPoolOperation, type PoolTask } from './pool-operations.js';

export default function runTask(task: PoolTask): unknown {
  return runPoolOperation(task);
}
