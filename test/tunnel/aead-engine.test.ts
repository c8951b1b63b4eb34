// The records' AEAD engines (src/tunnel/aead-engine.ts): the WASM kernel and
// node:crypto seal the same record to the same bytes, each opens the other's, a
// tampered record fails in both, and sessions whose ends chose different engines
// talk to each other (the choice is not on the wire).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { nativeAeadAvailable, nativeFrom, NATIVE_MIN_PLAINTEXT, type AeadEngineChoice } from '../../src/tunnel/aead-engine.js';
import { RecordError, RecordOpener, RecordSealer } from '../../src/tunnel/record.js';
import { MAX_RECORD_PLAINTEXT } from '../../src/tunnel/options.js';
import { resolveOptions } from '../../src/tunnel/options.js';
import { generateIdentity } from '../../src/tunnel/index.js';
import { makePair } from './_pair.js';

const ENGINES: AeadEngineChoice[] = ['wasm', 'native', 'auto'];

test('node:crypto has ChaCha20-Poly1305 here, and auto switches at the crossover', () => {
  assert.ok(nativeAeadAvailable);
  assert.equal(nativeFrom('wasm'), Infinity);
  assert.equal(nativeFrom('native'), 0);
  assert.equal(nativeFrom('auto'), NATIVE_MIN_PLAINTEXT);
  assert.throws(() => resolveOptions({ identity: generateIdentity(), psk: 'x', aead: 'openssl' as AeadEngineChoice }), /aead must be/);
});

/** Seals the sequence with one engine (a rekey where asked) into one byte stream. */
function sealAll(engine: AeadEngineChoice, key: Uint8Array, records: { plain: Uint8Array; rekey: boolean }[]): Buffer {
  const sealer = new RecordSealer(key, { afterRecords: 1 << 20, afterMs: 1e12 }, 0, undefined, engine);
  const parts: Buffer[] = [];
  const out = Buffer.allocUnsafe(MAX_RECORD_PLAINTEXT + 64);
  for (const r of records) {
    if (r.rekey) sealer.requestRekey();
    sealer.kernel.io.set(r.plain);
    parts.push(Buffer.from(out.subarray(0, sealer.sealFromIo(r.plain.length, out, 0, 0))));
  }
  return Buffer.concat(parts);
}

function openAll(engine: AeadEngineChoice, transient: boolean, key: Uint8Array, bytes: Buffer, chunk: number): { plains: Buffer[]; error: RecordError } {
  const opener = new RecordOpener(key, undefined, { transient, engine });
  const plains: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunk) {
    if (!opener.feed(bytes.subarray(at, Math.min(bytes.length, at + chunk)), (p) => (plains.push(Buffer.from(p)), true))) break;
  }
  return { plains, error: opener.error };
}

test('both engines seal identical records; every engine opens every engine\'s records; a flipped bit fails in all', () => {
  // Sizes around the crossover and the limits, with rekeys in between.
  const size = fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: NATIVE_MIN_PLAINTEXT - 64, max: NATIVE_MIN_PLAINTEXT + 64 }), fc.integer({ min: MAX_RECORD_PLAINTEXT - 300, max: MAX_RECORD_PLAINTEXT }), fc.integer({ min: 1, max: MAX_RECORD_PLAINTEXT }));
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.array(fc.record({ size, rekey: fc.boolean(), seed: fc.integer() }), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 40_000 }),
      fc.nat(),
      (key, spec, chunk, flipAt) => {
        const records = spec.map((r) => ({ plain: randomBytes(r.size), rekey: r.rekey }));
        const sealed = ENGINES.map((e) => sealAll(e, key, records));
        for (const s of sealed) assert.ok(s.equals(sealed[0]!), 'engines sealed different bytes');
        for (const engine of ENGINES) {
          for (const transient of [true, false]) {
            const { plains, error } = openAll(engine, transient, key, sealed[0]!, chunk);
            assert.equal(error, RecordError.NONE);
            assert.deepEqual(plains, records.map((r) => Buffer.from(r.plain)));
          }
          // One bit flipped past the first header: the record holding it fails its tag (or header check).
          const bad = Buffer.from(sealed[0]!);
          const at = 4 + (flipAt % (bad.length - 4));
          bad[at]! ^= 1 << (flipAt % 8);
          const { error } = openAll(engine, true, key, bad, chunk);
          assert.notEqual(error, RecordError.NONE);
        }
      },
    ),
    { numRuns: 60 },
  );
});

test('sessions whose ends use different engines exchange 8 MiB both ways byte-exact', async () => {
  for (const [client, server] of [['native', 'wasm'], ['wasm', 'auto']] as const) {
    const p = await makePair({
      client: { aead: client },
      server: {
        aead: server,
        onStream(s) {
          s.pipe(s); // echo
        },
      },
    });
    try {
      const s = await p.client.openStream('echo.svc.default', 'client.default');
      const data = randomBytes(8 << 20);
      const got = createHash('sha256');
      let n = 0;
      const done = new Promise<void>((resolve, reject) => {
        s.on('data', (c: Buffer) => {
          got.update(c);
          n += c.length;
        });
        s.on('end', resolve);
        s.on('error', reject);
      });
      // Odd-sized writes: records of every size, small ones on the kernel and large ones native under auto.
      for (let at = 0; at < data.length; ) {
        const len = Math.min(data.length - at, 1 + ((at * 7919) % 40_000));
        if (!s.write(data.subarray(at, at + len))) await new Promise((r) => s.once('drain', r));
        at += len;
      }
      s.end();
      await done;
      assert.equal(n, data.length, `${client} → ${server}`);
      assert.equal(got.digest('hex'), createHash('sha256').update(data).digest('hex'));
    } finally {
      p.client.destroy();
      await p.server.whenClosed();
      await p.close();
    }
  }
});
