// Errors the SDK raises. Like WeftError (src/errors.ts) each carries a stable code, a
// severity, the probable cause and the remediation; the codes here are the SDK's own
// (a reply code's name, or what went wrong locally) because callers switch on them.

import type { ReplyCodeName } from './handshake.js';
import type { Severity } from '../errors.js';

interface Explanation {
  readonly severity: Severity;
  readonly cause: string;
  readonly remediation: string;
}

/** Every code `connect()` can reject with. Reply-code names come from the agent's reply. */
export const CONNECT_ERRORS = {
  UNSUPPORTED_VERSION: {
    severity: 'error',
    cause: 'The agent does not speak handshake version 1.',
    remediation: 'Run an agent and an SDK from compatible weft versions.',
  },
  MALFORMED: {
    severity: 'error',
    cause: 'The agent could not parse the request, or it did not arrive whole within the agent\'s handshake timeout.',
    remediation: 'Check the service ID; if it is valid, the client may be stalled (a blocked event loop) — see the agent log.',
  },
  UNKNOWN_SERVICE: {
    severity: 'error',
    cause: 'No meshlet anywhere in the mesh provides this service ID.',
    remediation: 'Check the spelling (<service>.<meshlet>.<namespace>) and that the providing meshlet is deployed (`/services` on the admin API).',
  },
  FORBIDDEN: {
    severity: 'error',
    cause: 'This meshlet did not declare that it uses the service, or a policy denies it.',
    remediation: 'Add the service ID (or a matching wildcard) to `spec.uses` of this meshlet.',
  },
  UNAVAILABLE: {
    severity: 'warning',
    cause: 'The service exists but has no healthy endpoint right now.',
    remediation: 'Retry with backoff; check the providing meshlet\'s instances and health.',
  },
  TUNNEL_FAILED: {
    severity: 'warning',
    cause: 'The agent could not reach the endpoint: a remote agent refused or was unreachable, or the server socket did not answer in time.',
    remediation: 'Retry with backoff; check that the providing meshlet listens on its server socket and that agents can reach each other.',
  },
  OVERLOADED: {
    severity: 'warning',
    cause: 'The agent is at a configured limit (connections or pending handshakes).',
    remediation: 'Retry with backoff and jitter; raise the agent\'s limits if this is steady load.',
  },
  INTERNAL: {
    severity: 'error',
    cause: 'The agent hit an unexpected error and logged it.',
    remediation: 'Look for the structured error in the agent log at the same time.',
  },
  INVALID_SERVICE_ID: {
    severity: 'error',
    cause: 'The service ID is not <service>.<meshlet>.<namespace> of DNS labels, or is longer than 255 bytes.',
    remediation: 'Use lower-case letters, digits and inner hyphens, three labels of 1..63 characters.',
  },
  CONNECT_TIMEOUT: {
    severity: 'warning',
    cause: 'The client socket did not accept the connection within connectTimeout (or this process\'s event loop was blocked that long).',
    remediation: 'Check that the agent runs and is not overloaded; raise connectTimeout if the host is busy.',
  },
  HANDSHAKE_TIMEOUT: {
    severity: 'warning',
    cause: 'The agent accepted the connection but did not reply within handshakeTimeout.',
    remediation: 'Check the agent\'s health and load; raise handshakeTimeout above the agent\'s own endpoint connect timeout.',
  },
  BAD_REPLY: {
    severity: 'error',
    cause: 'The reply was not [1, code] with a known code, or the connection closed before the whole reply arrived.',
    remediation: 'Check that the socket path is a weft agent\'s client socket (WEFT_MESHLET_DIR) and that versions match.',
  },
  SOCKET_ERROR: {
    severity: 'error',
    cause: 'The client socket could not be reached (no such file, nobody listening, permission denied) or failed mid-handshake.',
    remediation: 'Check WEFT_MESHLET_DIR / socketPath, that the agent runs, and that this process may write to the socket (mode 0660, owner/group).',
  },
  ABORTED: {
    severity: 'info',
    cause: 'The caller\'s AbortSignal fired before the handshake finished.',
    remediation: 'None needed; the attempt was cancelled on purpose.',
  },
} as const satisfies Record<string, Explanation>;

