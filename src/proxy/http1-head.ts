// Strict, bounded HTTP/1.1 head parsers for the fast path (fast-http1.ts).
//
// The request parser accepts only a conservative subset of HTTP/1.1, and
// answers `decline` for everything else: the connection then goes to the full
// path (node's llhttp in strict mode plus request-guard.ts), which forwards or
// refuses it. So the fast path never has to get an edge case right — it only
// must never *accept* something the full path would refuse or read
// differently (a property test checks it against node's own parser). Accepted:
// an upper-case method from a fixed list, a target of visible ASCII (origin
// form or http:// absolute form), exactly `HTTP/1.1`, CRLF line ends, header
// names of token characters, values of visible ASCII, SP, HTAB and obs-text,
// at most one Host and one Content-Length (digits only), no Transfer-Encoding,
// Expect or Upgrade, head size ≤ the limit. Functions over a Buffer and an
// offset: they never throw on bad bytes and never read past the end.

/** Methods the fast path forwards (CONNECT, TRACE, extension methods go to the full path). */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/** tchar (RFC 9110 §5.6.2), as a lookup table. */
const TCHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;

/** Header value bytes: HTAB, SP, VCHAR, obs-text. */
const VALUE = new Uint8Array(256);
VALUE[0x09] = 1;
for (let c = 0x20; c <= 0x7e; c++) VALUE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) VALUE[c] = 1;

/** Buffer#latin1Slice (untyped in @types/node): a string of the bytes, no encoding lookup. */
export function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as { latin1Slice(s: number, e: number): string }).latin1Slice(start, end);
}

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const MAX_HEADERS = 100;

export interface RequestHead {
  readonly method: string;
  /** The request target as sent. */
  readonly target: string;
  /** Header names as sent and values (OWS trimmed), in order: [name, value, name, value, …]. */
  readonly raw: string[];
  /** Lower-cased names; repeated headers joined with ", " (set-cookie kept as a list), as node's IncomingMessage.headers. */
  readonly headers: Record<string, string | string[]>;
  readonly host: string | undefined;
  /** Content-Length, 0 when absent. */
  readonly contentLength: number;
  /** The client asked to close after this request (`Connection: close`). */
  readonly close: boolean;
  /** Lower-cased tokens of the Connection header (those headers are hop-by-hop). */
  readonly connectionTokens: readonly string[];
  /** Bytes of the head, CRLFCRLF included. */
  readonly headBytes: number;
}

export type HeadResult<T> = { readonly kind: 'head'; readonly head: T } | { readonly kind: 'incomplete' } | { readonly kind: 'decline'; readonly why: string };

const INCOMPLETE = { kind: 'incomplete' } as const;
function decline<T>(why: string): HeadResult<T> {
  return { kind: 'decline', why };
}

/** Index of the CRLFCRLF ending a head starting at `from`, or -1 (searched up to `limit` bytes). */
function headEnd(buf: Buffer, from: number, limit: number): number {
  const i = buf.indexOf('\r\n\r\n', from, 'latin1');
  if (i < 0 || i + 4 - from > limit) return -1;
  return i;
}

interface Lines {
  raw: string[];
  next: number;
}

/** Header lines from `pos` up to `end` (the CRLF of the last line): strict; a reason string when not accepted. */
function parseHeaderLines(buf: Buffer, pos: number, end: number): Lines | string {
  const raw: string[] = [];
  while (pos < end) {
    // pos is at the start of a line; the line ends at the next CRLF.
    const c0 = buf[pos]!;
    if (c0 === SP || c0 === HTAB) return 'obs-fold';
    let i = pos;
    while (i < end && TCHAR[buf[i]!]) i++;
    if (i === pos || buf[i] !== 0x3a /* : */) return 'bad header name';
    const name = latin1(buf, pos, i);
    i++;
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
    const vStart = i;
    while (i < end && VALUE[buf[i]!]) i++;
    if (buf[i] !== CR || buf[i + 1] !== LF) return 'bad header value';
    let vEnd = i;
    while (vEnd > vStart && (buf[vEnd - 1] === SP || buf[vEnd - 1] === HTAB)) vEnd--;
    raw.push(name, latin1(buf, vStart, vEnd));
    if (raw.length > MAX_HEADERS * 2) return 'too many headers';
    pos = i + 2;
  }
  return { raw, next: pos };
}

