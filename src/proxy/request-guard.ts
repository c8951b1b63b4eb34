// Refuses requests that cannot be forwarded without ambiguity, before any
// upstream sees them. Node's parser (llhttp, strict mode) already rejects bad
// request lines, bad header tokens, obs-fold, bare CR/LF, Content-Length with
// Transfer-Encoding, several Content-Length headers and oversized heads (those
// arrive as 'clientError'). What it lets through and this guard refuses:
// HTTP/0.9 and versions other than 1.0/1.1, Transfer-Encoding other than
// exactly `chunked`, Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1),
// several Host headers (RFC 9112 §3.2), a Host that is not a host[:port], and
// request targets that are neither origin-form nor http:// absolute-form
// (userinfo, https://, `*`). The request is re-serialized upstream, so what
// llhttp tolerates (e.g. extra spaces in the request line) cannot smuggle.
import type { IncomingMessage } from 'node:http';

export type BadRequestReason =
  | 'parse-error'
  | 'header-overflow'
  | 'bad-version'
  | 'bad-target'
  | 'missing-host'
  | 'bad-host'
  | 'duplicate-host'
  | 'duplicate-content-length'
  | 'content-length-with-transfer-encoding'
  | 'bad-transfer-encoding';

export interface RequestTarget {
  /** host[:port] the request is for. */
  readonly authority: string;
  /** Path and query, origin-form. */
  readonly path: string;
  readonly absoluteForm: boolean;
}

const AUTHORITY = /^(?:[a-zA-Z0-9._~!$&'()*+,;=-]+|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/;

/** Framing and header checks; undefined when the request is fine. */
export function checkHeaders(req: IncomingMessage): BadRequestReason | undefined {
  const v = req.httpVersion;
  if (v !== '1.1' && v !== '1.0') return 'bad-version';
  const raw = req.rawHeaders;
  let hosts = 0;
  let lengths = 0;
  let te: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') hosts++;
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') lengths++;
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          if (te !== undefined) return 'bad-transfer-encoding';
          te = raw[i + 1]!;
        }
        break;
    }
  }
  if (hosts > 1) return 'duplicate-host';
  if (lengths > 1) return 'duplicate-content-length';
  if (te !== undefined) {
    if (lengths > 0) return 'content-length-with-transfer-encoding';
    if (v === '1.0' || te.trim().toLowerCase() !== 'chunked') return 'bad-transfer-encoding';
  }
  return undefined;
}

/** Where the request goes: the absolute-form authority, else Host. A reason when neither is usable. */
export function requestTarget(req: IncomingMessage): RequestTarget | BadRequestReason {
  return targetOf(req.url ?? '', req.headers.host);
}

/** requestTarget over the target string and the Host header (the fast path has no IncomingMessage). */
export function targetOf(url: string, host: string | undefined): RequestTarget | BadRequestReason {
  if (url.charCodeAt(0) === 47 /* / */) {
    if (host === undefined || host === '') return 'missing-host';
    if (!AUTHORITY.test(host)) return 'bad-host';
    return { authority: host, path: url, absoluteForm: false };
  }
  if (url.length > 7 && url.slice(0, 7).toLowerCase() === 'http://') {
    let end = 7;
    while (end < url.length) {
      const c = url.charCodeAt(end);
      if (c === 47 || c === 63 || c === 35) break; // / ? #
      end++;
    }
    const authority = url.slice(7, end);
    if (!AUTHORITY.test(authority)) return 'bad-target';
    const rest = url.slice(end);
    if (rest.charCodeAt(0) === 35) return 'bad-target';
    return { authority, path: rest === '' ? '/' : rest.charCodeAt(0) === 63 ? `/${rest}` : rest, absoluteForm: true };
  }
  return 'bad-target';
}

/** The clientError codes of llhttp mapped to a reason. */
export function clientErrorReason(code: string | undefined): BadRequestReason {
  return code === 'HPE_HEADER_OVERFLOW' ? 'header-overflow' : 'parse-error';
}
