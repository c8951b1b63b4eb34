// ChaCha20-Poly1305 (RFC 8439) on the WebAssembly AEAD kernel (assembly/aead.ts).
//
// API
// ---
//   aeadKernel(variant?: KernelVariant): AeadKernel        one per thread per variant (cached)
//
//   interface AeadKernel {
//     variant; maxRecord; maxAad; maxRecords
//     io: Uint8Array                                        the kernel's I/O region (in-place work)
//     sealInPlace(key, nonce, length, aad?): number         io[0,length) -> io[0,length+16)
//     openInPlace(key, nonce, sealedLength, aad?): number   plaintext length or an AEAD_* error (< 0)
//     sealInto(key, nonce, plaintext, aad, out): number     writes plaintext.length + 16 bytes to out
//     openInto(key, nonce, sealed, aad, out): number        plaintext length, or an AEAD_* error with out untouched
//     seal(key, nonce, plaintext, aad?): Uint8Array
//     open(key, nonce, sealed, aad?): Uint8Array | null     null: failed authentication or malformed
//     sealRecords(...) / openRecords(...)                   as the functions below
//     chacha20Block / chacha20Xor / poly1305                the primitives (RFC 8439 test vectors)
//   }
//
//   Batches take and return only typed arrays, so the same call runs inline or
//   on a worker (transferred or shared buffers):
//   sealRecords(key, nonceBase, counterStart, records, lengths, out, aad?, aadLengths?, variant?): number
//     records: plaintexts back to back; lengths[i]: record i's length; aad /
//     aadLengths likewise (optional). Record i is sealed under
//     recordNonce(nonceBase, counterStart + i) (bytes 4..11 of the base XORed
//     with the little-endian 64-bit counter: with a zero base this is
//     WireGuard's nonce). out receives the sealed records (ciphertext ‖ tag)
//     back to back. Returns the bytes written (Σ lengths[i] + 16).
//   openRecords(key, nonceBase, counterStart, sealed, sealedLengths, out, results, aad?, aadLengths?, variant?): number
//     out receives the plaintexts back to back (record i at Σ_{j<i} (sealedLengths[j] - 16));
//     results[i] = plaintext length, or AEAD_AUTH_FAILED / AEAD_BAD_LENGTH
//     (that record's bytes in out are not written). Returns how many failed.
//
// Hostile input (a tampered record, a record shorter than its tag or longer
// than the kernel takes) yields an error code, never an exception. Programmer
// errors (key not 32 bytes, nonce not 12, out too small, a batch whose arrays
// disagree) throw WeftError WEFT-K003. Batches larger than the kernel's memory
// are cut into chunks here.
import { loadKernel, preferredVariant, type KernelVariant } from './load.js';
import { WeftError } from '../errors.js';

export type { KernelVariant } from './load.js';

export const AEAD_KEY_LENGTH = 32;
export const AEAD_NONCE_LENGTH = 12;
export const AEAD_TAG_LENGTH = 16;
/** The tag did not match: nothing was decrypted. */
export const AEAD_AUTH_FAILED = -1;
/** A record shorter than its tag, or longer than the kernel takes. */
export const AEAD_BAD_LENGTH = -2;
/** Additional data longer than the kernel takes. */
export const AEAD_BAD_AAD = -3;
/** A batch count out of range (only seen when calling the kernel directly). */
export const AEAD_BAD_COUNT = -4;

interface AeadExports {
  seal(offset: number, length: number, aadOffset: number, aadLength: number): number;
  open(offset: number, sealedLength: number, aadOffset: number, aadLength: number): number;
  open_detached(offset: number, sealedLength: number, aadOffset: number, aadLength: number): number;
  seal_records(count: number, counterLow: number, counterHigh: number): number;
  open_records(count: number, counterLow: number, counterHigh: number): number;
  chacha20_block(counter: number, offset: number): number;
  chacha20_xor(counter: number, offset: number, length: number): number;
  poly1305_mac(offset: number, length: number): number;
  KEY_PTR: WebAssembly.Global;
  NONCE_PTR: WebAssembly.Global;
  TAG_PTR: WebAssembly.Global;
  AAD_PTR: WebAssembly.Global;
  AAD_CAPACITY: WebAssembly.Global;
  TABLE_PTR: WebAssembly.Global;
  RESULTS_PTR: WebAssembly.Global;
  MAX_RECORDS: WebAssembly.Global;
  IO_PTR: WebAssembly.Global;
  IO_CAPACITY: WebAssembly.Global;
  OUT_PTR: WebAssembly.Global;
}

