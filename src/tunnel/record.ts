// Sealed records (docs/protocol.md §4): the transport phase of the tunnel.
//
//   0        1        2        3
//   +--------+--------+--------+--------+=================+==========+
//   | sealed length   | flags  |   0    |   ciphertext    | tag (16) |
//   +--------+--------+--------+--------+=================+==========+
//
// The 4-byte header is the AEAD's additional data, so the length and flags are
// authenticated. Nonces are implicit: the n-th record of a direction is sealed
// under counter n (Noise's ChaChaPoly nonce: 4 zero bytes ‖ LE64(n)), so a
// replayed, reordered, dropped or spliced record fails its tag. KEY_UPDATE
// means "after this record my key is REKEY(key)" (Noise §11.3; n carries on).
//
// Both directions use the WebAssembly AEAD kernel in place: the sender writes
// a record's frames straight into the kernel's I/O region (session.ts), seals
// there and copies the record once into the outgoing buffer; the receiver
// opens each record in place in the kernel's memory and the session copies
// the DATA payloads out once, into the socket's read chunk (session.ts).
// With the `native` or `auto` engine (aead-engine.ts), records from a size up
// are sealed and opened by node:crypto instead; the bytes are the same.
import { aeadKernel, AEAD_TAG_LENGTH, type AeadKernel } from '../kernel/aead.js';
import { nativeFrom, nativeOpen, nativeSealInto, type AeadEngineChoice } from './aead-engine.js';
import { rekey } from './noise.js';
import { MAX_RECORD_PLAINTEXT, MAX_RECORD_SEALED, RECORD_FLAG_KEY_UPDATE, RECORD_HEADER_SIZE } from './options.js';

export interface RekeyPolicy {
  /** Records sealed under one key before the next record carries KEY_UPDATE. */
  afterRecords: number;
  /** Milliseconds a key is used before the next record carries KEY_UPDATE. */
  afterMs: number;
}

/** A direction's key and 64-bit counter, with the nonce kept in place (no bigint per record). */
class CounterNonce {
  key: Uint8Array;
  readonly nonce = new Uint8Array(12);
  private readonly view = new DataView(this.nonce.buffer);
  private lo = 0;
  private hi = 0;
  records = 0;
  rekeys = 0;

  constructor(key: Uint8Array) {
    this.key = new Uint8Array(key);
  }
  advance(): void {
    this.records++;
    if (this.lo === 0xffffffff) {
      this.lo = 0;
      this.hi++;
      this.view.setUint32(8, this.hi, true);
    } else {
      this.lo++;
    }
    this.view.setUint32(4, this.lo, true);
  }
  rekey(): void {
    this.key = rekey(this.key);
    this.rekeys++;
  }
}

export class RecordSealer {
  readonly kernel: AeadKernel;
  private readonly state: CounterNonce;
  private readonly policy: RekeyPolicy;
  private sinceRekey = 0;
  private rekeyDeadline: number;
  private forced = false;
  private readonly header = new Uint8Array(RECORD_HEADER_SIZE);
  bytes = 0;
  /** Records of this plaintext length and more are sealed by node:crypto. */
  private readonly nativeFrom: number;

  constructor(key: Uint8Array, policy: RekeyPolicy, now: number, kernel = aeadKernel(), engine: AeadEngineChoice = 'wasm') {
    this.kernel = kernel;
    this.state = new CounterNonce(key);
    this.policy = policy;
    this.rekeyDeadline = now + policy.afterMs;
    this.nativeFrom = nativeFrom(engine);
  }

  get records(): number {
    return this.state.records;
  }
  get rekeys(): number {
    return this.state.rekeys;
  }
  /** Makes the next record carry KEY_UPDATE. */
  requestRekey(): void {
    this.forced = true;
  }

