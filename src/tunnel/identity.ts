// An agent's static X25519 identity: generated on first start, stored in a
// private file (mode 0600), its public key printed by `weft id`.
//
// File format (docs/tunnel.md "Identity file"): one JSON object and a newline,
//   {"version":1,"type":"x25519","privateKey":"<base64 32 B>","publicKey":"<base64 32 B>"}
// The public key is redundant (it follows from the private key) and is checked
// on load, so a corrupted file is caught rather than silently changing identity.
import { promises as fs, constants as fsConstants } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { WeftError } from '../errors.js';
import { defaultX25519, X25519_KEY_LENGTH, type X25519KeyPair } from './x25519.js';

export interface Identity extends X25519KeyPair {
  /** The public key in base64 (what `weft id` prints and pinning lists accept). */
  readonly id: string;
  /** Where it was loaded from or stored, if anywhere. */
  readonly path?: string;
  /** True when loadOrCreateIdentity generated it now. */
  readonly created: boolean;
}

const FILE_VERSION = 1;

export type PublicKeyFormat = 'base64' | 'hex';

export function formatPublicKey(key: Uint8Array, format: PublicKeyFormat = 'base64'): string {
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString(format);
}

/** Parses a public key written in base64 or hex (64 hex digits); null if it is neither. */
export function parsePublicKey(text: string): Uint8Array | null {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return new Uint8Array(Buffer.from(t, 'hex'));
  if (/^[A-Za-z0-9+/]{43}=?$/.test(t) || /^[A-Za-z0-9_-]{43}$/.test(t)) {
    const b = Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64');
    if (b.length === X25519_KEY_LENGTH) return new Uint8Array(b);
  }
  return null;
}

function makeIdentity(kp: X25519KeyPair, path: string | undefined, created: boolean): Identity {
  return { publicKey: kp.publicKey, privateKey: kp.privateKey, id: formatPublicKey(kp.publicKey), path, created };
}

/** A fresh identity kept in memory only (tests, ephemeral agents). */
export function generateIdentity(): Identity {
  return makeIdentity(defaultX25519().generateKeyPair(), undefined, true);
}

/** The identity of a known private key. */
export function identityFromPrivateKey(privateKey: Uint8Array): Identity {
  return makeIdentity(defaultX25519().keyPairFromPrivate(privateKey), undefined, false);
}

export function encodeIdentityFile(identity: X25519KeyPair): string {
  return JSON.stringify({
    version: FILE_VERSION,
    type: 'x25519',
    privateKey: formatPublicKey(identity.privateKey),
    publicKey: formatPublicKey(identity.publicKey),
  }) + '\n';
}

function malformed(path: string, why: string): WeftError {
  return new WeftError('WEFT-T012', `${path}: ${why}`, { path });
}

function decodeKey(path: string, value: unknown, field: string): Uint8Array {
  if (typeof value !== 'string') throw malformed(path, `${field} is missing`);
  const b = Buffer.from(value, 'base64');
  if (b.length !== X25519_KEY_LENGTH || b.toString('base64') !== value) throw malformed(path, `${field} is not 32 bytes of base64`);
  return new Uint8Array(b);
}

/** Parses the file's text (no permission check: see loadIdentity). */
export function decodeIdentityFile(text: string, path = '<identity>'): X25519KeyPair {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed(path, 'not JSON');
  }
  if (typeof doc !== 'object' || doc === null) throw malformed(path, 'not a JSON object');
  const o = doc as Record<string, unknown>;
  if (o.version !== FILE_VERSION) throw malformed(path, `unsupported version ${JSON.stringify(o.version)}`);
  if (o.type !== 'x25519') throw malformed(path, `unsupported key type ${JSON.stringify(o.type)}`);
  const privateKey = decodeKey(path, o.privateKey, 'privateKey');
  const publicKey = decodeKey(path, o.publicKey, 'publicKey');
  const kp = defaultX25519().keyPairFromPrivate(privateKey);
  if (!Buffer.from(kp.publicKey).equals(Buffer.from(publicKey))) throw malformed(path, 'publicKey does not match privateKey');
  return kp;
}

/** Loads an identity file; refuses one that group or others may read or write (WEFT-T011). */
export async function loadIdentity(path: string): Promise<Identity> {
  const handle = await fs.open(path, fsConstants.O_RDONLY);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw malformed(path, 'not a regular file');
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new WeftError('WEFT-T011', `${path} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}, expected 0600`, {
        path,
        mode: st.mode & 0o777,
      });
    }
    if (st.size > 4096) throw malformed(path, 'larger than 4 KiB');
    const text = await handle.readFile({ encoding: 'utf8' });
    return makeIdentity(decodeIdentityFile(text, path), path, false);
  } finally {
    await handle.close();
  }
}

/**
 * Loads the identity at path, or generates one and stores it there (mode 0600,
 * parent directory created 0700). Creation is atomic and never overwrites: the
 * key is written to a temporary file and hard-linked into place, so two agents
 * starting at once end up with the same key.
 */
export async function loadOrCreateIdentity(path: string): Promise<Identity> {
  try {
    return await loadIdentity(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const kp = defaultX25519().generateKeyPair();
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(encodeIdentityFile(kp), 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.link(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // Someone else created it first: theirs wins.
    await fs.unlink(tmp);
    return loadIdentity(path);
  }
  await fs.unlink(tmp);
  return makeIdentity(kp, path, true);
}