export interface AeadKernel {
  readonly variant: KernelVariant;
  /** Longest plaintext one record may have. */
  readonly maxRecord: number;
  /** Longest AAD one call may carry (a batch: all its records' AAD together, per chunk). */
  readonly maxAad: number;
  /** Most records the kernel takes per call (larger batches are chunked). */
  readonly maxRecords: number;
  /** The kernel's I/O region: plaintext for sealInPlace goes at io[0], the result stays there. */
  readonly io: Uint8Array;
  /** Bytes of linear memory (constant: the kernel never grows it). */
  memoryBytes(): number;
  sealInPlace(key: Uint8Array, nonce: Uint8Array, length: number, aad?: Uint8Array): number;
  openInPlace(key: Uint8Array, nonce: Uint8Array, sealedLength: number, aad?: Uint8Array): number;
  sealInto(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array | undefined, out: Uint8Array): number;
  openInto(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array | undefined, out: Uint8Array): number;
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array;
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array | null;
  sealRecords(key: Uint8Array, nonceBase: Uint8Array, counterStart: bigint, records: Uint8Array, lengths: Uint32Array, out: Uint8Array, aad?: Uint8Array, aadLengths?: Uint32Array): number;
  openRecords(key: Uint8Array, nonceBase: Uint8Array, counterStart: bigint, sealed: Uint8Array, sealedLengths: Uint32Array, out: Uint8Array, results: Int32Array, aad?: Uint8Array, aadLengths?: Uint32Array): number;
  /** The ChaCha20 block (RFC 8439 §2.3). */
  chacha20Block(key: Uint8Array, nonce: Uint8Array, counter: number): Uint8Array;
  /** ChaCha20 encryption of data from block counter (§2.4); returns a new array. */
  chacha20Xor(key: Uint8Array, nonce: Uint8Array, counter: number, data: Uint8Array): Uint8Array;
  /** Poly1305 of message under a 32-byte one-time key (§2.5). */
  poly1305(key: Uint8Array, message: Uint8Array): Uint8Array;
}

/** Record i's nonce in a batch: nonceBase with bytes 4..11 XORed with LE64(counter). */
export function recordNonce(nonceBase: Uint8Array, counter: bigint): Uint8Array {
  checkNonce(nonceBase);
  const n = new Uint8Array(nonceBase);
  const view = new DataView(n.buffer);
  view.setBigUint64(4, view.getBigUint64(4, true) ^ BigInt.asUintN(64, counter), true);
  return n;
}

function bad(message: string, details: Record<string, unknown> = {}): WeftError {
  return new WeftError('WEFT-K003', message, details);
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== AEAD_KEY_LENGTH) throw bad(`AEAD key must be a ${AEAD_KEY_LENGTH}-byte Uint8Array`);
}

function checkNonce(nonce: Uint8Array): void {
  if (!(nonce instanceof Uint8Array) || nonce.length !== AEAD_NONCE_LENGTH) throw bad(`AEAD nonce must be a ${AEAD_NONCE_LENGTH}-byte Uint8Array`);
}

class WasmAead implements AeadKernel {
  readonly variant: KernelVariant;
  readonly maxRecord: number;
  readonly maxAad: number;
  readonly maxRecords: number;
  readonly io: Uint8Array;
  private readonly e: AeadExports;
  private readonly mem: WebAssembly.Memory;
  private readonly bytes: Uint8Array;
  private readonly keyPtr: number;
  private readonly noncePtr: number;
  private readonly tagPtr: number;
  private readonly aadPtr: number;
  private readonly ioPtr: number;
  private readonly outPtr: number;
  private readonly ioCapacity: number;
  private readonly table: Uint32Array;
  private readonly results: Int32Array;

