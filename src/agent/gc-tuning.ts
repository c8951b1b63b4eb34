// V8 settings for the agent process (not for the tunnel library inside other
// programs). Measured in docs/tunnel.md ("GC on the data path"): with V8's
// default incremental marking, a relaying agent falls — depending on its
// history — into a cycle where every scavenge forced by ArrayBuffer volume
// ("external memory pressure": Node allocates a fresh Buffer per socket read)
// starts incremental marking, and a mark-compact follows every ≈ 15 MiB
// relayed, though the JavaScript heap is not growing. With incremental marking
// off, those runs had no mark-compact and 35–45 % less relay CPU per GB; the
// scavenges still free the read buffers. A mark-compact still happens when the
// old generation does fill, atomically (a pause of a few ms per 10 MB of heap).
import v8 from 'node:v8';

/** Set to 1 to keep V8's incremental marking (e.g. to compare, or for a large agent heap). */
export const INCREMENTAL_MARKING_ENV = 'WEFT_V8_INCREMENTAL_MARKING';

/** Applies the agent's GC settings; returns what it set (for the startup log). */
export function applyAgentGcTuning(env: NodeJS.ProcessEnv = process.env): { incrementalMarking: boolean } {
  if (env[INCREMENTAL_MARKING_ENV] === '1') return { incrementalMarking: true };
  // Read by V8 each time it considers starting a marking cycle, so it takes effect at run time.
  v8.setFlagsFromString('--no-incremental-marking');
  return { incrementalMarking: false };
}
