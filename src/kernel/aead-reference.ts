// Reference ChaCha20-Poly1305 for tests and benchmarks: @noble/ciphers behind
// the same calls as the kernel wrapper (src/kernel/aead.ts), including the batch
// layout and the per-record nonce rule.
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { AEAD_AUTH_FAILED, AEAD_BAD_LENGTH, AEAD_TAG_LENGTH, recordNonce } from './aead.js';

const EMPTY = new Uint8Array(0);

export function referenceSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  return chacha20poly1305(key, nonce, aad ?? EMPTY).encrypt(plaintext);
}

/** The plaintext, or null when the record is shorter than a tag or fails authentication. */
export function referenceOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array | null {
  if (sealed.length < AEAD_TAG_LENGTH) return null;
  try {
    return chacha20poly1305(key, nonce, aad ?? EMPTY).decrypt(sealed);
  } catch {
    return null;
  }
}

export function referenceSealRecords(
  key: Uint8Array, nonceBase: Uint8Array, counterStart: bigint, records: Uint8Array, lengths: Uint32Array, out: Uint8Array,
  aad?: Uint8Array, aadLengths?: Uint32Array,
): number {
  let inOff = 0, outOff = 0, aadOff = 0;
  for (let i = 0; i < lengths.length; i++) {
    const n = lengths[i]!;
    const a = aadLengths ? aadLengths[i]! : 0;
    const sealed = referenceSeal(key, recordNonce(nonceBase, counterStart + BigInt(i)), records.subarray(inOff, inOff + n), aad?.subarray(aadOff, aadOff + a));
    out.set(sealed, outOff);
    inOff += n;
    aadOff += a;
    outOff += sealed.length;
  }
  return outOff;
}

export function referenceOpenRecords(
  key: Uint8Array, nonceBase: Uint8Array, counterStart: bigint, sealed: Uint8Array, sealedLengths: Uint32Array, out: Uint8Array,
  results: Int32Array, aad?: Uint8Array, aadLengths?: Uint32Array,
): number {
  let inOff = 0, outOff = 0, aadOff = 0, failed = 0;
  for (let i = 0; i < sealedLengths.length; i++) {
    const n = sealedLengths[i]!;
    const a = aadLengths ? aadLengths[i]! : 0;
    const plain = n < AEAD_TAG_LENGTH ? null : referenceOpen(key, recordNonce(nonceBase, counterStart + BigInt(i)), sealed.subarray(inOff, inOff + n), aad?.subarray(aadOff, aadOff + a));
    if (plain) {
      out.set(plain, outOff);
      results[i] = plain.length;
    } else {
      results[i] = n < AEAD_TAG_LENGTH ? AEAD_BAD_LENGTH : AEAD_AUTH_FAILED;
      failed++;
    }
    inOff += n;
    aadOff += a;
    outOff += Math.max(0, n - AEAD_TAG_LENGTH);
  }
  return failed;
}
