// W3C Trace Context (traceparent) and x-request-id. The proxy is a span of its
// own: a valid incoming traceparent keeps its trace id and flags and gets a new
// parent id (this hop's span id); a missing or invalid one starts a new trace.
// Random ids come from a pooled buffer refilled by the CSPRNG, so a request
// costs no crypto call of its own.
import { randomFillSync, randomUUID } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/** `bytes` random bytes as lower-case hex. */
export function randomHex(bytes: number): string {
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const s = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return s;
}

/** A random id that is not all zeros (W3C forbids those). */
function nonZeroHex(bytes: number): string {
  for (;;) {
    const s = randomHex(bytes);
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== 0x30) return s;
  }
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

export interface TraceContext {
  readonly traceId: string;
  /** This hop's span id: the parent id the upstream sees. */
  readonly spanId: string;
  /** The caller's span id, when a valid traceparent came in. */
  readonly parentId: string | undefined;
  readonly flags: string;
  /** What to send upstream. */
  readonly traceparent: string;
}

/** Parses the incoming traceparent (W3C rules: version ff invalid, version 00 exactly 55 chars, no all-zero ids). */
export function parseTraceparent(value: string | undefined): { traceId: string; parentId: string; flags: string } | undefined {
  if (value === undefined || value.length < 55) return undefined;
  const m = TRACEPARENT.exec(value);
  if (!m) return undefined;
  const [, version, traceId, parentId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined;
  return { traceId, parentId, flags };
}

const ZERO16 = '0'.repeat(16);
const ZERO32 = '0'.repeat(32);

export function nextTrace(incoming: string | undefined): TraceContext {
  const parsed = parseTraceparent(incoming);
  let spanId: string;
  let traceId: string;
  if (parsed) {
    spanId = nonZeroHex(8);
    traceId = parsed.traceId;
  } else {
    // A new trace: span and trace id from one read of the pool.
    const both = randomHex(24);
    spanId = both.slice(0, 16);
    traceId = both.slice(16);
    if (spanId === ZERO16) spanId = nonZeroHex(8);
    if (traceId === ZERO32) traceId = nonZeroHex(16);
  }
  // A new trace is sampled: the proxy is where it starts.
  const flags = parsed?.flags ?? '01';
  return { traceId, spanId, parentId: parsed?.parentId, flags, traceparent: `00-${traceId}-${spanId}-${flags}` };
}

const REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

/** The incoming x-request-id if it is sane, else a new UUID. */
export function requestId(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}
