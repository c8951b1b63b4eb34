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

/**
 * Where one header line sits in the buffer: name [ns, ne), value [vs, ve)
 * (OWS trimmed), the line [ns, le) with its CRLF, and what the proxy does with
 * it. Kept as numbers, five per line plus the kind: strings are made only for
 * the headers the proxy reads, and forwarded lines are copied as bytes.
 */
const NS = 0;
const NE = 1;
const VS = 2;
const VE = 3;
const LE = 4;
const KIND = 5;
const STRIDE = 6;

/** What the fast path does with a header line. */
export const enum LineKind {
  /** Forwarded as it is (unless the Connection header names it). */
  Keep = 0,
  /** Hop-by-hop, or replaced by the proxy's own value: never forwarded. */
  Drop = 1,
  /** X-Forwarded-Port: replaced when the proxy knows the delivery port. */
  ForwardedPort = 2,
}

/** Whether buf[s, e) holds exactly the latin1 string `str`. */
function bytesAre(buf: Buffer, s: number, e: number, str: string): boolean {
  if (e - s !== str.length) return false;
  for (let i = 0; i < str.length; i++) if (buf[s + i] !== str.charCodeAt(i)) return false;
  return true;
}

/** Whether buf[s, e) is `lower` (lower-case ASCII letters, digits, '-'), ignoring the case of buf's letters. */
function nameIs(buf: Buffer, s: number, e: number, lower: string): boolean {
  if (e - s !== lower.length) return false;
  // For a token byte, (b | 0x20) equals a lower-case letter, digit or '-' only when b is that character or its upper case.
  for (let i = 0; i < lower.length; i++) if ((buf[s + i]! | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/** A parsed head's header lines, with strings made on demand. */
abstract class HeadLines {
  #raw: string[] | undefined;
  constructor(
    readonly buf: Buffer,
    /** STRIDE numbers per header line (see NS … KIND). */
    readonly lines: number[],
  ) {}

  get count(): number {
    return this.lines.length / STRIDE;
  }

  /** Header names as sent and values (OWS trimmed), in order: [name, value, name, value, …]. */
  get raw(): string[] {
    if (this.#raw) return this.#raw;
    const l = this.lines;
    const raw: string[] = [];
    for (let k = 0; k < l.length; k += STRIDE) raw.push(latin1(this.buf, l[k + NS]!, l[k + NE]!), latin1(this.buf, l[k + VS]!, l[k + VE]!));
    return (this.#raw = raw);
  }

  /** Line i's lower-cased name. */
  lowerName(i: number): string {
    const k = i * STRIDE;
    return latin1(this.buf, this.lines[k + NS]!, this.lines[k + NE]!).toLowerCase();
  }

  kind(i: number): LineKind {
    return this.lines[i * STRIDE + KIND]! as LineKind;
  }

  /** Start of line i (its name), and the end of its CRLF. */
  lineStart(i: number): number {
    return this.lines[i * STRIDE + NS]!;
  }
  lineEnd(i: number): number {
    return this.lines[i * STRIDE + LE]!;
  }
}

export class RequestHead extends HeadLines {
  #headers: Record<string, string | string[]> | undefined;
  constructor(
    buf: Buffer,
    lines: number[],
    readonly method: string,
    /** The request target as sent. */
    readonly target: string,
    readonly host: string | undefined,
    /** Content-Length, 0 when absent. */
    readonly contentLength: number,
    /** The client asked to close after this request (`Connection: close`). */
    readonly close: boolean,
    /** Lower-cased tokens of the Connection header (those headers are hop-by-hop). */
    readonly connectionTokens: readonly string[],
    /** Bytes of the head, CRLFCRLF included. */
    readonly headBytes: number,
    /** Some header the proxy reads by name besides Host (x-request-id, traceparent, x-forwarded-*): look in `headers`. */
    readonly hasProxyHeaders: boolean,
  ) {
    super(buf, lines);
  }

  /** Lower-cased names; repeated headers joined with ", " (set-cookie kept as a list), as node's IncomingMessage.headers. */
  get headers(): Record<string, string | string[]> {
    if (this.#headers) return this.#headers;
    const headers: Record<string, string | string[]> = {};
    const raw = this.raw;
    for (let k = 0; k < raw.length; k += 2) {
      const name = raw[k]!.toLowerCase();
      const value = raw[k + 1]!;
      const cur = headers[name];
      if (cur === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
      else if (Array.isArray(cur)) cur.push(value);
      else headers[name] = `${cur}${name === 'cookie' ? '; ' : ', '}${value}`;
    }
    return (this.#headers = headers);
  }
}

export type HeadResult<T> = { readonly kind: 'head'; readonly head: T } | { readonly kind: 'incomplete' } | { readonly kind: 'decline'; readonly why: string };

const INCOMPLETE = { kind: 'incomplete' } as const;
function decline<T>(why: string): HeadResult<T> {
  return { kind: 'decline', why };
}

/** Index of the CRLFCRLF ending a head starting at `from`, or -1 (searched up to `limit` bytes). */
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

function headEnd(buf: Buffer, from: number, limit: number): number {
  const i = buf.indexOf(CRLFCRLF, from);
  if (i < 0 || i + 4 - from > limit) return -1;
  return i;
}

/** Header lines from `pos` up to `end` (the CRLF of the last line) into `out` (STRIDE numbers each, kind Keep): strict; a reason string when not accepted. */
function parseHeaderLines(buf: Buffer, pos: number, end: number, out: number[]): string | undefined {
  while (pos < end) {
    // pos is at the start of a line; the line ends at the next CRLF.
    const c0 = buf[pos]!;
    if (c0 === SP || c0 === HTAB) return 'obs-fold';
    let i = pos;
    while (i < end && TCHAR[buf[i]!]) i++;
    if (i === pos || buf[i] !== 0x3a /* : */) return 'bad header name';
    const nameEnd = i;
    i++;
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
    const vStart = i;
    while (i < end && VALUE[buf[i]!]) i++;
    if (buf[i] !== CR || buf[i + 1] !== LF) return 'bad header value';
    let vEnd = i;
    while (vEnd > vStart && (buf[vEnd - 1] === SP || buf[vEnd - 1] === HTAB)) vEnd--;
    if (out.length >= MAX_HEADERS * STRIDE) return 'too many headers';
    out.push(pos, nameEnd, vStart, vEnd, i + 2, LineKind.Keep);
    pos = i + 2;
  }
  return undefined;
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

/** Connection header tokens, lower-cased, into `tokens`; whether one is `close`, or 'upgrade' when one is upgrade. */
function connectionTokens(value: string, tokens: string[]): boolean | 'upgrade' {
  let close = false;
  for (const t of value.toLowerCase().split(',')) {
    const tok = t.trim();
    if (tok === 'close') close = true;
    else if (tok === 'upgrade') return 'upgrade';
    if (tok) tokens.push(tok);
  }
  return close;
}

/** Request headers the proxy drops (hop-by-hop, or replaced by its own), by name length then name. */
function requestLineKind(buf: Buffer, s: number, e: number): LineKind {
  switch (e - s) {
    case 2:
      return nameIs(buf, s, e, 'te') ? LineKind.Drop : LineKind.Keep;
    case 7:
      return nameIs(buf, s, e, 'trailer') ? LineKind.Drop : LineKind.Keep;
    case 10:
      return nameIs(buf, s, e, 'keep-alive') ? LineKind.Drop : LineKind.Keep;
    case 11:
      return nameIs(buf, s, e, 'traceparent') ? LineKind.Drop : LineKind.Keep;
    case 12:
      return nameIs(buf, s, e, 'x-request-id') ? LineKind.Drop : LineKind.Keep;
    case 15:
      return nameIs(buf, s, e, 'x-forwarded-for') ? LineKind.Drop : LineKind.Keep;
    case 16:
      return nameIs(buf, s, e, 'x-forwarded-port') ? LineKind.ForwardedPort : nameIs(buf, s, e, 'proxy-connection') ? LineKind.Drop : LineKind.Keep;
    case 17:
      return nameIs(buf, s, e, 'x-forwarded-proto') ? LineKind.Drop : LineKind.Keep;
    case 18:
      return nameIs(buf, s, e, 'proxy-authenticate') ? LineKind.Drop : LineKind.Keep;
    case 19:
      return nameIs(buf, s, e, 'proxy-authorization') ? LineKind.Drop : LineKind.Keep;
    default:
      return LineKind.Keep;
  }
}

/**
 * One request head at `offset`. `maxHeadBytes` bounds the head: a longer one
 * (complete or not) is declined, so the full path answers it. `previous`: the
 * connection's last target and Host, whose strings are reused when repeated.
 */
export function parseRequestHead(buf: Buffer, offset: number, maxHeadBytes: number, previous?: { readonly target: string; readonly host: string | undefined }): HeadResult<RequestHead> {
  const avail = buf.length - offset;
  const end = headEnd(buf, offset, maxHeadBytes);
  if (end < 0) return avail >= maxHeadBytes ? decline('head too large') : partialRequestOk(buf, offset) ? INCOMPLETE : decline('malformed partial head');
  // Request line: METHOD SP target SP HTTP/1.1 CRLF
  let i = offset;
  while (i < end && buf[i]! >= 0x41 && buf[i]! <= 0x5a) i++;
  if (buf[i] !== SP || i - offset > 7) return decline('method');
  const method = methodAt(buf, offset, i);
  if (method === undefined) return decline('method');
  const tStart = ++i;
  while (i < end && buf[i]! > 0x20 && buf[i]! < 0x7f) i++;
  if (i === tStart || buf[i] !== SP) return decline('target');
  // A connection tends to repeat its Host and often its target: the previous request's strings are reused when the bytes match.
  const target = previous !== undefined && bytesAre(buf, tStart, i, previous.target) ? previous.target : latin1(buf, tStart, i);
  i++;
  // "HTTP/1.1\r\n"
  if (
    buf[i] !== 0x48 || buf[i + 1] !== 0x54 || buf[i + 2] !== 0x54 || buf[i + 3] !== 0x50 || buf[i + 4] !== 0x2f ||
    buf[i + 5] !== 0x31 || buf[i + 6] !== 0x2e || buf[i + 7] !== 0x31 || buf[i + 8] !== CR || buf[i + 9] !== LF
  ) {
    return decline('version');
  }
  i += 10;
  const lines: number[] = [];
  const bad = parseHeaderLines(buf, i, end + 2, lines);
  if (bad !== undefined) return decline(bad);
  let host: string | undefined;
  let clStart = -1;
  let clEnd = -1;
  let close = false;
  let tokens: string[] = NO_TOKENS;
  let proxyHeaders = false;
  for (let k = 0; k < lines.length; k += STRIDE) {
    const ns = lines[k + NS]!;
    const ne = lines[k + NE]!;
    switch (ne - ns) {
      case 4:
        if (nameIs(buf, ns, ne, 'host')) {
          if (host !== undefined) return decline('several Host');
          const vs = lines[k + VS]!;
          const ve = lines[k + VE]!;
          const ph = previous?.host;
          host = ph !== undefined && bytesAre(buf, vs, ve, ph) ? ph : latin1(buf, vs, ve);
          lines[k + KIND] = LineKind.Drop;
          continue;
        }
        break;
      case 14:
        if (nameIs(buf, ns, ne, 'content-length')) {
          if (clStart >= 0) return decline('several Content-Length');
          clStart = lines[k + VS]!;
          clEnd = lines[k + VE]!;
          if (clEnd === clStart || clEnd - clStart > 15) return decline('Content-Length');
          for (let j = clStart; j < clEnd; j++) if (buf[j]! < 48 || buf[j]! > 57) return decline('Content-Length');
          // llhttp (strict) refuses an HTAB after the digits, though it takes SP: so must this parser.
          for (let j = clEnd; j < lines[k + LE]! - 2; j++) if (buf[j] === HTAB) return decline('Content-Length');
          continue;
        }
        if (nameIs(buf, ns, ne, 'http2-settings')) return decline('http2-settings');
        break;
      case 17:
        if (nameIs(buf, ns, ne, 'transfer-encoding')) return decline('transfer-encoding');
        break;
      case 6:
        if (nameIs(buf, ns, ne, 'expect')) return decline('expect');
        break;
      case 7:
        if (nameIs(buf, ns, ne, 'upgrade')) return decline('upgrade');
        break;
      case 10:
        if (nameIs(buf, ns, ne, 'connection')) {
          if (tokens === NO_TOKENS) tokens = [];
          const c = connectionTokens(latin1(buf, lines[k + VS]!, lines[k + VE]!), tokens);
          if (c === 'upgrade') return decline('connection: upgrade');
          if (c) close = true;
          lines[k + KIND] = LineKind.Drop;
          continue;
        }
        break;
    }
    const kind = requestLineKind(buf, ns, ne);
    if (kind !== LineKind.Keep) {
      lines[k + KIND] = kind;
      // Everything dropped here but the hop-by-hop names is a header whose value the proxy reads.
      if (!proxyHeaders && (kind === LineKind.ForwardedPort || nameIs(buf, ns, ne, 'traceparent') || nameIs(buf, ns, ne, 'x-request-id') || nameIs(buf, ns, ne, 'x-forwarded-for'))) proxyHeaders = true;
    }
  }
  if (tokens.length === 0) tokens = NO_TOKENS;
  const contentLength = clStart < 0 ? 0 : Number(latin1(buf, clStart, clEnd));
  return { kind: 'head', head: new RequestHead(buf, lines, method, target, host, contentLength, close, tokens, end + 4 - offset, proxyHeaders) };
}

/** The method at buf[s, e) if the fast path takes it (no string made for the common ones' lookup). */
function methodAt(buf: Buffer, s: number, e: number): string | undefined {
  switch (e - s) {
    case 3:
      if (buf[s] === 0x47 && buf[s + 1] === 0x45 && buf[s + 2] === 0x54) return 'GET';
      if (buf[s] === 0x50 && buf[s + 1] === 0x55 && buf[s + 2] === 0x54) return 'PUT';
      return undefined;
    case 4:
      if (buf[s] === 0x50 && buf[s + 1] === 0x4f && buf[s + 2] === 0x53 && buf[s + 3] === 0x54) return 'POST';
      if (buf[s] === 0x48 && buf[s + 1] === 0x45 && buf[s + 2] === 0x41 && buf[s + 3] === 0x44) return 'HEAD';
      return undefined;
    default: {
      const m = latin1(buf, s, e);
      return METHODS.has(m) ? m : undefined;
    }
  }
}

const NO_TOKENS: string[] = [];

export class ResponseHead extends HeadLines {
  constructor(
    buf: Buffer,
    lines: number[],
    readonly status: number,
    /** Where the status line starts and where its CRLF ends. */
    readonly start: number,
    readonly statusLineEnd: number,
    /** HTTP/1.0 response (the connection closes unless it says keep-alive). */
    readonly http10: boolean,
    /** Content-Length, or -1. */
    readonly contentLength: number,
    readonly chunked: boolean,
    /** The upstream will close the connection after this response. */
    readonly close: boolean,
    readonly connectionTokens: readonly string[],
    readonly headBytes: number,
  ) {
    super(buf, lines);
  }

  /** The reason phrase ('' when there is none). */
  get reason(): string {
    const s = this.start + 12;
    return this.buf[s] === SP ? latin1(this.buf, s + 1, this.statusLineEnd - 2) : '';
  }
}

/** Response headers the proxy never relays to the client: hop-by-hop, and x-request-id (it sets its own). */
function responseLineKind(buf: Buffer, s: number, e: number): LineKind {
  switch (e - s) {
    case 2:
      return nameIs(buf, s, e, 'te') ? LineKind.Drop : LineKind.Keep;
    case 6:
      return nameIs(buf, s, e, 'expect') ? LineKind.Drop : LineKind.Keep;
    case 7:
      return nameIs(buf, s, e, 'trailer') || nameIs(buf, s, e, 'upgrade') ? LineKind.Drop : LineKind.Keep;
    case 10:
      return nameIs(buf, s, e, 'keep-alive') || nameIs(buf, s, e, 'connection') ? LineKind.Drop : LineKind.Keep;
    case 12:
      return nameIs(buf, s, e, 'x-request-id') ? LineKind.Drop : LineKind.Keep;
    case 14:
      return nameIs(buf, s, e, 'http2-settings') ? LineKind.Drop : LineKind.Keep;
    case 16:
      return nameIs(buf, s, e, 'proxy-connection') ? LineKind.Drop : LineKind.Keep;
    case 17:
      return nameIs(buf, s, e, 'transfer-encoding') ? LineKind.Drop : LineKind.Keep;
    case 18:
      return nameIs(buf, s, e, 'proxy-authenticate') ? LineKind.Drop : LineKind.Keep;
    case 19:
      return nameIs(buf, s, e, 'proxy-authorization') ? LineKind.Drop : LineKind.Keep;
    default:
      return LineKind.Keep;
  }
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
  if (
    buf[i] !== 0x48 || buf[i + 1] !== 0x54 || buf[i + 2] !== 0x54 || buf[i + 3] !== 0x50 || buf[i + 4] !== 0x2f || buf[i + 5] !== 0x31 || buf[i + 6] !== 0x2e ||
    (buf[i + 7] !== 0x31 && buf[i + 7] !== 0x30) || buf[i + 8] !== SP
  ) {
    return decline('status line');
  }
  const http10 = buf[i + 7] === 0x30;
  let s = 0;
  for (let k = 9; k < 12; k++) {
    const c = buf[i + k]!;
    if (c < 48 || c > 57) return decline('status');
    s = s * 10 + c - 48;
  }
  if (s < 100) return decline('status');
  let j = i + 12;
  if (buf[j] === SP) {
    j++;
    while (j < end && VALUE[buf[j]!]) j++;
  }
  if (buf[j] !== CR || buf[j + 1] !== LF) return decline('status line');
  const lines: number[] = [];
  const bad = parseHeaderLines(buf, j + 2, end + 2, lines);
  if (bad !== undefined) return decline(bad);
  let cl = -1;
  let te: string | undefined;
  let close = http10;
  let tokens: string[] = NO_TOKENS;
  for (let k = 0; k < lines.length; k += STRIDE) {
    const ns = lines[k + NS]!;
    const ne = lines[k + NE]!;
    const vs = lines[k + VS]!;
    const ve = lines[k + VE]!;
    // One test of the name's length first: most lines are none of the three framing headers.
    const len = ne - ns;
    if (len === 14 && nameIs(buf, ns, ne, 'content-length')) {
      if (ve === vs || ve - vs > 15) return decline('Content-Length');
      let n = 0;
      for (let x = vs; x < ve; x++) {
        const c = buf[x]!;
        if (c < 48 || c > 57) return decline('Content-Length');
        n = n * 10 + c - 48;
      }
      if (cl >= 0 && cl !== n) return decline('several Content-Length');
      cl = n;
      continue;
    }
    if (len === 17 && nameIs(buf, ns, ne, 'transfer-encoding')) {
      if (te !== undefined) return decline('several Transfer-Encoding');
      te = latin1(buf, vs, ve).toLowerCase();
      lines[k + KIND] = LineKind.Drop;
      continue;
    }
    if (len === 10 && nameIs(buf, ns, ne, 'connection')) {
      if (tokens === NO_TOKENS) tokens = [];
      for (const t of latin1(buf, vs, ve).toLowerCase().split(',')) {
        const tok = t.trim();
        if (tok === 'close') close = true;
        else if (tok === 'keep-alive' && http10) close = false;
        if (tok) tokens.push(tok);
      }
      lines[k + KIND] = LineKind.Drop;
      continue;
    }
    lines[k + KIND] = responseLineKind(buf, ns, ne);
  }
  if (te !== undefined && (cl >= 0 || te !== 'chunked' || http10)) return decline('Transfer-Encoding');
  return { kind: 'head', head: new ResponseHead(buf, lines, s, i, j + 2, http10, cl, te !== undefined, close, tokens, end + 4 - offset) };
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
