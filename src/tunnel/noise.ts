// The Noise Protocol Framework (revision 34), the parts weft uses:
// CipherState, SymmetricState and HandshakeState (§5) for 25519 / ChaChaPoly /
// BLAKE2s, with the psk modifier rules (§9). Patterns are token lists, so the
// same code runs weft's Noise_XXpsk0 and the published Noise_XXpsk3 test
// vectors (test/tunnel/noise.test.ts).
//
// ChaChaPoly is the WebAssembly AEAD kernel (src/kernel/aead.ts): its nonce is
// 32 zero bits then the 64-bit counter little-endian, which is what
// recordNonce(zero base, n) gives. HASH is BLAKE2s (@noble/hashes), HMAC and
// HKDF are built on it exactly as §4.3 specifies.
import { blake2s } from '@noble/hashes/blake2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { aeadKernel, AEAD_TAG_LENGTH } from '../kernel/aead.js';
import { WeftError } from '../errors.js';
import { defaultX25519, type X25519, type X25519KeyPair } from './x25519.js';

export const HASHLEN = 32;
export const DHLEN = 32;
export const KEYLEN = 32;
/** Noise's limit on a handshake or transport message. */
export const NOISE_MAX_MESSAGE = 65535;

export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss' | 'psk';

export interface HandshakePattern {
  /** e.g. 'XXpsk0' */
  readonly name: string;
  /** Pre-messages (§7.1): keys known before the handshake. */
  readonly initiatorPre: readonly ('e' | 's')[];
  readonly responderPre: readonly ('e' | 's')[];
  /** Message i is sent by the initiator when i is even. */
  readonly messages: readonly (readonly Token[])[];
}

/** weft's pattern: XX with the PSK mixed in before the first ephemeral (docs/tunnel.md). */
export const XX_PSK0: HandshakePattern = {
  name: 'XXpsk0',
  initiatorPre: [],
  responderPre: [],
  messages: [['psk', 'e'], ['e', 'ee', 's', 'es'], ['s', 'se']],
};

/** The standard XXpsk3 (PSK in the third message): used to check this code against published vectors. */
export const XX_PSK3: HandshakePattern = {
  name: 'XXpsk3',
  initiatorPre: [],
  responderPre: [],
  messages: [['e'], ['e', 'ee', 's', 'es'], ['s', 'se', 'psk']],
};

export function protocolName(pattern: HandshakePattern): string {
  return `Noise_${pattern.name}_25519_ChaChaPoly_BLAKE2s`;
}

/** A handshake message failed to decrypt or was malformed: the handshake is over. */
export class NoiseError extends Error {
  constructor(readonly reason: 'decrypt' | 'short' | 'key', message: string) {
    super(message);
    this.name = 'NoiseError';
  }
}

