import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hkdfSync, createHash } from 'node:crypto';
import { Keyring, deriveGossipKey, GOSSIP_KEY_SALT, GOSSIP_KEY_INFO } from '../../src/gossip/keyring.js';
import { WeftError } from '../../src/errors.js';

const OLD = 'old cluster secret, 32 bytes ok!';
const NEW = 'new cluster secret, rotated in..';

describe('deriveGossipKey', () => {
  test('is HKDF-SHA256 of the secret under the fixed label (checked against node:crypto)', () => {
    const k = deriveGossipKey(OLD);
    const expected = new Uint8Array(hkdfSync('sha256', Buffer.from(OLD), GOSSIP_KEY_SALT, GOSSIP_KEY_INFO, 32));
    assert.deepEqual(k.key, expected);
    const digest = createHash('sha256').update(expected).digest();
    assert.equal(k.fingerprint, digest.subarray(0, 8).toString('hex'));
    assert.equal(k.id, digest[0]);
    assert.deepEqual(deriveGossipKey(new TextEncoder().encode(OLD)).key, k.key, 'string and bytes agree');
    assert.notDeepEqual(deriveGossipKey(NEW).key, k.key);
  });

  test('refuses short secrets', () => {
    assert.throws(() => deriveGossipKey('too short'), (e: unknown) => e instanceof WeftError && e.code === 'WEFT-G102');
  });
});

describe('Keyring', () => {
  test('install, use, remove: the memberlist rotation', () => {
    const ring = new Keyring([OLD]);
    const oldFp = ring.primary().fingerprint;
    const newFp = ring.install(NEW);
    assert.equal(ring.install(NEW), newFp, 'install is idempotent');
    assert.deepEqual(ring.fingerprints(), [oldFp, newFp]);
    assert.equal(ring.primary().fingerprint, oldFp, 'installing does not change the sealing key');
    ring.use(NEW);
    assert.equal(ring.primary().fingerprint, newFp);
    assert.deepEqual(ring.fingerprints(), [newFp, oldFp]);
    assert.throws(() => ring.remove(NEW), (e: unknown) => e instanceof WeftError && e.code === 'WEFT-G102');
    ring.remove(oldFp); // by fingerprint
    assert.deepEqual(ring.fingerprints(), [newFp]);
    assert.throws(() => ring.use(OLD), /no such key/);
    assert.throws(() => ring.remove('never installed secret!!'), /no such key/);
  });

  test('candidates(id) lists the keys with that id, primary first', () => {
    const ring = new Keyring([OLD, NEW]);
    const primary = ring.primary();
    assert.deepEqual(ring.candidates(primary.id)[0], primary);
    const other = deriveGossipKey(NEW);
    assert.ok(ring.candidates(other.id).some((k) => k.fingerprint === other.fingerprint));
    const unused = [...Array(256).keys()].find((id) => id !== primary.id && id !== other.id)!;
    assert.deepEqual(ring.candidates(unused), []);
  });

  test('needs a secret', () => {
    assert.throws(() => new Keyring([]), WeftError);
  });
});