  constructor(variant: KernelVariant) {
    const k = loadKernel<AeadExports>('aead', variant);
    this.variant = variant;
    this.e = k.exports;
    this.mem = k.exports.memory;
    this.bytes = k.bytes;
    const g = (x: WebAssembly.Global) => x.value as number;
    this.keyPtr = g(this.e.KEY_PTR);
    this.noncePtr = g(this.e.NONCE_PTR);
    this.tagPtr = g(this.e.TAG_PTR);
    this.aadPtr = g(this.e.AAD_PTR);
    this.ioPtr = g(this.e.IO_PTR);
    this.outPtr = g(this.e.OUT_PTR);
    this.ioCapacity = g(this.e.IO_CAPACITY);
    this.maxAad = g(this.e.AAD_CAPACITY);
    this.maxRecords = g(this.e.MAX_RECORDS);
    this.maxRecord = this.ioCapacity - AEAD_TAG_LENGTH;
    this.io = this.bytes.subarray(this.ioPtr, this.ioPtr + this.ioCapacity);
    this.table = new Uint32Array(this.mem.buffer, g(this.e.TABLE_PTR), this.maxRecords * 2);
    this.results = new Int32Array(this.mem.buffer, g(this.e.RESULTS_PTR), this.maxRecords);
  }

  memoryBytes(): number {
    return this.mem.buffer.byteLength;
  }

  /** Key, nonce and AAD into kernel memory; returns the AAD length. */
  private prepare(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array | undefined): number {
    if (key.length !== AEAD_KEY_LENGTH) checkKey(key);
    if (nonce.length !== AEAD_NONCE_LENGTH) checkNonce(nonce);
    this.bytes.set(key, this.keyPtr);
    this.bytes.set(nonce, this.noncePtr);
    if (aad === undefined || aad.length === 0) return 0;
    if (aad.length > this.maxAad) return -1;
    this.bytes.set(aad, this.aadPtr);
    return aad.length;
  }

  sealInPlace(key: Uint8Array, nonce: Uint8Array, length: number, aad?: Uint8Array): number {
    const aadLength = this.prepare(key, nonce, aad);
    if (aadLength < 0) return AEAD_BAD_AAD;
    return this.e.seal(0, length, 0, aadLength);
  }

  openInPlace(key: Uint8Array, nonce: Uint8Array, sealedLength: number, aad?: Uint8Array): number {
    const aadLength = this.prepare(key, nonce, aad);
    if (aadLength < 0) return AEAD_BAD_AAD;
    return this.e.open(0, sealedLength, 0, aadLength);
  }

  sealInto(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array | undefined, out: Uint8Array): number {
    const n = plaintext.length;
    if (n > this.maxRecord) throw bad(`record of ${n} bytes exceeds the kernel's ${this.maxRecord}`, { length: n });
    if (out.length < n + AEAD_TAG_LENGTH) throw bad(`out has ${out.length} bytes, sealing needs ${n + AEAD_TAG_LENGTH}`);
    const aadLength = this.prepare(key, nonce, aad);
    if (aadLength < 0) throw bad(`AAD of ${aad!.length} bytes exceeds the kernel's ${this.maxAad}`);
    this.bytes.set(plaintext, this.ioPtr);
    const r = this.e.seal(0, n, 0, aadLength);
    out.set(this.io.subarray(0, r));
    return r;
  }