  /**
   * Seals kernel.io[0, length) as one record written at out[at]: header, ciphertext, tag.
   * Returns the bytes written (4 + length + 16). The kernel's I/O region is clobbered.
   */
  sealFromIo(length: number, out: Uint8Array, at: number, now: number): number {
    if (length > MAX_RECORD_PLAINTEXT) throw new RangeError(`record plaintext of ${length} bytes over ${MAX_RECORD_PLAINTEXT}`);
    const update = this.forced || this.sinceRekey + 1 >= this.policy.afterRecords || now >= this.rekeyDeadline;
    const sealed = length + AEAD_TAG_LENGTH;
    const h = this.header;
    h[0] = sealed >>> 8;
    h[1] = sealed & 0xff;
    h[2] = update ? RECORD_FLAG_KEY_UPDATE : 0;
    h[3] = 0;
    const s = this.state;
    out.set(h, at);
    if (length >= this.nativeFrom) {
      nativeSealInto(s.key, s.nonce, h, this.kernel.io.subarray(0, length), out, at + RECORD_HEADER_SIZE);
    } else {
      this.kernel.sealInPlace(s.key, s.nonce, length, h);
      out.set(this.kernel.io.subarray(0, sealed), at + RECORD_HEADER_SIZE);
    }
    s.advance();
    this.sinceRekey++;
    if (update) {
      s.rekey();
      this.forced = false;
      this.sinceRekey = 0;
      this.rekeyDeadline = now + this.policy.afterMs;
    }
    const n = RECORD_HEADER_SIZE + sealed;
    this.bytes += n;
    return n;
  }

  /** Convenience (tests, tools): seals plaintext as one record into a new Buffer. */
  seal(plaintext: Uint8Array, now = 0): Buffer {
    this.kernel.io.set(plaintext);
    const out = Buffer.allocUnsafe(RECORD_HEADER_SIZE + plaintext.length + AEAD_TAG_LENGTH);
    this.sealFromIo(plaintext.length, out, 0, now);
    return out;
  }
}

/** Why the opener stopped (it never throws on hostile bytes). */
export enum RecordError {
  NONE = 0,
  /** Flags or reserved bits the version does not define. */
  BAD_HEADER = 1,
  /** Sealed length under the tag size or over MAX_RECORD_SEALED, or an empty record without KEY_UPDATE. */
  BAD_LENGTH = 2,
  /** The tag did not verify under the expected key and counter. */
  AUTH_FAILED = 3,
}

const EMPTY = Buffer.alloc(0);

/**
 * Receives each record's plaintext (return false to stop). `end` is the offset in
 * the fed chunk just past the record when the record lay whole in that chunk (the
 * chunk's bytes before `end` are no longer needed), else -1.
 */
export type RecordSink = (plain: Buffer, end: number) => boolean;

/**
 * Splits an incoming byte stream into records and opens them in order. Holds at
 * most one partial record (≤ MAX_RECORD_SEALED bytes) between chunks.
 */
export class RecordOpener {
  readonly kernel: AeadKernel;
  private readonly state: CounterNonce;
  private readonly header = new Uint8Array(RECORD_HEADER_SIZE);
  private headerHave = 0;
  private partial: Buffer | null = null;
  private partialHave = 0;
  /** Sealed length of the record being assembled (0: reading a header). */
  private need = 0;
  private flags = 0;
  bytes = 0;
  error = RecordError.NONE;
  /** With `transient`, plaintext is a view of the kernel's I/O region, valid only during the sink call. */
  private readonly ioView: Buffer | null;
  /** Records of this plaintext length and more are opened by node:crypto. */
  private readonly nativeFrom: number;

  /**
   * `transient`: open each record in place in the kernel's memory and hand the sink
   * a view of it (no allocation, one copy fewer); the sink must copy what it keeps
   * before returning. Otherwise each record's plaintext is a fresh Buffer.
   */
  constructor(key: Uint8Array, kernel = aeadKernel(), options: { transient?: boolean; engine?: AeadEngineChoice } = {}) {
    this.kernel = kernel;
    this.nativeFrom = nativeFrom(options.engine ?? 'wasm');
    this.state = new CounterNonce(key);
    const io = kernel.io;
    this.ioView = options.transient ? Buffer.from(io.buffer, io.byteOffset, io.length) : null;
  }

  get records(): number {
    return this.state.records;
  }
  get rekeys(): number {
    return this.state.rekeys;
  }
  /** Bytes held for an incomplete record. */
  get buffered(): number {
    return this.headerHave + this.partialHave;
  }

