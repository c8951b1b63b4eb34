// The JSON access log: one object per request, appended to a buffer and
// written when 16 KiB wait or 50 ms after the first waiting line (one write
// for many requests).
// Sinks: stdout (with the agent's logs, told apart by "msg":"access"), a file,
// or off. Lines are encoded by hand straight into a byte chunk, field by field
// in the record's fixed order (the same text JSON.stringify makes of the
// record: a test checks it), and the timestamp's date-and-second part is reused
// within a second (docs/proxy.md has the measured effect).
import { closeSync, openSync, writeSync } from 'node:fs';
import { WeftError } from '../errors.js';

export interface AccessRecord {
  time: string;
  msg: 'access';
  protocol: 'http/1.1' | 'http/1.0' | 'h2c' | 'connect';
  method: string;
  authority: string;
  path: string;
  status: number;
  durationMs: number;
  service: string | undefined;
  route: string | undefined;
  endpoint: string | undefined;
  version: string | undefined;
  attempts: number;
  upstreamMs: number | undefined;
  bytesIn: number;
  bytesOut: number;
  requestId: string | undefined;
  traceId: string | undefined;
  spanId: string | undefined;
  client: string | undefined;
  error: string | undefined;
  flags: string | undefined;
}

export interface AccessLogSink {
  write(text: string): unknown;
}

/** Encoded lines wait in chunks of this size (a line that might need more than a quarter of it is written on its own). */
const CHUNK_BYTES = 64 * 1024;
/**
 * Lines are written once this many bytes wait, or FLUSH_MS after the first of
 * them (as nginx's `access_log … buffer= flush=`). A write per event-loop turn
 * cost ≈ 2 µs per request more when turns carry one request each (a file
 * append updates the inode each time).
 */
const FLUSH_BYTES = 16 * 1024;
const FLUSH_MS = 50;

export class AccessLog {
  readonly enabled: boolean;
  /** A sink that takes text (tests); stdout and files take the encoded bytes. */
  #sink: AccessLogSink | undefined;
  #write: ((bytes: Buffer) => void) | undefined;
  #fd: number | undefined;
  /** Lines are encoded into #chunk as they come; [#start, #end) is not written yet. */
  #chunk: Buffer | undefined;
  #start = 0;
  #end = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The sink is done with written bytes when its write returns. */
  #reuse = true;
  readonly #flush = () => this.flush();

