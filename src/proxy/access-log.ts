// The JSON access log: one object per request, appended to a buffer and
// written once per event-loop turn (one write for many requests under load).
// Sinks: stdout (with the agent's logs, told apart by "msg":"access"), a file,
// or off. Lines are serialized by hand, field by field in the record's fixed
// order (the same text JSON.stringify makes of the record: a test checks it),
// and the timestamp's date-and-second part is reused within a second: together
// that cut the log's cost per request by about two thirds (docs/proxy.md).
import { closeSync, openSync, writeSync } from 'node:fs';

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

/** Encoded lines wait in chunks of this size (a line longer than a third of it is written on its own). */
const CHUNK_BYTES = 64 * 1024;

export class AccessLog {
  readonly enabled: boolean;
  /** A sink that takes text (tests); stdout and files take the encoded bytes. */
  #sink: AccessLogSink | undefined;
  #write: ((bytes: Buffer) => void) | undefined;
  #fd: number | undefined;
  /** Lines are UTF-8 encoded into #chunk as they come; [#start, #end) is not written yet. */
  #chunk: Buffer | undefined;
  #start = 0;
  #end = 0;
  #scheduled = false;
  readonly #flush = () => this.flush();

  /** target: 'stdout', 'off', a file path (opened now, for appending), or a sink (tests). */
  constructor(target: string | AccessLogSink) {
    if (typeof target !== 'string') this.#sink = target;
    else if (target === 'stdout') this.#write = (b) => process.stdout.write(b);
    else if (target !== 'off') {
      const fd = (this.#fd = openSync(target, 'a'));
      // A synchronous append to the page cache costs one syscall; a WriteStream costs a thread-pool round trip per write.
      this.#write = (b) => {
        for (let off = 0; off < b.length; ) off += writeSync(fd, b, off, b.length - off);
      };
    }
    this.enabled = this.#sink !== undefined || this.#write !== undefined;
  }

  log(r: AccessRecord): void {
    if (!this.enabled) return;
    const line = accessLine(r);
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (line.length * 3 > CHUNK_BYTES / 3) {
      this.flush();
      this.#out(Buffer.from(line, 'utf8'));
      return;
    }
    let chunk = this.#chunk;
    if (!chunk || this.#end + line.length * 3 > chunk.length) {
      this.flush();
      // The written part of the old chunk may still be in use by the sink: a new one.
      chunk = this.#chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);
      this.#start = this.#end = 0;
    }
    this.#end += (chunk as unknown as { utf8Write(s: string, o: number): number }).utf8Write(line, this.#end);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#end === this.#start) return;
    const bytes = this.#chunk!.subarray(this.#start, this.#end);
    this.#start = this.#end;
    this.#out(bytes);
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
