// HTTPS GETs against the Kubernetes API with hard bounds: a deadline, a cap on
// the bytes read, and for watch streams a cap on each newline-delimited event.
// Nothing here parses JSON or knows about pods; kubernetes.ts does.

import { request } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { WeftError } from '../errors.js';

export interface KubernetesRequest {
  /** Full https URL of the resource, query included. */
  url: URL;
  /** Bearer token, read fresh for this request. */
  token: string;
  /** PEM CA bundle that must have signed the API server's certificate. */
  ca: string;
  signal?: AbortSignal;
}

export interface BufferedResponse {
  status: number;
  body: Buffer;
}

/** Where a request failed before an HTTP status could say so. */
function transportError(url: URL, error: Error, timedOut: boolean, timeoutMs: number): WeftError {
  if (timedOut) {
    return new WeftError('WEFT-D009', `GET ${url.pathname}: no response within ${timeoutMs} ms`, { path: url.pathname, reason: 'timeout' });
  }
  const code = (error as NodeJS.ErrnoException).code;
  return new WeftError('WEFT-D009', `GET ${url.pathname}: ${error.message}`, { path: url.pathname, reason: code ?? 'network' });
}

function tooLarge(url: URL, limit: number, what: string): WeftError {
  return new WeftError('WEFT-D011', `GET ${url.pathname}: ${what} larger than ${limit} bytes`, { path: url.pathname, limit });
}

function open(req: KubernetesRequest): ReturnType<typeof request> {
  return request(req.url, {
    method: 'GET',
    ca: req.ca,
    // A pooled socket could have been verified against an older CA bundle.
    agent: false,
    headers: {
      accept: 'application/json',
      authorization: `Bearer ${req.token}`,
      'user-agent': 'weft-discovery',
    },
    signal: req.signal,
  });
}

/** One GET whose whole body is read, up to `maxBytes`, within `timeoutMs` from start to last byte. */
export function getBuffered(req: KubernetesRequest, maxBytes: number, timeoutMs: number): Promise<BufferedResponse> {
  return new Promise((resolve, reject) => {
    let timedOut = false;
    let settled = false;
    const finish = (error: Error | undefined, value?: BufferedResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        if (req.signal?.aborted) reject(req.signal.reason);
        else reject(error);
        http.destroy();
      } else resolve(value!);
    };
    const http = open(req);
    const timer = setTimeout(() => {
      timedOut = true;
      http.destroy(new Error('timeout'));
    }, timeoutMs);
    const fail = (e: Error): void => finish(transportError(req.url, e, timedOut, timeoutMs));
    http.on('error', fail);
    http.on('response', (res: IncomingMessage) => {
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) return finish(tooLarge(req.url, maxBytes, 'response'));
      const chunks: Buffer[] = [];
      let length = 0;
      res.on('data', (chunk: Buffer) => {
        length += chunk.length;
        if (length > maxBytes) return finish(tooLarge(req.url, maxBytes, 'response'));
        chunks.push(chunk);
      });
      res.on('end', () => {
        if (!res.complete) return fail(new Error('connection closed before the end of the response'));
        finish(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks, length) });
      });
      res.on('error', fail);
      res.on('aborted', () => fail(new Error('response aborted')));
    });
    http.end();
  });
}

export interface StreamHandlers {
  /** The response status was not 200: the (bounded) body, then the stream is over. */
  onStatus(response: BufferedResponse): void;
  /** One complete line without its newline (may be empty); throw to end the stream with that error. */
  onLine(line: Buffer): void;
  /** Called after the lines of each received chunk were handled. */
  onChunkEnd(): void;
}

export interface StreamLimits {
  /** Deadline for the response headers. */
  connectTimeoutMs: number;
  /** The stream fails when no byte arrives for this long (a hung server, a dead link). */
  idleTimeoutMs: number;
  /** Cap on one line (one watch event), and on the body of a non-200 response. */
  maxLineBytes: number;
}

/**
 * A GET whose 200 body is a stream of newline-delimited records (a watch). Resolves
 * when the server ends the stream; rejects with a WeftError on transport failure,
 * timeouts or an over-long line, and with whatever onStatus or onLine threw.
 */
export function getLines(req: KubernetesRequest, limits: StreamLimits, handlers: StreamHandlers): Promise<void> {
  return new Promise((resolve, reject) => {
    let timedOut = false;
    let settled = false;
    let timer = setTimeout(() => expire(), limits.connectTimeoutMs);
    let currentTimeout = limits.connectTimeoutMs;
    const expire = (): void => {
      timedOut = true;
      http.destroy(new Error('timeout'));
    };
    const rearm = (ms: number): void => {
      clearTimeout(timer);
      currentTimeout = ms;
      timer = setTimeout(expire, ms);
    };
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        if (req.signal?.aborted) reject(req.signal.reason);
        else reject(error);
        http.destroy();
      } else resolve();
    };
    const http = open(req);
    const fail = (e: Error): void => finish(transportError(req.url, e, timedOut, currentTimeout));
    http.on('error', fail);
    http.on('response', (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (chunk: Buffer) => {
          length += chunk.length;
          if (length > limits.maxLineBytes) return finish(tooLarge(req.url, limits.maxLineBytes, 'error response'));
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (settled) return;
          try {
            handlers.onStatus({ status: res.statusCode ?? 0, body: Buffer.concat(chunks, length) });
            finish();
          } catch (e) {
            finish(e as Error);
          }
        });
        res.on('error', fail);
        return;
      }
      rearm(limits.idleTimeoutMs);
      // The current partial line as a list of pieces, so a long line costs one copy.
      let pending: Buffer[] = [];
      let pendingLength = 0;
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        rearm(limits.idleTimeoutMs);
        try {
          let start = 0;
          for (;;) {
            const nl = chunk.indexOf(0x0a, start);
            const end = nl < 0 ? chunk.length : nl;
            if (pendingLength + (end - start) > limits.maxLineBytes) throw tooLarge(req.url, limits.maxLineBytes, 'watch event');
            if (nl < 0) {
              if (end > start) {
                pending.push(chunk.subarray(start));
                pendingLength += end - start;
              }
              break;
            }
            const piece = chunk.subarray(start, nl);
            const line = pendingLength === 0 ? piece : Buffer.concat([...pending, piece], pendingLength + piece.length);
            pending = [];
            pendingLength = 0;
            handlers.onLine(line);
            start = nl + 1;
          }
          handlers.onChunkEnd();
        } catch (e) {
          finish(e as Error);
        }
      });
      res.on('end', () => {
        if (settled) return;
        try {
          // A last event without its newline still counts.
          if (pendingLength > 0) handlers.onLine(Buffer.concat(pending, pendingLength));
          handlers.onChunkEnd();
          finish();
        } catch (e) {
          finish(e as Error);
        }
      });
      res.on('error', fail);
      res.on('aborted', () => fail(new Error('watch stream aborted')));
    });
    http.end();
  });
}
