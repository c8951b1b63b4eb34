// Errors the proxy answers itself: a status, an `x-weft-error` header with the
// code, and the structured WeftError JSON body (code, severity, message, cause,
// remediation, details) that the admin API uses too.
import { WeftError, type ErrorCode } from '../errors.js';

export interface ProxyErrorReply {
  readonly status: number;
  readonly code: ErrorCode;
  readonly body: string;
}

export function proxyError(status: number, code: ErrorCode, message: string, details: Record<string, unknown> = {}): ProxyErrorReply {
  const err = new WeftError(code, message, details);
  return { status, code, body: JSON.stringify({ error: err.toJSON() }) + '\n' };
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
