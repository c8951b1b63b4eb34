// Errors the proxy answers itself: a status, an `x-weft-error` header with the
// code, and the structured body of a WeftError (code, severity, message, cause,
// remediation, details) — the same shape as the admin API's errors, built from
// the registry without constructing an Error (no stack capture on a hot path:
// a 503 storm must stay cheap).
import { ERRORS, type ErrorCode, type ErrorSpec } from '../errors.js';

export interface ProxyErrorReply {
  readonly status: number;
  readonly code: ErrorCode;
  readonly body: string;
}

export function proxyError(status: number, code: ErrorCode, message: string, details: Record<string, unknown> = {}): ProxyErrorReply {
  const spec: ErrorSpec = ERRORS[code];
  const error = {
    code,
    severity: spec.severity,
    message: `${code} ${spec.title}: ${message}`,
    cause: spec.cause,
    remediation: spec.remediation,
    ...(Object.keys(details).length ? { details } : {}),
  };
  return { status, code, body: JSON.stringify({ error }) + '\n' };
}

/** A whole HTTP/1.1 error response as bytes, for sockets outside node:http (client errors, CONNECT). */
export function rawErrorResponse(reply: ProxyErrorReply, reason: string, extraHeaders = ''): string {
  return (
    `HTTP/1.1 ${reply.status} ${reason}\r\n` +
    `content-type: application/json; charset=utf-8\r\n` +
    `x-weft-error: ${reply.code}\r\n` +
    `content-length: ${Buffer.byteLength(reply.body)}\r\n` +
    `connection: close\r\n${extraHeaders}\r\n` +
    reply.body
  );
}
