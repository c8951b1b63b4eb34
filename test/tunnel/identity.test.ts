import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, chmod, stat, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadOrCreateIdentity, loadIdentity, formatPublicKey, parsePublicKey, encodeIdentityFile, generateIdentity,
} from '../../src/tunnel/index.js';
import { nobleX25519 } from '../../src/tunnel/x25519.js';

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'weft-id-'));
}

test('first start generates a 0600 identity; later starts load the same key', async () => {
  const dir = await tmp();
  const path = join(dir, 'sub', 'identity.json');
  const a = await loadOrCreateIdentity(path);
  assert.equal(a.created, true);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'sub'))).mode & 0o777, 0o700);
  const b = await loadOrCreateIdentity(path);
  assert.equal(b.created, false);
  assert.deepEqual(b.privateKey, a.privateKey);
  assert.equal(b.id, a.id);
  // The public key follows from the private key (checked against the reference curve).
  assert.deepEqual(nobleX25519.keyPairFromPrivate(a.privateKey).publicKey, a.publicKey);
  // Printable both ways for `weft id`.
  assert.deepEqual(parsePublicKey(formatPublicKey(a.publicKey, 'hex')), a.publicKey);
  assert.deepEqual(parsePublicKey(a.id), a.publicKey);
  assert.equal(parsePublicKey('not a key'), null);
  await rm(dir, { recursive: true });
});

test('two agents starting at once end up with one identity', async () => {
  const dir = await tmp();
  const path = join(dir, 'identity.json');
  const ids = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateIdentity(path)));
  assert.equal(new Set(ids.map((i) => i.id)).size, 1);
  assert.equal(ids.filter((i) => i.created).length, 1);
  await rm(dir, { recursive: true });
});

test('a key file readable by group or others is refused with WEFT-T011', async () => {
  const dir = await tmp();
  const path = join(dir, 'identity.json');
  await loadOrCreateIdentity(path);
  for (const mode of [0o640, 0o604, 0o660, 0o644]) {
    await chmod(path, mode);
    await assert.rejects(loadIdentity(path), (e: any) => e.code === 'WEFT-T011' && e.details.mode === mode);
    await assert.rejects(loadOrCreateIdentity(path), { code: 'WEFT-T011' });
  }
  await rm(dir, { recursive: true });
});

test('a malformed key file is refused with WEFT-T012, never replaced', async () => {
  const dir = await tmp();
  const path = join(dir, 'identity.json');
  const good = generateIdentity();
  const other = generateIdentity();
  const bad = [
    'garbage',
    '[]',
    JSON.stringify({ version: 2, type: 'x25519', privateKey: good.id, publicKey: good.id }),
    JSON.stringify({ version: 1, type: 'ed25519', privateKey: good.id, publicKey: good.id }),
    JSON.stringify({ version: 1, type: 'x25519', privateKey: 'AAAA', publicKey: good.id }),
    // Public key of another private key.
    JSON.stringify({ version: 1, type: 'x25519', privateKey: Buffer.from(good.privateKey).toString('base64'), publicKey: other.id }),
  ];
  for (const text of bad) {
    await writeFile(path, text, { mode: 0o600 });
    await chmod(path, 0o600);
    await assert.rejects(loadOrCreateIdentity(path), { code: 'WEFT-T012' });
    assert.equal(await readFile(path, 'utf8'), text);
  }
  await writeFile(path, encodeIdentityFile(good));
  assert.equal((await loadIdentity(path)).id, good.id);
  await rm(dir, { recursive: true });
});