function isDigits(s: string, max: number): boolean {
  if (s.length === 0 || s.length > max) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Whether an incomplete head can still become one the parser accepts: a
 * method prefix of upper-case letters, no control bytes but HTAB, no bare CR
 * or LF. Otherwise it is declined at once (the full path answers 400 now rather
 * than after the headers timeout).
 */
function partialRequestOk(buf: Buffer, offset: number): boolean {
  let i = offset;
  while (i < buf.length && buf[i]! >= 0x41 && buf[i]! <= 0x5a) i++;
  if (i - offset > 7 || (i < buf.length && buf[i] !== SP)) return false;
  for (; i < buf.length; i++) {
    const c = buf[i]!;
    if (c === CR) {
      if (i + 1 < buf.length && buf[i + 1] !== LF) return false;
    } else if (c === LF) {
      if (buf[i - 1] !== CR) return false;
    } else if ((c < 0x20 && c !== HTAB) || c === 0x7f) return false;
  }
  return true;
}

/**
 * One request head at `offset`. `maxHeadBytes` bounds the head: a longer one
 * (complete or not) is declined, so the full path answers it.
 */
export function parseRequestHead(buf: Buffer, offset: number, maxHeadBytes: number): HeadResult<RequestHead> {
  const avail = buf.length - offset;
  const end = headEnd(buf, offset, maxHeadBytes);
  if (end < 0) return avail >= maxHeadBytes ? decline('head too large') : partialRequestOk(buf, offset) ? INCOMPLETE : decline('malformed partial head');
  // Request line: METHOD SP target SP HTTP/1.1 CRLF
  let i = offset;
  while (i < end && buf[i]! >= 0x41 && buf[i]! <= 0x5a) i++;
  if (buf[i] !== SP || i - offset > 7) return decline('method');
  const method = latin1(buf, offset, i);
  if (!METHODS.has(method)) return decline('method');
  const tStart = ++i;
  while (i < end && buf[i]! > 0x20 && buf[i]! < 0x7f) i++;
  if (i === tStart || buf[i] !== SP) return decline('target');
  const target = latin1(buf, tStart, i);
  i++;
  // "HTTP/1.1\r\n"
  if (
    buf[i] !== 0x48 || buf[i + 1] !== 0x54 || buf[i + 2] !== 0x54 || buf[i + 3] !== 0x50 || buf[i + 4] !== 0x2f ||
    buf[i + 5] !== 0x31 || buf[i + 6] !== 0x2e || buf[i + 7] !== 0x31 || buf[i + 8] !== CR || buf[i + 9] !== LF
  ) {
    return decline('version');
  }
  i += 10;
  const lines = parseHeaderLines(buf, i, end + 2);
  if (typeof lines === 'string') return decline(lines);
  const raw = lines.raw;
  const headers: Record<string, string | string[]> = {};
  let host: string | undefined;
  let cl: string | undefined;
  let close = false;
  let tokens: string[] = [];
  for (let k = 0; k < raw.length; k += 2) {
    const name = raw[k]!.toLowerCase();
    const value = raw[k + 1]!;
    switch (name) {
      case 'host':
        if (host !== undefined) return decline('several Host');
        host = value;
        break;
      case 'content-length':
        if (cl !== undefined) return decline('several Content-Length');
        if (!isDigits(value, 15)) return decline('Content-Length');
        cl = value;
        break;
      case 'transfer-encoding':
      case 'expect':
      case 'upgrade':
      case 'http2-settings':
        return decline(name);
      case 'connection': {
        const more = value.toLowerCase().split(',');
        for (const t of more) {
          const tok = t.trim();
          if (tok === 'close') close = true;
          else if (tok === 'upgrade') return decline('connection: upgrade');
          if (tok) tokens.push(tok);
        }
        break;
      }
    }
    const cur = headers[name];
    if (cur === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(cur)) cur.push(value);
    else headers[name] = `${cur}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  if (tokens.length === 0) tokens = NO_TOKENS;
  return {
    kind: 'head',
    head: { method, target, raw, headers, host, contentLength: cl === undefined ? 0 : Number(cl), close, connectionTokens: tokens, headBytes: end + 4 - offset },
  };
}

const NO_TOKENS: string[] = [];

export interface ResponseHead {
  readonly status: number;
  readonly reason: string;
  /** HTTP/1.0 response (the connection closes unless it says keep-alive). */
  readonly http10: boolean;
  readonly raw: string[];
  /** Content-Length, or -1. */
  readonly contentLength: number;
  readonly chunked: boolean;
  /** The upstream will close the connection after this response. */
  readonly close: boolean;
  readonly connectionTokens: readonly string[];
  readonly headBytes: number;
}

/**
 * One upstream response head. Upstreams are apps in the mesh, not attackers,
 * but a response the proxy cannot frame without doubt (Content-Length with
 * Transfer-Encoding, several different lengths, a coding other than chunked)
 * is an `error`: the attempt fails and the connection is dropped.
 */
export function parseResponseHead(buf: Buffer, offset: number, maxHeadBytes: number): HeadResult<ResponseHead> {
  const avail = buf.length - offset;
  const end = headEnd(buf, offset, maxHeadBytes);
  if (end < 0) return avail >= maxHeadBytes ? decline('head too large') : INCOMPLETE;
  // HTTP/1.x SP 3DIGIT SP reason CRLF
  const i = offset;
  if (end - i < 12) return decline('status line');
  if (latin1(buf, i, i + 7) !== 'HTTP/1.' || (buf[i + 7] !== 0x31 && buf[i + 7] !== 0x30) || buf[i + 8] !== SP) return decline('status line');
  const http10 = buf[i + 7] === 0x30;
  let s = 0;
  for (let k = 9; k < 12; k++) {
    const c = buf[i + k]!;
    if (c < 48 || c > 57) return decline('status');
    s = s * 10 + c - 48;
  }
  if (s < 100) return decline('status');
  let j = i + 12;
  let reason = '';
  if (buf[j] === SP) {
    const rStart = ++j;
    while (j < end && VALUE[buf[j]!]) j++;
    reason = latin1(buf, rStart, j);
  }
  if (buf[j] !== CR || buf[j + 1] !== LF) return decline('status line');
  const lines = parseHeaderLines(buf, j + 2, end + 2);
  if (typeof lines === 'string') return decline(lines);
  const raw = lines.raw;
  let cl = -1;
  let te: string | undefined;
  let close = http10;
  const tokens: string[] = [];
  for (let k = 0; k < raw.length; k += 2) {
    const name = raw[k]!;
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      const v = raw[k + 1]!;
      if (!isDigits(v, 15)) return decline('Content-Length');
      const n = Number(v);
      if (cl >= 0 && cl !== n) return decline('several Content-Length');
      cl = n;
    } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      if (te !== undefined) return decline('several Transfer-Encoding');
      te = raw[k + 1]!.toLowerCase();
    } else if (name.length === 10 && name.toLowerCase() === 'connection') {
      for (const t of raw[k + 1]!.toLowerCase().split(',')) {
        const tok = t.trim();
        if (tok === 'close') close = true;
        else if (tok === 'keep-alive' && http10) close = false;
        if (tok) tokens.push(tok);
      }
    }
  }
  if (te !== undefined && (cl >= 0 || te !== 'chunked' || http10)) return decline('Transfer-Encoding');
  return { kind: 'head', head: { status: s, reason, http10, raw, contentLength: cl, chunked: te !== undefined, close, connectionTokens: tokens, headBytes: end + 4 - offset } };
}

/**
 * Finds the end of a chunked body without changing it (the fast path relays
 * chunked bodies as they are). Feed it every body byte in order; `feed`
 * returns how many bytes of `buf[from..to)` belong to the body (less than
 * offered once the body ended), or -1 on a framing error. Bounded: a size line
 * or the trailer section longer than `maxLine` is an error.
 */
export class ChunkedScanner {
  #state: 0 | 1 | 2 | 3 | 4 | 5 | 6 = 0; // 0 size, 1 ext, 2 size LF, 3 data, 4 data CR, 5 data LF, 6 trailers
  #size = 0;
  #digits = 0;
  #left = 0;
  #line = 0;
  /** Trailer section: bytes of the current line, and whether the previous byte was CR. */
  #cr = false;
  done = false;

  constructor(readonly maxLine = 8192) {}

  feed(buf: Buffer, from: number, to: number): number {
    let i = from;
    while (i < to && !this.done) {
      const c = buf[i]!;
      switch (this.#state) {
        case 0: {
          const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
          if (v >= 0) {
            if (++this.#digits > 12) return -1;
            this.#size = this.#size * 16 + v;
          } else if (this.#digits === 0) return -1;
          else if (c === CR) this.#state = 2;
          else if (c === 0x3b /* ; */ || c === SP || c === HTAB) {
            this.#state = 1;
            this.#line = 0;
          } else return -1;
          i++;
          break;
        }
        case 1:
          if (c === CR) this.#state = 2;
          else if (c === LF || ++this.#line > this.maxLine || (c < 0x20 && c !== HTAB) || c === 0x7f) return -1;
          i++;
          break;
        case 2:
          if (c !== LF) return -1;
          i++;
          if (this.#size === 0) {
            this.#state = 6;
            this.#line = 0;
            this.#cr = false;
          } else {
            this.#state = 3;
            this.#left = this.#size;
          }
          break;
        case 3: {
          const n = Math.min(this.#left, to - i);
          i += n;
          this.#left -= n;
          if (this.#left === 0) this.#state = 4;
          break;
        }
        case 4:
          if (c !== CR) return -1;
          this.#state = 5;
          i++;
          break;
        case 5:
          if (c !== LF) return -1;
          this.#state = 0;
          this.#size = 0;
          this.#digits = 0;
          i++;
          break;
        case 6:
          // Trailer lines until an empty line; only the framing is checked here.
          i++;
          if (this.#cr) {
            if (c !== LF) return -1;
            this.#cr = false;
            if (this.#line === 0) this.done = true;
            this.#line = 0;
          } else if (c === CR) this.#cr = true;
          else if (c === LF || ++this.#line > this.maxLine) return -1;
          break;
      }
    }
    return i - from;
  }
}