function hash(...parts: Uint8Array[]): Uint8Array {
  const h = blake2s.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

const ONE = Uint8Array.of(1);
const TWO = Uint8Array.of(2);
const THREE = Uint8Array.of(3);

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** HKDF(chaining key, input key material, n) of §4.3 with HMAC-BLAKE2s; n is 2 or 3. */
export function hkdf(chainingKey: Uint8Array, ikm: Uint8Array, n: 2 | 3): Uint8Array[] {
  const temp = hmac(blake2s, chainingKey, ikm);
  const o1 = hmac(blake2s, temp, ONE);
  const o2 = hmac(blake2s, temp, concat(o1, TWO));
  if (n === 2) return [o1, o2];
  return [o1, o2, hmac(blake2s, temp, concat(o2, THREE))];
}

/** The ChaChaPoly nonce for counter n: 4 zero bytes, then n as 64-bit little-endian. */
export function noiseNonce(n: number, out = new Uint8Array(12)): Uint8Array {
  out.fill(0, 0, 4);
  const view = new DataView(out.buffer, out.byteOffset, 12);
  view.setUint32(4, n >>> 0, true);
  view.setUint32(8, Math.floor(n / 0x100000000), true);
  return out;
}

const MAX_NONCE = new Uint8Array([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const ZEROS32 = new Uint8Array(32);

/** REKEY(k) of §4.2: the first 32 bytes of ENCRYPT(k, 2^64 - 1, empty, 32 zero bytes). */
export function rekey(key: Uint8Array): Uint8Array {
  return aeadKernel().seal(key, MAX_NONCE, ZEROS32).subarray(0, KEYLEN);
}

/** §5.1. The transport phase uses src/tunnel/record.ts instead (batched, counter in place). */
export class CipherState {
  k: Uint8Array | null = null;
  n = 0;
  private readonly nonce = new Uint8Array(12);

  initializeKey(key: Uint8Array | null): void {
    this.k = key;
    this.n = 0;
  }
  hasKey(): boolean {
    return this.k !== null;
  }
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (!this.k) return plaintext;
    const out = aeadKernel().seal(this.k, noiseNonce(this.n, this.nonce), plaintext, ad);
    this.n++;
    return out;
  }
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (!this.k) return ciphertext;
    const out = aeadKernel().open(this.k, noiseNonce(this.n, this.nonce), ciphertext, ad);
    if (out === null) throw new NoiseError('decrypt', 'handshake message failed authentication');
    this.n++;
    return out;
  }
}

/** §5.2. */
export class SymmetricState {
  readonly cipher = new CipherState();
  ck: Uint8Array;
  h: Uint8Array;

  constructor(protocol: string) {
    const name = new TextEncoder().encode(protocol);
    if (name.length <= HASHLEN) {
      this.h = new Uint8Array(HASHLEN);
      this.h.set(name);
    } else {
      this.h = hash(name);
    }
    this.ck = this.h;
    this.cipher.initializeKey(null);
  }
  mixKey(ikm: Uint8Array): void {
    const [ck, k] = hkdf(this.ck, ikm, 2);
    this.ck = ck!;
    this.cipher.initializeKey(k!.subarray(0, KEYLEN));
  }
  mixHash(data: Uint8Array): void {
    this.h = hash(this.h, data);
  }
  mixKeyAndHash(ikm: Uint8Array): void {
    const [ck, th, k] = hkdf(this.ck, ikm, 3);
    this.ck = ck!;
    this.mixHash(th!);
    this.cipher.initializeKey(k!.subarray(0, KEYLEN));
  }
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const c = this.cipher.encryptWithAd(this.h, plaintext);
    this.mixHash(c);
    return c;
  }
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const p = this.cipher.decryptWithAd(this.h, ciphertext);
    this.mixHash(ciphertext);
    return p;
  }
  /** The two transport keys: [initiator → responder, responder → initiator]. */
  split(): [Uint8Array, Uint8Array] {
    const [k1, k2] = hkdf(this.ck, new Uint8Array(0), 2);
    return [k1!.subarray(0, KEYLEN), k2!.subarray(0, KEYLEN)];
  }
}

export interface HandshakeStateOptions {
  pattern: HandshakePattern;
  initiator: boolean;
  prologue: Uint8Array;
  /** Our static key pair (patterns with an s token). */
  s?: X25519KeyPair;
  /** A fixed ephemeral (test vectors only: a real handshake generates one). */
  e?: X25519KeyPair;
  /** The peer's static key when known ahead (pre-message patterns). */
  rs?: Uint8Array;
  /** The pre-shared key (32 bytes), for patterns with a psk token. */
  psk?: Uint8Array;
  dh?: X25519;
}

export interface HandshakeOutcome {
  /** Key for what the initiator sends (CipherState c1 of Split). */
  initiatorToResponder: Uint8Array;
  responderToInitiator: Uint8Array;
  /** The handshake hash h: a unique, secret-derived name for the session (channel binding). */
  handshakeHash: Uint8Array;
  /** The peer's static public key (XX: learned during the handshake). */
  remoteStatic: Uint8Array | null;
}

/** §5.3. One use: writeMessage / readMessage alternate until done(). */
export class HandshakeState {
  private readonly ss: SymmetricState;
  private readonly initiator: boolean;
  private readonly pattern: HandshakePattern;
  private readonly dhf: X25519;
  private readonly psk?: Uint8Array;
  private readonly s?: X25519KeyPair;
  private e?: X25519KeyPair;
  private rs?: Uint8Array;
  private re?: Uint8Array;
  private index = 0;

  constructor(o: HandshakeStateOptions) {
    this.pattern = o.pattern;
    this.initiator = o.initiator;
    this.dhf = o.dh ?? defaultX25519();
    this.s = o.s;
    this.e = o.e;
    this.rs = o.rs;
    this.psk = o.psk;
    const usesPsk = o.pattern.messages.some((m) => m.includes('psk'));
    if (usesPsk && (!o.psk || o.psk.length !== 32)) throw new WeftError('WEFT-K003', 'a psk pattern needs a 32-byte psk');
    this.ss = new SymmetricState(protocolName(o.pattern));
    this.ss.mixHash(o.prologue);
    // Pre-messages: initiator's first, then responder's (§7.1).
    for (const [keys, mine] of [[o.pattern.initiatorPre, o.initiator], [o.pattern.responderPre, !o.initiator]] as const) {
      for (const t of keys) {
        const pub = t === 's' ? (mine ? this.s?.publicKey : this.rs) : mine ? this.e?.publicKey : this.re;
        if (!pub) throw new WeftError('WEFT-K003', `pre-message key ${t} missing`);
        this.ss.mixHash(pub);
        if (usesPsk && t === 'e') this.ss.mixKey(pub);
      }
    }
  }