  /** target: 'stdout', 'off', a file path (opened now, for appending), or a sink (tests). */
  constructor(target: string | AccessLogSink) {
    if (typeof target !== 'string') this.#sink = target;
    else if (target === 'stdout') {
      this.#write = (b) => process.stdout.write(b);
      this.#reuse = false;
    }
    else if (target !== 'off') {
      let fd: number;
      try {
        fd = this.#fd = openSync(target, 'a');
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        throw new WeftError('WEFT-P013', `cannot open access log ${target}: ${err.message}`, { path: target, errno: err.code });
      }
      // A synchronous append to the page cache costs one syscall; a WriteStream costs a thread-pool round trip per write.
      this.#write = (b) => {
        for (let off = 0; off < b.length; ) off += writeSync(fd, b, off, b.length - off);
      };
    }
    this.enabled = this.#sink !== undefined || this.#write !== undefined;
  }

  log(r: AccessRecord): void {
    if (!this.enabled) return;
    let chunk = this.#chunk;
    // Room for the line, bounded from its strings' lengths (an escape is at most 6 bytes per UTF-16 unit).
    const room = 512 + 6 * (r.authority.length + r.path.length + r.method.length + (r.requestId?.length ?? 0) + (r.error?.length ?? 0) + (r.route?.length ?? 0) + (r.service?.length ?? 0) + (r.endpoint?.length ?? 0) + (r.version?.length ?? 0) + (r.flags?.length ?? 0) + (r.client?.length ?? 0) + (r.traceId?.length ?? 0) + (r.spanId?.length ?? 0));
    if (room > CHUNK_BYTES / 4) {
      this.flush();
      this.#out(Buffer.from(accessLine(r), 'utf8'));
      return;
    }
    if (!chunk || this.#end + room > chunk.length) {
      this.flush();
      if (!chunk || this.#end + room > chunk.length) {
        // The written part of the old chunk may still be in use by the sink: a new one.
        chunk = this.#chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
        this.#start = this.#end = 0;
      }
    }
    const end = encodeLine(r, chunk, this.#end);
    if (end >= 0) this.#end = end;
    else {
      // A value of a type a record should not hold: JSON.stringify's way, on its own.
      this.flush();
      this.#out(Buffer.from(accessLine(r), 'utf8'));
      return;
    }
    if (this.#end - this.#start >= FLUSH_BYTES) this.flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#flush, FLUSH_MS);
      // close() flushes what is left: the timer alone does not hold the process.
      this.#timer.unref();
    }
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#end === this.#start) return;
    const bytes = this.#chunk!.subarray(this.#start, this.#end);
    this.#out(bytes);
    // A file write and a text sink are done with the bytes on return: the chunk is filled again from its start
    // (a fresh chunk per 64 KiB showed as external-memory GC pressure). stdout may still hold them (a socket).
    if (this.#reuse) this.#start = this.#end = 0;
    else this.#start = this.#end;
  }

  #out(bytes: Buffer): void {
    try {
      if (this.#sink) this.#sink.write(bytes.toString('utf8'));
      else this.#write?.(bytes);
    } catch {
      // A full disk or a closed stdout loses access-log lines, not requests.
    }
  }

  close(): Promise<void> {
    this.flush();
    this.#sink = undefined;
    this.#write = undefined;
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    return Promise.resolve();
  }
}

/** Whether JSON.stringify writes `s` other than as itself between quotes (quote, backslash, control, surrogate). */
function needsEscape(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true;
  }
  return false;
}

function str(s: string): string {
  return needsEscape(s) ? JSON.stringify(s) : `"${s}"`;
}

/** `,"key":value` as JSON.stringify writes a property (undefined: left out); strings and finite numbers inline. */
function field(key: string, v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return key + str(v);
  if (typeof v === 'number' && Number.isFinite(v)) return key + v;
  const j = JSON.stringify(v);
  return j === undefined ? '' : key + j;
}

/** One record as a line: the text of JSON.stringify(r) (keys in AccessRecord order), then a LF. */
export function accessLine(r: AccessRecord): string {
  return (
    '{"time":' +
    str(r.time) +
    ',"msg":"access"' +
    field(',"protocol":', r.protocol) +
    field(',"method":', r.method) +
    field(',"authority":', r.authority) +
    field(',"path":', r.path) +
    field(',"status":', r.status) +
    field(',"durationMs":', r.durationMs) +
    field(',"service":', r.service) +
    field(',"route":', r.route) +
    field(',"endpoint":', r.endpoint) +
    field(',"version":', r.version) +
    field(',"attempts":', r.attempts) +
    field(',"upstreamMs":', r.upstreamMs) +
    field(',"bytesIn":', r.bytesIn) +
    field(',"bytesOut":', r.bytesOut) +
    field(',"requestId":', r.requestId) +
    field(',"traceId":', r.traceId) +
    field(',"spanId":', r.spanId) +
    field(',"client":', r.client) +
    field(',"error":', r.error) +
    field(',"flags":', r.flags) +
    '}\n'
  );
}

function utf8Write(b: Buffer, s: string, off: number): number {
  return (b as unknown as { utf8Write(s: string, o: number): number }).utf8Write(s, off);
}

// The line written straight into the chunk, byte by byte: no string for the
// line, no rope to flatten and encode. Strings of printable ASCII without a
// quote or backslash (nearly all) are copied as they are; any other string goes
// through JSON.stringify. A test checks the bytes against JSON.stringify(record).