  openInto(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array | undefined, out: Uint8Array): number {
    // A wrong key or nonce size is the caller's bug whatever the bytes: say so first.
    if (key.length !== AEAD_KEY_LENGTH) checkKey(key);
    if (nonce.length !== AEAD_NONCE_LENGTH) checkNonce(nonce);
    const n = sealed.length;
    if (n < AEAD_TAG_LENGTH || n > this.ioCapacity) return AEAD_BAD_LENGTH;
    if (out.length < n - AEAD_TAG_LENGTH) throw bad(`out has ${out.length} bytes, opening needs ${n - AEAD_TAG_LENGTH}`);
    const aadLength = this.prepare(key, nonce, aad);
    if (aadLength < 0) return AEAD_BAD_AAD;
    this.bytes.set(sealed, this.ioPtr);
    // The plaintext is left in the kernel's OUT region, released only on a tag match.
    const r = this.e.open_detached(0, n, 0, aadLength);
    if (r < 0) return r;
    out.set(this.bytes.subarray(this.outPtr, this.outPtr + r));
    return r;
  }

  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
    const out = new Uint8Array(plaintext.length + AEAD_TAG_LENGTH);
    this.sealInto(key, nonce, plaintext, aad, out);
    return out;
  }

  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array | null {
    if (key.length !== AEAD_KEY_LENGTH) checkKey(key);
    if (nonce.length !== AEAD_NONCE_LENGTH) checkNonce(nonce);
    if (sealed.length < AEAD_TAG_LENGTH) return null;
    const out = new Uint8Array(sealed.length - AEAD_TAG_LENGTH);
    return this.openInto(key, nonce, sealed, aad, out) < 0 ? null : out;
  }

  sealRecords(key: Uint8Array, nonceBase: Uint8Array, counterStart: bigint, records: Uint8Array, lengths: Uint32Array, out: Uint8Array, aad?: Uint8Array, aadLengths?: Uint32Array): number {
    return this.batch(true, key, nonceBase, counterStart, records, lengths, out, undefined, aad, aadLengths);
  }

  openRecords(key: Uint8Array, nonceBase: Uint8Array, counterStart: bigint, sealed: Uint8Array, sealedLengths: Uint32Array, out: Uint8Array, results: Int32Array, aad?: Uint8Array, aadLengths?: Uint32Array): number {
    if (results.length < sealedLengths.length) throw bad(`results has room for ${results.length} records, the batch has ${sealedLengths.length}`);
    return this.batch(false, key, nonceBase, counterStart, sealed, sealedLengths, out, results, aad, aadLengths);
  }

  /**
   * Runs a batch in chunks that fit the kernel: as many records as fit IO, AAD
   * and the table, then one kernel call, then the results copied out.
   */
  private batch(
    sealing: boolean, key: Uint8Array, nonceBase: Uint8Array, counterStart: bigint, input: Uint8Array, lengths: Uint32Array,
    out: Uint8Array, results: Int32Array | undefined, aad: Uint8Array | undefined, aadLengths: Uint32Array | undefined,
  ): number {
    checkKey(key);
    checkNonce(nonceBase);
    const count = lengths.length;
    if (aadLengths !== undefined && aadLengths.length !== count) throw bad(`aadLengths has ${aadLengths.length} entries, lengths ${count}`);
    if (aadLengths !== undefined && aad === undefined) throw bad('aadLengths given without aad');
    // Sizes first, so a bad batch throws before anything is written.
    let inTotal = 0, outTotal = 0, aadTotal = 0;
    for (let i = 0; i < count; i++) {
      const n = lengths[i]!;
      const a = aadLengths ? aadLengths[i]! : 0;
      if (sealing && n > this.maxRecord) throw bad(`record ${i} of ${n} bytes exceeds the kernel's ${this.maxRecord}`);
      if (a > this.maxAad) throw bad(`AAD of record ${i} (${a} bytes) exceeds the kernel's ${this.maxAad}`);
      inTotal += n;
      aadTotal += a;
      outTotal += sealing ? n + AEAD_TAG_LENGTH : Math.max(0, n - AEAD_TAG_LENGTH);
    }
    if (inTotal > input.length) throw bad(`lengths add up to ${inTotal} bytes, the input has ${input.length}`);
    if (aadTotal > (aad?.length ?? 0)) throw bad(`aadLengths add up to ${aadTotal} bytes, aad has ${aad?.length ?? 0}`);
    if (outTotal > out.length) throw bad(`out has ${out.length} bytes, the batch needs ${outTotal}`);

    this.bytes.set(key, this.keyPtr);
    this.bytes.set(nonceBase, this.noncePtr);
    const { bytes, table, ioPtr, outPtr, aadPtr } = this;
    let failed = 0;
    let i = 0, inOff = 0, outOff = 0, aadOff = 0;
    while (i < count) {
      // Fill one chunk.
      const first = i;
      let ioUsed = 0, aadUsed = 0;
      while (i < count && i - first < this.maxRecords) {
        const n = lengths[i]!;
        const a = aadLengths ? aadLengths[i]! : 0;
        const room = sealing ? n + AEAD_TAG_LENGTH : n;
        if (ioUsed + room > this.ioCapacity || aadUsed + a > this.maxAad) break;
        // A sealed record longer than the kernel takes cannot be opened: report it alone.
        if (!sealing && room > this.ioCapacity) break;
        table[2 * (i - first)] = n;
        table[2 * (i - first) + 1] = a;
        bytes.set(input.subarray(inOff, inOff + n), ioPtr + ioUsed);
        if (a > 0) bytes.set(aad!.subarray(aadOff, aadOff + a), aadPtr + aadUsed);
        inOff += n;
        aadOff += a;
        ioUsed += room;
        aadUsed += a;
        i++;
      }
      if (i === first) {
        // Only an oversized sealed record stops a chunk before it holds anything.
        results![i] = AEAD_BAD_LENGTH;
        failed++;
        const n = lengths[i]!;
        inOff += n;
        aadOff += aadLengths ? aadLengths[i]! : 0;
        outOff += n - AEAD_TAG_LENGTH;
        i++;
        continue;
      }
      const counter = BigInt.asUintN(64, counterStart + BigInt(first));
      const lo = Number(counter & 0xffffffffn) | 0;
      const hi = Number(counter >> 32n) | 0;
      const chunk = i - first;
      if (sealing) {
        const r = this.e.seal_records(chunk, lo, hi);
        if (r < 0) throw bad(`kernel rejected the batch (code ${r})`);
        out.set(bytes.subarray(ioPtr, ioPtr + r), outOff);
        outOff += r;
      } else {
        const r = this.e.open_records(chunk, lo, hi);
        if (r < 0) throw bad(`kernel rejected the batch (code ${r})`);
        failed += r;
        // Plaintexts sit in OUT at their records' IO offsets.
        let src = outPtr;
        for (let j = 0; j < chunk; j++) {
          const sealedLength = table[2 * j]!;
          const plain = sealedLength >= AEAD_TAG_LENGTH ? sealedLength - AEAD_TAG_LENGTH : 0;
          const res = this.results[j]!;
          results![first + j] = res;
          if (res >= 0) out.set(bytes.subarray(src, src + res), outOff);
          src += sealedLength;
          outOff += plain;
        }
      }
    }
    return sealing ? outOff : failed;
  }

  chacha20Block(key: Uint8Array, nonce: Uint8Array, counter: number): Uint8Array {
    this.prepare(key, nonce, undefined);
    this.e.chacha20_block(counter >>> 0, 0);
    return this.io.slice(0, 64);
  }

  chacha20Xor(key: Uint8Array, nonce: Uint8Array, counter: number, data: Uint8Array): Uint8Array {
    if (data.length > this.ioCapacity) throw bad(`data of ${data.length} bytes exceeds the kernel's ${this.ioCapacity}`);
    this.prepare(key, nonce, undefined);
    this.io.set(data);
    this.e.chacha20_xor(counter >>> 0, 0, data.length);
    return this.io.slice(0, data.length);
  }

  poly1305(key: Uint8Array, message: Uint8Array): Uint8Array {
    checkKey(key);
    if (message.length > this.ioCapacity) throw bad(`message of ${message.length} bytes exceeds the kernel's ${this.ioCapacity}`);
    this.bytes.set(key, this.keyPtr);
    this.io.set(message);
    this.e.poly1305_mac(0, message.length);
    return this.bytes.slice(this.tagPtr, this.tagPtr + AEAD_TAG_LENGTH);
  }
}

