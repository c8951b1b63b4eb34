// Every error weft raises is structured: a stable code, a severity, the probable
// cause and the remediation. The registry below is the single source of truth;
// docs/errors.md is generated from it.

export type Severity = 'fatal' | 'error' | 'warning' | 'info';

export interface ErrorSpec {
  readonly severity: Severity;
  readonly title: string;
  readonly cause: string;
  readonly remediation: string;
}

export const ERRORS = {
  'WEFT-K001': {
    severity: 'fatal',
    title: 'kernel could not be loaded',
    cause: 'A build/*.wasm file is missing or was built for another version of weft.',
    remediation: 'Run `npm run build` (or `npm install`) to rebuild the WebAssembly kernels.',
  },
  'WEFT-K002': {
    severity: 'error',
    title: 'record failed authentication',
    cause: 'The Poly1305 tag did not match: the record was altered, truncated, replayed under another key or nonce, or sealed with another key.',
    remediation: 'Drop the session that carried it; if it repeats, look for a peer with a different cluster secret or a middlebox altering traffic.',
  },
  'WEFT-K003': {
    severity: 'error',
    title: 'kernel input out of bounds',
    cause: 'A length, offset or count passed to a kernel lies outside its buffers or limits.',
    remediation: 'This is a bug in the caller: report it with the stack trace; the input was not processed.',
  },
  'WEFT-K004': {
    severity: 'error',
    title: 'malformed frame',
    cause: 'A tunnel frame had an unknown type, reserved bits set or a length over the negotiated maximum.',
    remediation: 'Close the session; check that both agents run compatible weft versions (docs/protocol.md).',
  },
  'WEFT-K005': {
    severity: 'error',
    title: 'service table full',
    cause: 'The service table has no free slot or endpoint space for another entry.',
    remediation: 'Raise the table capacity in the config or remove stale services.',
  },
  'WEFT-K006': {
    severity: 'error',
    title: 'worker pool task failed',
    cause: 'A kernel task on the Piscina worker pool threw or its worker exited.',
    remediation: 'Check the log for the worker error; the pool replaces dead workers, the batch can be retried inline.',
  },
  'WEFT-S001': {
    severity: 'warning',
    title: 'sync events dropped',
    cause: 'A sync sink (NATS) could not deliver fast enough or was disconnected longer than its bounded buffer could hold, so the oldest queued events were dropped. The next delivered event carries a Weft-Gap header and a gap record names the first and last dropped versions.',
    remediation: 'Consumers should re-read the snapshot (weft sync --out, or the JetStream stream) to recover the missed state; raise the sink buffer (maxBuffered) or enable JetStream if outages are expected, and check NATS availability.',
  },
  'WEFT-S002': {
    severity: 'warning',
    title: 'NATS connection lost',
    cause: 'The NATS server closed the connection or became unreachable; the sink keeps events in its bounded buffer and reconnects in the background.',
    remediation: 'Check that nats-server is running and reachable at the configured URL; events are delivered once it is back, unless the buffer overflows (WEFT-S001).',
  },
  'WEFT-S003': {
    severity: 'error',
    title: 'JetStream stream could not be ensured',
    cause: 'Creating or updating the WEFT_<CLUSTER> stream failed: JetStream is not enabled on the server (-js), the account has no JetStream quota, or an existing stream with that name has an incompatible configuration.',
    remediation: 'Start nats-server with -js (and -sd DIR for storage), grant the account JetStream limits, or delete/rename the conflicting stream; the sink retries on every reconnect.',
  },
  'WEFT-S004': {
    severity: 'warning',
    title: 'JetStream publish not acknowledged',
    cause: 'A JetStream publish timed out or was refused (no responders while the server restarts, stream limits, storage full); the event stays queued and is retried in order with the same Nats-Msg-Id so a retry is never stored twice.',
    remediation: 'Usually transient during a server restart. If it persists, check the stream limits (max bytes, max messages) and the server storage.',
  },
  'WEFT-S005': {
    severity: 'error',
    title: 'sync snapshot unreadable',
    cause: 'The snapshot file in the sync output directory is not a valid weft snapshot (edited by hand, written by an incompatible version, or damaged on disk). Snapshots are written atomically, so a crash alone does not cause this.',
    remediation: 'The file was moved aside (snapshot.json.corrupt-<time>) and the sink started empty; the snapshot is rebuilt from the next events. Restore a backup if you need the old state.',
  },
  'WEFT-S006': {
    severity: 'error',
    title: 'sync file write failed',
    cause: 'Appending to the event log, rotating it or writing the snapshot failed: disk full, permissions, or the output directory was removed.',
    remediation: 'Check free space and permissions of the sync output directory (weft sync --out DIR); the sink retries the snapshot on the next change.',
  },
  'WEFT-S007': {
    severity: 'error',
    title: 'invalid sync event',
    cause: 'An event had an unknown kind or event name, an empty uid, or an object that is not plain JSON (functions, BigInt, cycles).',
    remediation: 'This is a bug in the code that feeds the sync engine: kinds and events are listed in docs/sync.md.',
  },
  'WEFT-S008': {
    severity: 'warning',
    title: 'invalid sync input line',
    cause: 'A line read by `weft sync` (stdin NDJSON or a NATS message) was not JSON or not a valid change or event; it was skipped.',
    remediation: 'Each line must be one JSON object: a change {kind, event, uid, object} or a full event as published by weft; see docs/sync.md.',
  },
  'WEFT-S009': {
    severity: 'fatal',
    title: 'invalid sync configuration',
    cause: 'A sync option is out of range or malformed: a cluster or agent name that is not a NATS subject token ([A-Za-z0-9_-]), a non-positive buffer or file size, or a missing output directory.',
    remediation: 'Fix the option named in the message; see docs/sync.md for the options and their defaults.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** An Error that carries its registry entry and optional details (never secrets). */
export class WeftError extends Error {
  readonly code: ErrorCode;
  readonly severity: Severity;
  readonly cause_: string;
  readonly remediation: string;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message?: string, details: Record<string, unknown> = {}) {
    const spec: ErrorSpec = ERRORS[code];
    super(message ? `${code} ${spec.title}: ${message}` : `${code} ${spec.title}`);
    this.name = 'WeftError';
    this.code = code;
    this.severity = spec.severity;
    this.cause_ = spec.cause;
    this.remediation = spec.remediation;
    this.details = details;
  }

  /** The shape logs and API replies carry. */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      severity: this.severity,
      message: this.message,
      cause: this.cause_,
      remediation: this.remediation,
      ...(Object.keys(this.details).length ? { details: this.details } : {}),
    };
  }
}

/** Looks up a code, for `weft explain`. */
export function explain(code: string): (ErrorSpec & { code: string }) | undefined {
  const spec = (ERRORS as Record<string, ErrorSpec>)[code];
  return spec ? { code, ...spec } : undefined;
}