export type MeshConnectErrorCode = keyof typeof CONNECT_ERRORS;

// Compile-time check that every reply-code name but OK has an explanation.
type _EveryReplyExplained = Exclude<ReplyCodeName, 'OK'> extends MeshConnectErrorCode ? true : never;
const _everyReplyExplained: _EveryReplyExplained = true;
void _everyReplyExplained;

export interface MeshConnectErrorDetails {
  readonly serviceId: string;
  readonly socketPath: string;
  /** The agent's reply code when one arrived (also for BAD_REPLY with an unknown code). */
  readonly replyCode?: number;
  /** The underlying error (SOCKET_ERROR) or abort reason (ABORTED). */
  readonly cause?: unknown;
}

/** Why `connect()` failed. `code` names the reply code or the local failure. */
export class MeshConnectError extends Error {
  readonly code: MeshConnectErrorCode;
  readonly replyCode: number | undefined;
  readonly serviceId: string;
  readonly socketPath: string;
  readonly severity: Severity;
  readonly probableCause: string;
  readonly remediation: string;

  constructor(code: MeshConnectErrorCode, message: string, details: MeshConnectErrorDetails) {
    super(`${code}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'MeshConnectError';
    this.code = code;
    this.replyCode = details.replyCode;
    this.serviceId = details.serviceId;
    this.socketPath = details.socketPath;
    const spec: Explanation = CONNECT_ERRORS[code];
    this.severity = spec.severity;
    this.probableCause = spec.cause;
    this.remediation = spec.remediation;
  }

  /** The shape logs carry (same keys as WeftError.toJSON). */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      severity: this.severity,
      message: this.message,
      cause: this.probableCause,
      remediation: this.remediation,
      details: {
        serviceId: this.serviceId,
        socketPath: this.socketPath,
        ...(this.replyCode === undefined ? {} : { replyCode: this.replyCode }),
      },
    };
  }
}

/** Codes a MeshServer can fail to listen with. */
export const SERVER_ERRORS = {
  SOCKET_IN_USE: {
    severity: 'error',
    cause: 'Another process is listening on the service socket.',
    remediation: 'Stop the other instance, or give this one its own meshlet socket directory.',
  },
  NOT_A_SOCKET: {
    severity: 'error',
    cause: 'The service socket path exists and is not a socket, so it was left alone.',
    remediation: 'Remove or rename the file at that path, or use another service name.',
  },
  LISTEN_FAILED: {
    severity: 'error',
    cause: 'listen() or chmod() on the service socket failed (missing directory, permissions, path too long).',
    remediation: 'Check that the agent created the meshlet\'s server/ directory and that this process may write there; Unix socket paths are limited to about 107 bytes.',
  },
} as const satisfies Record<string, Explanation>;

export type MeshServerErrorCode = keyof typeof SERVER_ERRORS;

export class MeshServerError extends Error {
  readonly code: MeshServerErrorCode;
  readonly socketPath: string;
  readonly severity: Severity;
  readonly probableCause: string;
  readonly remediation: string;

  constructor(code: MeshServerErrorCode, message: string, socketPath: string, cause?: unknown) {
    super(`${code}: ${message}`, cause === undefined ? undefined : { cause });
    this.name = 'MeshServerError';
    this.code = code;
    this.socketPath = socketPath;
    const spec: Explanation = SERVER_ERRORS[code];
    this.severity = spec.severity;
    this.probableCause = spec.cause;
    this.remediation = spec.remediation;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      severity: this.severity,
      message: this.message,
      cause: this.probableCause,
      remediation: this.remediation,
      details: { socketPath: this.socketPath },
    };
  }
}
