// A small binary writer and a bounds-checked reader for the gossip state
// encodings. The reader never throws and never reads past the end: the first
// overrun or malformed field clears `ok`, later reads return zero values, and
// the caller checks `ok` once at the end (parsers over bytes return a result or
// an error, they do not throw on hostile input).

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Largest integer a varint field may carry: 2^53 - 1 (exact in a JS number). */
const MAX_VARINT_BYTES = 8; // 8 × 7 bits = 56 bits, checked against MAX_SAFE_INTEGER

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity);
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  /** Unsigned LEB128 of a non-negative safe integer. */
  varuint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varuint out of range: ${v}`);
    this.ensure(MAX_VARINT_BYTES);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  f64(v: number): this {
    this.ensure(8);
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
    return this;
  }

  /** Length-prefixed bytes. */
  bytes(b: Uint8Array): this {
    this.varuint(b.length);
    return this.raw(b);
  }

  /** Bytes with no length prefix. */
  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Length-prefixed UTF-8. */
  string(s: string): this {
    return this.bytes(textEncoder.encode(s));
  }

  /** A copy of the written bytes. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export class ByteReader {
  private pos: number;
  private readonly end: number;
  private readonly view: DataView;
  /** False once any read overran the input or met a malformed field. */
  ok = true;

  constructor(
    private readonly buf: Uint8Array,
    offset = 0,
    end = buf.length,
  ) {
    this.pos = offset;
    this.end = Math.min(end, buf.length);
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (offset > this.end) this.ok = false;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.ok ? this.end - this.pos : 0;
  }

  /** True when every byte was consumed and nothing overran. */
  get done(): boolean {
    return this.ok && this.pos === this.end;
  }

  fail(): void {
    this.ok = false;
  }

  u8(): number {
    if (!this.ok || this.pos + 1 > this.end) return this.failWith(0);
    return this.buf[this.pos++]!;
  }

  varuint(): number {
    if (!this.ok) return 0;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.pos >= this.end) return this.failWith(0);
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) return this.failWith(0);
        return result;
      }
      scale *= 0x80;
    }
    return this.failWith(0);
  }

  f64(): number {
    if (!this.ok || this.pos + 8 > this.end) return this.failWith(0);
    const v = this.view.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }

  /** A view (not a copy) of `n` bytes. */
  raw(n: number): Uint8Array {
    if (!this.ok || n < 0 || this.pos + n > this.end) return this.failWith(EMPTY);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Length-prefixed bytes, copied (decoded state must not alias a packet buffer). */
  bytes(maxLength = Number.MAX_SAFE_INTEGER): Uint8Array {
    const n = this.varuint();
    if (n > maxLength) return this.failWith(EMPTY);
    return this.raw(n).slice();
  }

  /** Length-prefixed UTF-8; invalid UTF-8 fails the reader. */
  string(maxLength = 65535): string {
    const n = this.varuint();
    if (n > maxLength) return this.failWith('');
    const b = this.raw(n);
    if (!this.ok) return '';
    try {
      return textDecoder.decode(b);
    } catch {
      return this.failWith('');
    }
  }

  /** A count of following items, sanity-checked against the bytes left (each item ≥ minItemBytes). */
  count(minItemBytes = 1): number {
    const n = this.varuint();
    if (n * minItemBytes > this.remaining) return this.failWith(0);
    return n;
  }

  private failWith<T>(v: T): T {
    this.ok = false;
    return v;
  }
}

const EMPTY = new Uint8Array(0);

export function utf8(s: string): Uint8Array {
  return textEncoder.encode(s);
}
