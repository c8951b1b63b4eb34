// The gossip keyring, with memberlist's semantics: several keys installed, one
// primary that seals, all of them tried when opening, so the cluster secret
// rotates without downtime: install the new secret on every member, then make
// it primary on every member, then remove the old one.
//
// A secret is turned into the 32-byte XChaCha20-Poly1305 key with
// HKDF-SHA256 under a fixed label, so a secret of any length works and the
// gossip key differs from keys derived from the same secret elsewhere (the
// tunnel PSK). A one-byte key id (from the key's fingerprint) rides in the
// clear so the opener tries only matching keys.

import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { WeftError } from '../errors.js';

/** HKDF salt and info: fixed, so every member derives the same key from the same secret. */
export const GOSSIP_KEY_SALT = new TextEncoder().encode('weft/gossip/salt/v1');
export const GOSSIP_KEY_INFO = new TextEncoder().encode('weft gossip xchacha20-poly1305 key v1');
export const MIN_SECRET_BYTES = 16;
export const KEY_BYTES = 32;

export interface GossipKey {
  /** The derived AEAD key. */
  readonly key: Uint8Array;
  /** Hex of the first 8 bytes of SHA-256(key): names the key in logs and APIs without revealing it. */
  readonly fingerprint: string;
  /** First byte of the fingerprint: sent in each packet header. */
  readonly id: number;
}

/** Derive the gossip key for a cluster secret. */
export function deriveGossipKey(secret: Uint8Array | string): GossipKey {
  const ikm = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (ikm.length < MIN_SECRET_BYTES) throw new WeftError('WEFT-G102', `the cluster secret must be at least ${MIN_SECRET_BYTES} bytes`);
  const key = hkdf(sha256, ikm, GOSSIP_KEY_SALT, GOSSIP_KEY_INFO, KEY_BYTES);
  const digest = sha256(key);
  return { key, fingerprint: Buffer.from(digest.subarray(0, 8)).toString('hex'), id: digest[0]! };
}

export class Keyring {
  /** Installed keys by fingerprint; the primary is tracked separately. */
  private readonly installed = new Map<string, GossipKey>();
  private primaryFingerprint: string;

  /** The first secret becomes primary; the others are installed for opening only. */
  constructor(secrets: readonly (Uint8Array | string)[]) {
    if (secrets.length === 0) throw new WeftError('WEFT-G102', 'a keyring needs at least one secret');
    const keys = secrets.map(deriveGossipKey);
    for (const k of keys) this.installed.set(k.fingerprint, k);
    this.primaryFingerprint = keys[0]!.fingerprint;
  }

  /** Install a secret for opening (idempotent); returns its fingerprint. */
  install(secret: Uint8Array | string): string {
    const k = deriveGossipKey(secret);
    if (!this.installed.has(k.fingerprint)) this.installed.set(k.fingerprint, k);
    return k.fingerprint;
  }

  /** Make an installed key (by secret or fingerprint) the one that seals. */
  use(secretOrFingerprint: Uint8Array | string): void {
    this.primaryFingerprint = this.lookup(secretOrFingerprint).fingerprint;
  }

  /** Remove an installed key; the primary cannot be removed. */
  remove(secretOrFingerprint: Uint8Array | string): void {
    const k = this.lookup(secretOrFingerprint);
    if (k.fingerprint === this.primaryFingerprint) throw new WeftError('WEFT-G102', 'the primary key cannot be removed; use another key first');
    this.installed.delete(k.fingerprint);
  }

  primary(): GossipKey {
    return this.installed.get(this.primaryFingerprint)!;
  }

  /** Fingerprints, primary first. */
  fingerprints(): string[] {
    return [this.primaryFingerprint, ...[...this.installed.keys()].filter((f) => f !== this.primaryFingerprint)];
  }

  /** Keys that could have sealed a packet with this key id, primary first. */
  candidates(id: number): GossipKey[] {
    const out: GossipKey[] = [];
    const primary = this.primary();
    if (primary.id === id) out.push(primary);
    for (const k of this.installed.values()) if (k.id === id && k !== primary) out.push(k);
    return out;
  }

  private lookup(secretOrFingerprint: Uint8Array | string): GossipKey {
    if (typeof secretOrFingerprint === 'string') {
      const byFingerprint = this.installed.get(secretOrFingerprint);
      if (byFingerprint) return byFingerprint;
    }
    const fingerprint = deriveGossipKey(secretOrFingerprint).fingerprint;
    const k = this.installed.get(fingerprint);
    if (!k) throw new WeftError('WEFT-G102', 'no such key installed', { fingerprint });
    return k;
  }
}
