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
  'WEFT-T001': {
    severity: 'error',
    title: 'tunnel handshake failed authentication',
    cause: 'A handshake message did not decrypt: the peer has a different cluster secret, speaks another tunnel version, or the bytes were altered in transit.',
    remediation: 'Check that both agents use the same cluster secret and compatible weft versions (docs/protocol.md §3); repeated failures from one address may be a probe.',
  },
  'WEFT-T002': {
    severity: 'warning',
    title: 'tunnel handshake timed out',
    cause: 'The peer did not complete the handshake within the handshake timeout (slow, stalled or not a weft agent).',
    remediation: 'Check connectivity to the peer; raise handshakeTimeoutMs only if the link is very slow.',
  },
  'WEFT-T003': {
    severity: 'error',
    title: 'malformed tunnel handshake',
    cause: 'The peer sent bytes that are not a weft tunnel handshake: wrong magic, unsupported version, an oversized or truncated message, or bad settings.',
    remediation: 'Make sure the address belongs to a weft agent of a compatible version (docs/protocol.md §3).',
  },
  'WEFT-T004': {
    severity: 'error',
    title: 'tunnel peer key not allowed',
    cause: 'The peer proved the cluster secret but its static key is not among the pinned keys.',
    remediation: 'Add the peer\'s public key (`weft id` on that host) to the pinned keys, or investigate the host presenting this key.',
  },
  'WEFT-T005': {
    severity: 'error',
    title: 'tunnel record failed authentication',
    cause: 'A sealed record did not verify under the expected key and counter: it was altered, replayed, reordered, dropped or truncated in transit.',
    remediation: 'The session was closed and will be re-established; if it repeats, look for a middlebox altering traffic or an attack on the path.',
  },
  'WEFT-T006': {
    severity: 'error',
    title: 'malformed tunnel record',
    cause: 'A record header had reserved bits set or a length outside the limits of docs/protocol.md §4.',
    remediation: 'Check that both agents run compatible weft versions; the session was closed.',
  },
  'WEFT-T007': {
    severity: 'error',
    title: 'tunnel protocol violation',
    cause: 'The peer broke a frame or stream rule (bad frame, unknown stream, data beyond the flow-control window, bad stream id).',
    remediation: 'The session was closed with GOAWAY; check both agents\' versions and logs for the frame that was refused.',
  },
  'WEFT-T008': {
    severity: 'error',
    title: 'tunnel session closed',
    cause: 'The tunnel session ended (socket closed, peer went away, or the session was destroyed) while this stream was still open.',
    remediation: 'Treat the stream as reset: retry on a new session if the operation is idempotent.',
  },
  'WEFT-T009': {
    severity: 'warning',
    title: 'tunnel stream reset',
    cause: 'The peer aborted the stream with RST (its code is in details.rst: e.g. UNKNOWN_SERVICE, FORBIDDEN, UNAVAILABLE, CANCEL).',
    remediation: 'Act on the RST code: UNKNOWN_SERVICE/FORBIDDEN are final, UNAVAILABLE and STREAM_REFUSED may be retried elsewhere.',
  },
  'WEFT-T010': {
    severity: 'warning',
    title: 'tunnel keepalive timed out',
    cause: 'No PONG (or any record) came back from the peer within the keepalive timeout.',
    remediation: 'The peer or the path is down; the session was closed and will be re-established.',
  },
  'WEFT-T011': {
    severity: 'fatal',
    title: 'identity key file is not private',
    cause: 'The agent identity key file is readable or writable by group or others, so the private key may have leaked.',
    remediation: 'Run `chmod 600` on the file (and consider generating a new identity, since the key may have been exposed).',
  },
  'WEFT-T012': {
    severity: 'fatal',
    title: 'identity key file malformed',
    cause: 'The agent identity key file is not a weft identity (docs/tunnel.md: JSON with version 1, X25519 private and public keys in base64), or its public key does not match its private key.',
    remediation: 'Restore the file from backup, or move it away so that a new identity is generated (peers pinning the old key must be updated).',
  },
  'WEFT-T013': {
    severity: 'warning',
    title: 'tunnel stream refused',
    cause: 'The session is draining (GOAWAY sent or received) or at its stream limit, so no new stream can be opened on it.',
    remediation: 'Open the stream on a new session; STREAM_REFUSED streams were not processed and are safe to retry.',
  },
  'WEFT-T014': {
    severity: 'error',
    title: 'tunnel peer over a limit',
    cause: 'The peer made this side buffer more than a configured limit (queued control frames, unread outbound bytes) or opened too many streams.',
    remediation: 'The session was closed; check the peer for a bug or abuse, or raise the limit if the load is legitimate.',
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
