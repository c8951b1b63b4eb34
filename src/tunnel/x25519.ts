// X25519 (RFC 7748) for the tunnel handshake: node:crypto where it runs
// (OpenSSL, ≈50 µs a shared secret), @noble/curves as the reference (pure JS,
// ≈2 ms). Tests check that both give the same public keys and shared secrets.
//
// Keys are raw 32-byte strings as in the RFC. node:crypto wants KeyObjects:
// a raw key is wrapped in the fixed PKCS#8 / SPKI DER prefix for X25519.
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { x25519 as nobleCurve } from '@noble/curves/ed25519.js';
import { WeftError } from '../errors.js';

export const X25519_KEY_LENGTH = 32;

export interface X25519KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

export interface X25519 {
  readonly name: 'node' | 'noble';
  generateKeyPair(): X25519KeyPair;
  /** The key pair of a raw private key. */
  keyPairFromPrivate(privateKey: Uint8Array): X25519KeyPair;
  /**
   * The shared secret. Throws WEFT-T001 for a peer key that gives the all-zero
   * secret (a low-order point): a handshake must not go on with it.
   */
  dh(own: X25519KeyPair, peerPublic: Uint8Array): Uint8Array;
}

const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

function checkKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== X25519_KEY_LENGTH) {
    throw new WeftError('WEFT-K003', `X25519 ${what} must be a ${X25519_KEY_LENGTH}-byte Uint8Array`);
  }
}

function lowOrder(): WeftError {
  return new WeftError('WEFT-T001', 'peer X25519 key is a low-order point (all-zero shared secret)');
}

function isZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i]!;
  return acc === 0;
}

/** A key pair with its node KeyObject cached (building one costs a few µs). */
interface NodeKeyPair extends X25519KeyPair {
  keyObject?: KeyObject;
}

function privateKeyObject(kp: NodeKeyPair): KeyObject {
  if (!kp.keyObject) {
    kp.keyObject = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, kp.privateKey]), format: 'der', type: 'pkcs8' });
  }
  return kp.keyObject;
}

export const nodeX25519: X25519 = {
  name: 'node',
  generateKeyPair(): X25519KeyPair {
    const { publicKey, privateKey } = generateKeyPairSync('x25519');
    const kp: NodeKeyPair = {
      publicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length)),
      privateKey: new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length)),
    };
    kp.keyObject = privateKey;
    return kp;
  },
  keyPairFromPrivate(privateKey: Uint8Array): X25519KeyPair {
    checkKey(privateKey, 'private key');
    const kp: NodeKeyPair = { privateKey: new Uint8Array(privateKey), publicKey: new Uint8Array(0) };
    const pub = createPublicKey(privateKeyObject(kp));
    (kp as { publicKey: Uint8Array }).publicKey = new Uint8Array(pub.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));
    return kp;
  },
  dh(own: X25519KeyPair, peerPublic: Uint8Array): Uint8Array {
    checkKey(peerPublic, 'public key');
    const publicKey = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, peerPublic]), format: 'der', type: 'spki' });
    let out: Buffer;
    try {
      out = diffieHellman({ privateKey: privateKeyObject(own as NodeKeyPair), publicKey });
    } catch {
      // OpenSSL refuses to derive an all-zero secret.
      throw lowOrder();
    }
    if (isZero(out)) throw lowOrder();
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  },
};

export const nobleX25519: X25519 = {
  name: 'noble',
  generateKeyPair(): X25519KeyPair {
    return this.keyPairFromPrivate(new Uint8Array(randomBytes(X25519_KEY_LENGTH)));
  },
  keyPairFromPrivate(privateKey: Uint8Array): X25519KeyPair {
    checkKey(privateKey, 'private key');
    return { privateKey: new Uint8Array(privateKey), publicKey: nobleCurve.getPublicKey(privateKey) };
  },
  dh(own: X25519KeyPair, peerPublic: Uint8Array): Uint8Array {
    checkKey(peerPublic, 'public key');
    let out: Uint8Array;
    try {
      out = nobleCurve.getSharedSecret(own.privateKey, peerPublic);
    } catch {
      throw lowOrder();
    }
    if (isZero(out)) throw lowOrder();
    return out;
  },
};

let preferred: X25519 | undefined;

/** node:crypto's X25519 when this runtime has it, else @noble/curves. */
export function defaultX25519(): X25519 {
  if (!preferred) {
    try {
      const kp = nodeX25519.generateKeyPair();
      nodeX25519.dh(kp, nobleCurve.getPublicKey(randomBytes(32)));
      preferred = nodeX25519;
    } catch {
      preferred = nobleX25519;
    }
  }
  return preferred;
}