function putAscii(b: Buffer, off: number, s: string): number {
  for (let i = 0; i < s.length; i++) b[off++] = s.charCodeAt(i);
  return off;
}

function putStr(b: Buffer, off: number, s: string): number {
  const start = off;
  b[off++] = 0x22;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x7f) return start + utf8Write(b, JSON.stringify(s), start);
    b[off++] = c;
  }
  b[off++] = 0x22;
  return off;
}

function putNum(b: Buffer, off: number, n: number): number {
  return putAscii(b, off, Number.isFinite(n) ? String(n) : 'null');
}

/** An optional string field: -1 (give up) for anything but a string or undefined; a -1 `off` passes through. */
function putOpt(b: Buffer, off: number, key: string, v: string | undefined): number {
  if (off < 0 || v === undefined) return off;
  if (typeof v !== 'string') return -1;
  return putStr(b, putAscii(b, off, key), v);
}

function putOptNum(b: Buffer, off: number, key: string, v: number | undefined): number {
  if (off < 0 || v === undefined) return off;
  if (typeof v !== 'number') return -1;
  return putNum(b, putAscii(b, off, key), v);
}

/** Writes accessLine(r) as UTF-8 at `off` (room is the caller's); the end, or -1 if a field has an unexpected type. */
export function encodeLine(r: AccessRecord, b: Buffer, off: number): number {
  if (typeof r.time !== 'string' || typeof r.method !== 'string' || typeof r.authority !== 'string' || typeof r.path !== 'string') return -1;
  if (typeof r.protocol !== 'string' || typeof r.status !== 'number' || typeof r.durationMs !== 'number') return -1;
  if (typeof r.attempts !== 'number' || typeof r.bytesIn !== 'number' || typeof r.bytesOut !== 'number') return -1;
  let o = putStr(b, putAscii(b, off, '{"time":'), r.time);
  o = putStr(b, putAscii(b, o, ',"msg":"access","protocol":'), r.protocol);
  o = putStr(b, putAscii(b, o, ',"method":'), r.method);
  o = putStr(b, putAscii(b, o, ',"authority":'), r.authority);
  o = putStr(b, putAscii(b, o, ',"path":'), r.path);
  o = putNum(b, putAscii(b, o, ',"status":'), r.status);
  o = putNum(b, putAscii(b, o, ',"durationMs":'), r.durationMs);
  o = putOpt(b, o, ',"service":', r.service);
  o = putOpt(b, o, ',"route":', r.route);
  o = putOpt(b, o, ',"endpoint":', r.endpoint);
  o = putOpt(b, o, ',"version":', r.version);
  if (o < 0) return -1;
  o = putNum(b, putAscii(b, o, ',"attempts":'), r.attempts);
  o = putOptNum(b, o, ',"upstreamMs":', r.upstreamMs);
  if (o < 0) return -1;
  o = putNum(b, putAscii(b, o, ',"bytesIn":'), r.bytesIn);
  o = putNum(b, putAscii(b, o, ',"bytesOut":'), r.bytesOut);
  o = putOpt(b, o, ',"requestId":', r.requestId);
  o = putOpt(b, o, ',"traceId":', r.traceId);
  o = putOpt(b, o, ',"spanId":', r.spanId);
  o = putOpt(b, o, ',"client":', r.client);
  o = putOpt(b, o, ',"error":', r.error);
  o = putOpt(b, o, ',"flags":', r.flags);
  if (o < 0) return -1;
  b[o++] = 0x7d; // }
  b[o++] = 0x0a;
  return o;
}

let isoSecond = -1;
let isoPrefix = '';

/** new Date().toISOString(), with the date and time up to the second computed once per second. */
export function isoNow(): string {
  const ms = Date.now();
  const sec = Math.floor(ms / 1000);
  if (sec !== isoSecond) {
    isoSecond = sec;
    isoPrefix = new Date(sec * 1000).toISOString().slice(0, -4);
  }
  const frac = ms - sec * 1000;
  return `${isoPrefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
}
