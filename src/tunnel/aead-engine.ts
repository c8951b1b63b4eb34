// Which ChaCha20-Poly1305 implementation seals and opens a record: the WASM
// kernel (src/kernel/aead.ts) or node:crypto's (OpenSSL). Both are RFC 8439
// AEAD_CHACHA20_POLY1305 under the same key, nonce and additional data, so a
// record is the same bytes whichever sealed it and either opens it: the choice
// is local to each agent and never on the wire (docs/protocol.md §4).
//
// Measured (docs/tunnel.md, "AEAD engine by record size"): node:crypto costs a
// cipher object and an output Buffer per record, which the WASM kernel does not,
// so the kernel wins on small records; OpenSSL's vectorised ChaCha20 wins on
// large ones. `auto` uses node:crypto for records of NATIVE_MIN_PLAINTEXT bytes
// and more — in bulk transfer, the full 16.9 KiB records — and the kernel below.
import { createCipheriv, createDecipheriv, getCiphers } from 'node:crypto';
import { AEAD_TAG_LENGTH } from '../kernel/aead.js';

export type AeadEngineChoice = 'auto' | 'wasm' | 'native';
export const AEAD_ENGINE_CHOICES: readonly AeadEngineChoice[] = ['auto', 'wasm', 'native'];

/** Plaintext length from which `auto` uses node:crypto (the measured crossover, rounded up). */
export const NATIVE_MIN_PLAINTEXT = 8 << 10;

const ALGORITHM = 'chacha20-poly1305';

/** True when this Node's OpenSSL has ChaCha20-Poly1305 (every supported Node build does; checked once). */
export const nativeAeadAvailable: boolean = getCiphers().includes(ALGORITHM);

/**
 * The smallest record plaintext sealed and opened by node:crypto for a choice
 * (Infinity: never). Without node:crypto's ChaCha20-Poly1305 everything stays on the kernel.
 */
export function nativeFrom(choice: AeadEngineChoice): number {
  if (!nativeAeadAvailable || choice === 'wasm') return Infinity;
  return choice === 'native' ? 0 : NATIVE_MIN_PLAINTEXT;
}

/** Seals `plain` with node:crypto and writes ciphertext ‖ tag at out[at]. Returns the bytes written. */
export function nativeSealInto(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plain: Uint8Array, out: Uint8Array, at: number): number {
  const c = createCipheriv(ALGORITHM, key, nonce, { authTagLength: AEAD_TAG_LENGTH });
  c.setAAD(aad, { plaintextLength: plain.length });
  const ct = c.update(plain);
  c.final();
  out.set(ct, at);
  out.set(c.getAuthTag(), at + plain.length);
  return plain.length + AEAD_TAG_LENGTH;
}

/** Opens ciphertext ‖ tag with node:crypto: the plaintext (a new Buffer), or null when the tag does not verify. */
export function nativeOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Buffer | null {
  const n = sealed.length - AEAD_TAG_LENGTH;
  if (n < 0) return null;
  const d = createDecipheriv(ALGORITHM, key, nonce, { authTagLength: AEAD_TAG_LENGTH });
  d.setAAD(aad, { plaintextLength: n });
  d.setAuthTag(sealed.subarray(n));
  const plain = d.update(sealed.subarray(0, n));
  try {
    d.final();
  } catch {
    return null;
  }
  return plain;
}