  private get usesPsk(): boolean {
    return this.psk !== undefined;
  }

  /** Whose turn it is. */
  isMyTurn(): boolean {
    return (this.index % 2 === 0) === this.initiator;
  }

  done(): boolean {
    return this.index >= this.pattern.messages.length;
  }

  private dh(token: 'ee' | 'es' | 'se' | 'ss'): Uint8Array {
    const need = (k: Uint8Array | X25519KeyPair | undefined, what: string) => {
      if (!k) throw new NoiseError('key', `missing ${what} for ${token}`);
      return k;
    };
    // 'es': initiator's e with responder's s; 'se': initiator's s with responder's e.
    const [mineE, peerE] = [() => need(this.e, 'e') as X25519KeyPair, () => need(this.re, 're') as Uint8Array];
    const [mineS, peerS] = [() => need(this.s, 's') as X25519KeyPair, () => need(this.rs, 'rs') as Uint8Array];
    try {
      switch (token) {
        case 'ee':
          return this.dhf.dh(mineE(), peerE());
        case 'ss':
          return this.dhf.dh(mineS(), peerS());
        case 'es':
          return this.initiator ? this.dhf.dh(mineE(), peerS()) : this.dhf.dh(mineS(), peerE());
        case 'se':
          return this.initiator ? this.dhf.dh(mineS(), peerE()) : this.dhf.dh(mineE(), peerS());
      }
    } catch (err) {
      if (err instanceof NoiseError) throw err;
      throw new NoiseError('key', (err as Error).message);
    }
  }

  writeMessage(payload: Uint8Array): Uint8Array {
    if (this.done() || !this.isMyTurn()) throw new WeftError('WEFT-K003', 'not our turn to write a handshake message');
    const parts: Uint8Array[] = [];
    for (const t of this.pattern.messages[this.index]!) {
      switch (t) {
        case 'e':
          if (!this.e) this.e = this.dhf.generateKeyPair();
          parts.push(this.e.publicKey);
          this.ss.mixHash(this.e.publicKey);
          if (this.usesPsk) this.ss.mixKey(this.e.publicKey);
          break;
        case 's':
          if (!this.s) throw new WeftError('WEFT-K003', 'pattern needs a static key');
          parts.push(this.ss.encryptAndHash(this.s.publicKey));
          break;
        case 'psk':
          this.ss.mixKeyAndHash(this.psk!);
          break;
        default:
          this.ss.mixKey(this.dh(t));
      }
    }
    parts.push(this.ss.encryptAndHash(payload));
    this.index++;
    let len = 0;
    for (const p of parts) len += p.length;
    const out = new Uint8Array(len);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** Returns the payload; throws NoiseError when the message is short or fails to decrypt. */
  readMessage(message: Uint8Array): Uint8Array {
    if (this.done() || this.isMyTurn()) throw new WeftError('WEFT-K003', 'not our turn to read a handshake message');
    let at = 0;
    const take = (n: number): Uint8Array => {
      if (at + n > message.length) throw new NoiseError('short', 'handshake message too short');
      const v = message.subarray(at, at + n);
      at += n;
      return v;
    };
    for (const t of this.pattern.messages[this.index]!) {
      switch (t) {
        case 'e':
          this.re = new Uint8Array(take(DHLEN));
          this.ss.mixHash(this.re);
          if (this.usesPsk) this.ss.mixKey(this.re);
          break;
        case 's':
          this.rs = new Uint8Array(this.ss.decryptAndHash(take(DHLEN + (this.ss.cipher.hasKey() ? AEAD_TAG_LENGTH : 0))));
          break;
        case 'psk':
          this.ss.mixKeyAndHash(this.psk!);
          break;
        default:
          this.ss.mixKey(this.dh(t));
      }
    }
    const rest = message.subarray(at);
    if (this.ss.cipher.hasKey() && rest.length < AEAD_TAG_LENGTH) throw new NoiseError('short', 'handshake message too short');
    const payload = this.ss.decryptAndHash(rest);
    this.index++;
    return payload;
  }

  /** The peer's static key once the pattern has carried it. */
  remoteStatic(): Uint8Array | null {
    return this.rs ?? null;
  }

  handshakeHash(): Uint8Array {
    return this.ss.h;
  }

  /** After the last message: the transport keys (§5.2 Split). */
  finish(): HandshakeOutcome {
    if (!this.done()) throw new WeftError('WEFT-K003', 'handshake not finished');
    const [c1, c2] = this.ss.split();
    return { initiatorToResponder: c1, responderToInitiator: c2, handshakeHash: this.ss.h, remoteStatic: this.rs ?? null };
  }
}