const kernels = new Map<KernelVariant, AeadKernel>();

/** The AEAD kernel of this thread (one instance per variant). */
export function aeadKernel(variant: KernelVariant = preferredVariant()): AeadKernel {
  let k = kernels.get(variant);
  if (!k) {
    k = new WasmAead(variant);
    kernels.set(variant, k);
  }
  return k;
}

/** Seals a batch of records (see the top of this file). Returns the bytes written to out. */
export function sealRecords(
  key: Uint8Array, nonceBase: Uint8Array, counterStart: bigint, records: Uint8Array, lengths: Uint32Array, out: Uint8Array,
  aad?: Uint8Array, aadLengths?: Uint32Array, variant?: KernelVariant,
): number {
  return aeadKernel(variant).sealRecords(key, nonceBase, counterStart, records, lengths, out, aad, aadLengths);
}

/** Opens a batch of records (see the top of this file). Returns how many failed. */
export function openRecords(
  key: Uint8Array, nonceBase: Uint8Array, counterStart: bigint, sealed: Uint8Array, sealedLengths: Uint32Array, out: Uint8Array,
  results: Int32Array, aad?: Uint8Array, aadLengths?: Uint32Array, variant?: KernelVariant,
): number {
  return aeadKernel(variant).openRecords(key, nonceBase, counterStart, sealed, sealedLengths, out, results, aad, aadLengths);
}
