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
  'WEFT-G001': {
    severity: 'error',
    title: 'could not join the gossip cluster',
    cause: 'None of the given addresses answered the join push-pull: wrong addresses or port, the peers are down, a firewall drops TCP to the gossip port, or the cluster secret differs.',
    remediation: 'Check the join addresses and that TCP and UDP reach the gossip port on at least one of them; the error details list each address and its failure.',
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