  private checkHeader(h: Uint8Array, at: number): RecordError {
    const sealed = (h[at]! << 8) | h[at + 1]!;
    const flags = h[at + 2]!;
    if ((flags & ~RECORD_FLAG_KEY_UPDATE) !== 0 || h[at + 3] !== 0) return RecordError.BAD_HEADER;
    if (sealed < AEAD_TAG_LENGTH || sealed > MAX_RECORD_SEALED) return RecordError.BAD_LENGTH;
    if (sealed === AEAD_TAG_LENGTH && flags === 0) return RecordError.BAD_LENGTH;
    this.need = sealed;
    this.flags = flags;
    return RecordError.NONE;
  }

  /**
   * Opens one whole sealed record; hands the plaintext to sink, with `end`: the
   * offset in the chunk just past this record when it came whole from the chunk
   * being fed (its bytes there are free once opened), else -1.
   */
  private open(sealed: Uint8Array, aad: Uint8Array, sink: RecordSink, end: number): boolean {
    const n = sealed.length - AEAD_TAG_LENGTH;
    const s = this.state;
    let out: Buffer;
    let r: number;
    if (n >= this.nativeFrom) {
      const plain = nativeOpen(s.key, s.nonce, aad, sealed);
      r = plain ? n : -1;
      out = plain ?? EMPTY;
    } else if (this.ioView) {
      this.ioView.set(sealed);
      r = this.kernel.openInPlace(s.key, s.nonce, sealed.length, aad);
      out = this.ioView.subarray(0, n);
    } else {
      out = n === 0 ? EMPTY : Buffer.allocUnsafe(n);
      r = this.kernel.openInto(s.key, s.nonce, sealed, aad, out);
    }
    if (r < 0) {
      this.error = RecordError.AUTH_FAILED;
      return false;
    }
    s.advance();
    this.need = 0;
    // The sink first: REKEY runs the kernel, which would clobber a transient plaintext.
    const go = n === 0 ? true : sink(out, end);
    if (this.flags & RECORD_FLAG_KEY_UPDATE) s.rekey();
    return go;
  }

  /**
   * Consumes chunk; calls sink with each record's plaintext in order (sink returns false
   * to stop). Returns false when it stopped: on a record error (see `error`) or because
   * sink asked to.
   */
  feed(chunk: Uint8Array, sink: RecordSink): boolean {
    if (this.error !== RecordError.NONE) return false;
    this.bytes += chunk.length;
    let p = 0;
    const end = chunk.length;
    while (p < end) {
      if (this.need === 0) {
        // Header: straight from the chunk, or assembled across chunks.
        if (this.headerHave === 0 && end - p >= RECORD_HEADER_SIZE) {
          const e = this.checkHeader(chunk, p);
          if (e !== RecordError.NONE) return this.stop(e);
          this.header.set(chunk.subarray(p, p + RECORD_HEADER_SIZE));
          p += RECORD_HEADER_SIZE;
        } else {
          const take = Math.min(RECORD_HEADER_SIZE - this.headerHave, end - p);
          this.header.set(chunk.subarray(p, p + take), this.headerHave);
          this.headerHave += take;
          p += take;
          if (this.headerHave < RECORD_HEADER_SIZE) return true;
          this.headerHave = 0;
          const e = this.checkHeader(this.header, 0);
          if (e !== RecordError.NONE) return this.stop(e);
        }
      }
      // Body: open in place from the chunk when whole, else assemble.
      if (this.partialHave === 0 && end - p >= this.need) {
        const sealed = chunk.subarray(p, p + this.need);
        p += this.need;
        if (!this.open(sealed, this.header, sink, p)) return false;
        continue;
      }
      if (!this.partial) this.partial = Buffer.allocUnsafe(MAX_RECORD_SEALED);
      const take = Math.min(this.need - this.partialHave, end - p);
      this.partial.set(chunk.subarray(p, p + take), this.partialHave);
      this.partialHave += take;
      p += take;
      if (this.partialHave < this.need) return true;
      const sealed = this.partial.subarray(0, this.need);
      this.partialHave = 0;
      if (!this.open(sealed, this.header, sink, -1)) return false;
    }
    return true;
  }

  private stop(e: RecordError): boolean {
    this.error = e;
    return false;
  }
}
