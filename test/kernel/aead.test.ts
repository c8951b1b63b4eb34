// The AEAD kernel (both builds) against RFC 8439's vectors, Wycheproof's, and
// @noble/ciphers on random input; tampering, hostile lengths, batches.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { chacha20 } from '@noble/ciphers/chacha.js';
import { poly1305 } from '@noble/ciphers/_poly1305.js';
import {
  aeadKernel, sealRecords, openRecords, recordNonce,
  AEAD_AUTH_FAILED, AEAD_BAD_LENGTH, AEAD_BAD_AAD, AEAD_BAD_COUNT, AEAD_TAG_LENGTH, type AeadKernel,
} from '../../src/kernel/aead.js';
import { referenceSeal, referenceSealRecords, referenceOpenRecords } from '../../src/kernel/aead-reference.js';
import { loadKernel, simdSupported, type KernelVariant } from '../../src/kernel/load.js';
import { WeftError } from '../../src/errors.js';

const VECTORS = new URL('../../../test/vectors/', import.meta.url);
const un = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

interface Rfc {
  chacha20Block: { name: string; key: string; nonce: string; counter: number; block: string }[];
  chacha20Encrypt: { name: string; key: string; nonce: string; counter: number; plaintext: string; ciphertext: string }[];
  poly1305: { name: string; key: string; message: string; tag: string }[];
  polyKeyGen: { name: string; key: string; nonce: string; polyKey: string }[];
  aead: { name: string; key: string; nonce: string; aad: string; plaintext: string; ciphertext: string; tag: string }[];
}
const rfc = JSON.parse(readFileSync(new URL('rfc8439.json', VECTORS), 'utf8')) as Rfc;

interface WycheproofTest { tcId: number; comment: string; flags: string[]; key: string; iv: string; aad: string; msg: string; ct: string; tag: string; result: 'valid' | 'invalid' | 'acceptable' }
interface Wycheproof { numberOfTests: number; numberOfTestsUpstream: number; testGroups: { ivSize: number; keySize: number; tagSize: number; tests: WycheproofTest[] }[] }
const wycheproof = JSON.parse(readFileSync(new URL('wycheproof_chacha20_poly1305_test.json', VECTORS), 'utf8')) as Wycheproof;

const variants: KernelVariant[] = simdSupported() ? ['simd', 'scalar'] : ['scalar'];

/** Lengths that cross every internal boundary: blocks, the first 192 bytes, 256-byte chunks, vector groups. */
const EDGE_LENGTHS = [
  ...Array.from({ length: 70 }, (_, i) => i),
  ...[127, 128, 129, 191, 192, 193, 255, 256, 257, 319, 320, 321, 447, 448, 449, 511, 512, 513, 1023, 1024, 1025, 4095, 4096, 4097],
  ...[16383, 16384, 16385, 65535, 65536, 65537],
];

for (const variant of variants) {
  describe(`aead kernel (${variant})`, () => {
    const k: AeadKernel = aeadKernel(variant);
    const memoryAtStart = k.memoryBytes();

    it('passes the RFC 8439 ChaCha20 block vectors (§2.3.2, A.1)', () => {
      for (const t of rfc.chacha20Block) assert.equal(hex(k.chacha20Block(un(t.key), un(t.nonce), t.counter)), t.block, t.name);
    });

    it('passes the RFC 8439 ChaCha20 encryption vectors (§2.4.2, A.2)', () => {
      for (const t of rfc.chacha20Encrypt) {
        assert.equal(hex(k.chacha20Xor(un(t.key), un(t.nonce), t.counter, un(t.plaintext))), t.ciphertext, t.name);
        assert.equal(hex(k.chacha20Xor(un(t.key), un(t.nonce), t.counter, un(t.ciphertext))), t.plaintext, `${t.name} (decrypt)`);
      }
    });

    it('passes the RFC 8439 Poly1305 vectors (§2.5.2, A.3)', () => {
      for (const t of rfc.poly1305) assert.equal(hex(k.poly1305(un(t.key), un(t.message))), t.tag, t.name);
    });

    it('passes the RFC 8439 Poly1305 key generation vectors (§2.6.2, A.4)', () => {
      for (const t of rfc.polyKeyGen) assert.equal(hex(k.chacha20Block(un(t.key), un(t.nonce), 0).subarray(0, 32)), t.polyKey, t.name);
    });

    it('passes the RFC 8439 AEAD vectors (§2.8.2, A.5) both ways', () => {
      for (const t of rfc.aead) {
        assert.equal(hex(k.seal(un(t.key), un(t.nonce), un(t.plaintext), un(t.aad))), t.ciphertext + t.tag, t.name);
        const opened = k.open(un(t.key), un(t.nonce), un(t.ciphertext + t.tag), un(t.aad));
        assert.ok(opened, `${t.name} opens`);
        assert.equal(hex(opened), t.plaintext, t.name);
      }
    });

    // The vector file holds every upstream test (see its source field and transcribedTcIds).
    it(`passes all ${wycheproof.numberOfTests} Wycheproof chacha20_poly1305 vectors`, () => {
      assert.equal(wycheproof.numberOfTests, wycheproof.numberOfTestsUpstream, 'every upstream vector is present');
      let count = 0;
      for (const group of wycheproof.testGroups) {
        for (const t of group.tests) {
          count++;
          const what = `tcId ${t.tcId} ${t.comment}`;
          if (group.ivSize !== 96 || group.keySize !== 256) {
            // Only 96-bit nonces and 256-bit keys exist in RFC 8439: the wrapper refuses the rest.
            assert.equal(t.result, 'invalid', what);
            assert.throws(() => k.open(un(t.key), un(t.iv), un(t.ct + t.tag), un(t.aad)), WeftError, what);
            continue;
          }
          const opened = k.open(un(t.key), un(t.iv), un(t.ct + t.tag), un(t.aad));
          if (t.result === 'valid') {
            assert.equal(hex(k.seal(un(t.key), un(t.iv), un(t.msg), un(t.aad))), t.ct + t.tag, what);
            assert.ok(opened, what);
            assert.equal(hex(opened), t.msg, what);
          } else {
            assert.equal(opened, null, what);
          }
        }
      }
      assert.equal(count, wycheproof.numberOfTests);
    });

    it('matches @noble/ciphers at every internal boundary length', () => {
      const key = randomBytes(32), nonce = randomBytes(12);
      for (const n of EDGE_LENGTHS) {
        for (const aadLength of n < 70 ? [0, 1, 16, 17] : [0, 13]) {
          const pt = randomBytes(n), aad = randomBytes(aadLength);
          const sealed = k.seal(key, nonce, pt, aad);
          assert.ok(Buffer.from(sealed).equals(referenceSeal(key, nonce, pt, aad)), `seal length ${n} aad ${aadLength}`);
          const opened = k.open(key, nonce, sealed, aad);
          assert.ok(opened && Buffer.from(opened).equals(pt), `open length ${n} aad ${aadLength}`);
        }
      }
    });

    it('matches @noble/ciphers on random keys, nonces, AAD and lengths up to 64 KiB', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ minLength: 12, maxLength: 12 }),
          fc.uint8Array({ maxLength: 80 }),
          fc.oneof(fc.integer({ min: 0, max: 600 }), fc.integer({ min: 0, max: 65536 })),
          (key, nonce, aad, n) => {
            const pt = randomBytes(n);
            const expected = referenceSeal(key, nonce, pt, aad);
            const out = new Uint8Array(n + AEAD_TAG_LENGTH + 5).fill(0xee);
            assert.equal(k.sealInto(key, nonce, pt, aad, out), n + AEAD_TAG_LENGTH);
            assert.ok(Buffer.from(out.subarray(0, n + AEAD_TAG_LENGTH)).equals(expected));
            assert.ok(out.subarray(n + AEAD_TAG_LENGTH).every((b) => b === 0xee), 'sealInto wrote past its output');
            const back = new Uint8Array(n);
            assert.equal(k.openInto(key, nonce, expected, aad, back), n);
            assert.ok(Buffer.from(back).equals(pt));
          },
        ),
        { numRuns: 60 },
      );
    });

    it('matches @noble/ciphers for the primitives (ChaCha20 from any counter, Poly1305 of any length)', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ minLength: 12, maxLength: 12 }),
          fc.integer({ min: 0, max: 2000 }),
          fc.nat({ max: 0xffff_ffff - 32 }), // the 32-bit block counter must not wrap (RFC 8439 §2.3)
          (key, nonce, n, counter) => {
            const data = randomBytes(n);
            assert.equal(hex(k.chacha20Xor(key, nonce, counter, data)), hex(chacha20(key, nonce, data, undefined, counter)));
            assert.equal(hex(k.poly1305(key, data)), hex(poly1305(data, key)));
          },
        ),
        { numRuns: 80 },
      );
    });

    // Poly1305 keeps its limbs loosely carried between blocks (lib/poly1305.ts):
    // the largest limbs come from the largest clamped r and all-ones blocks.
    it('matches @noble/ciphers Poly1305 at the limb bounds (largest r, all-ones messages, every tail)', () => {
      const rMax = Buffer.from('ffffff0ffcffff0ffcffff0ffcffff0f', 'hex'); // clamps to itself
      const keys = [
        Buffer.concat([rMax, Buffer.alloc(16, 0xff)]),
        Buffer.concat([rMax, Buffer.alloc(16, 0)]),
        Buffer.concat([Buffer.from('ffffffffffffffffffffffffffffffff', 'hex'), randomBytes(16)]),
      ];
      const ones = Buffer.alloc(4096 + 17, 0xff);
      for (const key of keys) {
        for (const n of [...Array.from({ length: 70 }, (_, i) => i), 255, 256, 257, 511, 1024, 4095, 4096, 4113]) {
          assert.equal(hex(k.poly1305(key, ones.subarray(0, n))), hex(poly1305(ones.subarray(0, n), key)), `all-ones length ${n}`);
        }
      }
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
          fc.integer({ min: 0, max: 1200 }),
          fc.integer({ min: 0, max: 255 }),
          (s, n, fill) => {
            const key = Buffer.concat([rMax, s]);
            const msg = Buffer.alloc(n, fill);
            assert.equal(hex(k.poly1305(key, msg)), hex(poly1305(msg, key)));
          },
        ),
        { numRuns: 60 },
      );
    });

    // The record pipeline switches step at 192 bytes (first step), 448 (the first
    // 256-byte chunk, MACing 12 blocks) and 704 (the fixed 16-block step), and
    // every 16 bytes (Poly1305 blocks): every length up to 1,100 crosses them all.
    it('matches @noble/ciphers at every length from 0 to 1,100 bytes and across the fixed 16-block step', () => {
      const key = randomBytes(32), nonce = randomBytes(12), aad = randomBytes(7);
      const lengths = [
        ...Array.from({ length: 1101 }, (_, i) => i),
        ...[2, 3, 10, 63, 64].flatMap((chunks) => [-17, -16, -15, -1, 0, 1, 15, 16, 17].map((d) => 192 + chunks * 256 + d)),
      ];
      for (const n of lengths) {
        const pt = randomBytes(n);
        const sealed = k.seal(key, nonce, pt, aad);
        assert.ok(Buffer.from(sealed).equals(referenceSeal(key, nonce, pt, aad)), `seal length ${n}`);
        k.io.set(sealed);
        assert.equal(k.openInPlace(key, nonce, sealed.length, aad), n, `open in place length ${n}`);
        assert.ok(Buffer.from(k.io.subarray(0, n)).equals(pt), `opened in place length ${n}`);
      }
    });

    it('matches @noble/ciphers when the ciphertext is all ones (the stitched MAC at its limb bounds)', () => {
      const key = randomBytes(32), nonce = randomBytes(12), aad = Buffer.alloc(33, 0xff);
      for (const n of [0, 1, 15, 16, 17, 191, 192, 193, 255, 256, 257, 448, 449, 1024, 1040, 16384, 16399, 65536]) {
        // plaintext = keystream XOR 0xff..: the ciphertext the MAC reads is all ones
        const pt = chacha20(key, nonce, Buffer.alloc(n, 0xff), undefined, 1);
        const sealed = k.seal(key, nonce, pt, aad);
        assert.ok(Buffer.from(sealed).equals(referenceSeal(key, nonce, pt, aad)), `seal length ${n}`);
        assert.ok(sealed.subarray(0, n).every((b) => b === 0xff));
        const opened = k.open(key, nonce, sealed, aad);
        assert.ok(opened && Buffer.from(opened).equals(pt), `open length ${n}`);
      }
    });

    it('rejects a flipped bit anywhere in ciphertext, tag or AAD, leaving the output untouched', () => {
      const key = randomBytes(32), nonce = randomBytes(12);
      for (const n of [0, 1, 63, 64, 200, 300, 1500]) {
        const pt = randomBytes(n), aad = randomBytes(20);
        const sealed = k.seal(key, nonce, pt, aad);
        const positions = new Set<number>([0, n - 1, n, n + 15, Math.floor(n / 2), ...Array.from({ length: 12 }, () => Math.floor(Math.random() * sealed.length))]);
        for (const pos of positions) {
          if (pos < 0 || pos >= sealed.length) continue;
          const bad = Uint8Array.from(sealed);
          bad[pos]! ^= 1 << (pos & 7);
          const out = new Uint8Array(n).fill(0xa5);
          assert.equal(k.openInto(key, nonce, bad, aad, out), AEAD_AUTH_FAILED, `length ${n} byte ${pos}`);
          assert.ok(out.every((b) => b === 0xa5), 'output written on failure');
          assert.equal(k.open(key, nonce, bad, aad), null);
        }
        for (const pos of [0, 7, 19]) {
          const badAad = Uint8Array.from(aad);
          badAad[pos]! ^= 0x80;
          assert.equal(k.open(key, nonce, sealed, badAad), null, `aad byte ${pos}`);
        }
        assert.equal(k.open(key, nonce, sealed, aad.subarray(0, 19)), null, 'aad truncated');
        const otherNonce = Uint8Array.from(nonce);
        otherNonce[11]! ^= 1;
        assert.equal(k.open(key, otherNonce, sealed, aad), null, 'other nonce');
      }
    });

    it('leaves a record that fails authentication as ciphertext in kernel memory', () => {
      const key = randomBytes(32), nonce = randomBytes(12), pt = randomBytes(1000);
      k.io.set(pt);
      assert.equal(k.sealInPlace(key, nonce, pt.length), 1016);
      k.io[1015]! ^= 1;
      const before = Uint8Array.from(k.io.subarray(0, 1016));
      assert.equal(k.openInPlace(key, nonce, 1016), AEAD_AUTH_FAILED);
      assert.ok(Buffer.from(k.io.subarray(0, 1016)).equals(before));
      k.io[1015]! ^= 1;
      assert.equal(k.openInPlace(key, nonce, 1016), 1000);
      assert.ok(Buffer.from(k.io.subarray(0, 1000)).equals(pt));
    });

    it('returns error codes, never traps, for truncated and oversized input', () => {
      const key = randomBytes(32), nonce = randomBytes(12);
      for (const n of [0, 1, 15]) {
        assert.equal(k.openInto(key, nonce, new Uint8Array(n), undefined, new Uint8Array(16)), AEAD_BAD_LENGTH);
        assert.equal(k.open(key, nonce, new Uint8Array(n)), null);
      }
      assert.equal(k.openInto(key, nonce, new Uint8Array(k.maxRecord + 17), undefined, new Uint8Array(k.maxRecord + 1)), AEAD_BAD_LENGTH);
      assert.equal(k.openInto(key, nonce, new Uint8Array(32), new Uint8Array(k.maxAad + 1), new Uint8Array(16)), AEAD_BAD_AAD);
      assert.equal(k.sealInPlace(key, nonce, k.maxRecord + 1), AEAD_BAD_LENGTH);
      assert.equal(k.sealInPlace(key, nonce, -1), AEAD_BAD_LENGTH);
      assert.equal(k.openInPlace(key, nonce, 15), AEAD_BAD_LENGTH);
      assert.equal(k.openInPlace(key, nonce, k.maxRecord + 17), AEAD_BAD_LENGTH);
      // The largest record fits exactly.
      const big = randomBytes(k.maxRecord);
      const sealed = k.seal(key, nonce, big);
      assert.ok(Buffer.from(k.open(key, nonce, sealed)!).equals(big));

      // The raw exports with hostile offsets and lengths.
      const e = loadKernel<{
        seal(o: number, l: number, ao: number, al: number): number; open(o: number, l: number, ao: number, al: number): number;
        seal_records(c: number, lo: number, hi: number): number; open_records(c: number, lo: number, hi: number): number;
        chacha20_block(c: number, o: number): number; chacha20_xor(c: number, o: number, l: number): number; poly1305_mac(o: number, l: number): number;
        TABLE_PTR: WebAssembly.Global; MAX_RECORDS: WebAssembly.Global;
      }>('aead', variant).exports;
      const ioCapacity = k.maxRecord + AEAD_TAG_LENGTH;
      const hostileOffsets = [-1, -16, 0x7fffffff, 0x7ffffff0, 0x80000000 | 0, ioCapacity, ioCapacity - 5];
      const hostileLengths = [-1, -16, 0x7fffffff, 0x7ffffff0, 0x80000000 | 0, ioCapacity + 1];
      for (const a of hostileOffsets) {
        assert.ok(e.seal(a, 10, 0, 0) < 0 && e.seal(0, 10, a, 1) < 0, `seal offset ${a}`);
        assert.ok(e.open(a, 32, 0, 0) < 0 && e.open(0, 32, a, 1) < 0, `open offset ${a}`);
        assert.ok(e.chacha20_xor(0, a, 10) < 0 && e.chacha20_block(0, a) < 0 && e.poly1305_mac(a, 10) < 0, `primitive offset ${a}`);
      }
      for (const a of hostileLengths) {
        assert.ok(e.seal(0, a, 0, 0) < 0 && e.seal(0, 10, 0, a) < 0, `seal length ${a}`);
        assert.ok(e.open(0, a, 0, 0) < 0 && e.open(0, 32, 0, a) < 0, `open length ${a}`);
        assert.ok(e.chacha20_xor(0, 0, a) < 0 && e.poly1305_mac(0, a) < 0, `primitive length ${a}`);
      }
      assert.equal(e.seal(k.maxRecord, 1, 0, 0), AEAD_BAD_LENGTH, 'record crossing the end of IO');
      const maxRecords = e.MAX_RECORDS.value as number;
      for (const c of [-1, maxRecords + 1, 0x7fffffff]) {
        assert.equal(e.seal_records(c, 0, 0), AEAD_BAD_COUNT);
        assert.equal(e.open_records(c, 0, 0), AEAD_BAD_COUNT);
      }
      const view = new DataView(k.io.buffer);
      const tablePtr = e.TABLE_PTR.value as number;
      // One record of hostile length, then lengths that add up past the region.
      for (const [len, aadLen, code] of [[-5, 0, AEAD_BAD_LENGTH], [0, -5, AEAD_BAD_AAD], [ioCapacity + 1, 0, AEAD_BAD_LENGTH], [10, k.maxAad + 1, AEAD_BAD_AAD]] as const) {
        view.setInt32(tablePtr, len, true);
        view.setInt32(tablePtr + 4, aadLen, true);
        assert.equal(e.seal_records(1, 0, 0), code, `seal_records ${len}/${aadLen}`);
        assert.equal(e.open_records(1, 0, 0), code, `open_records ${len}/${aadLen}`);
      }
      // Sealing needs 16 bytes of tag room more than opening.
      view.setInt32(tablePtr, k.maxRecord + 1, true);
      view.setInt32(tablePtr + 4, 0, true);
      assert.equal(e.seal_records(1, 0, 0), AEAD_BAD_LENGTH);
      for (let i = 0; i < 3; i++) {
        view.setInt32(tablePtr + 8 * i, 2 << 20, true);
        view.setInt32(tablePtr + 8 * i + 4, 0, true);
      }
      assert.equal(e.seal_records(3, 0, 0), AEAD_BAD_LENGTH);
      assert.equal(e.open_records(3, 0, 0), AEAD_BAD_LENGTH);
      assert.equal(k.memoryBytes(), memoryAtStart, 'memory grew');
    });

    it('throws WeftError for programmer errors (key or nonce size, output too small)', () => {
      const key = randomBytes(32), nonce = randomBytes(12);
      assert.throws(() => k.seal(randomBytes(31), nonce, new Uint8Array(1)), WeftError);
      assert.throws(() => k.seal(key, randomBytes(8), new Uint8Array(1)), WeftError);
      assert.throws(() => k.sealInto(key, nonce, new Uint8Array(10), undefined, new Uint8Array(25)), WeftError);
      assert.throws(() => k.seal(key, nonce, new Uint8Array(k.maxRecord + 1)), WeftError);
      assert.throws(() => k.openInto(key, nonce, new Uint8Array(40), undefined, new Uint8Array(23)), WeftError);
    });

    it('seals and opens batches exactly as record-by-record calls, with counter nonces', () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 40 })), { minLength: 0, maxLength: 40 }),
          fc.constantFrom(0n, 1n, 0xffff_fffen, 0xffff_ffff_ffff_fff0n),
          fc.boolean(),
          (shape, counterStart, withAad) => {
            const key = randomBytes(32), base = randomBytes(12);
            const lengths = Uint32Array.from(shape.map(([n]) => n));
            const aadLengths = withAad ? Uint32Array.from(shape.map(([, a]) => a)) : undefined;
            const records = randomBytes(lengths.reduce((s, n) => s + n, 0));
            const aad = withAad ? randomBytes(aadLengths!.reduce((s, n) => s + n, 0)) : undefined;
            const total = records.length + 16 * lengths.length;
            const out = new Uint8Array(total), expected = new Uint8Array(total);
            assert.equal(sealRecords(key, base, counterStart, records, lengths, out, aad, aadLengths, variant), total);
            referenceSealRecords(key, base, counterStart, records, lengths, expected, aad, aadLengths);
            assert.ok(Buffer.from(out).equals(expected));
            // Record i equals a single seal under recordNonce(base, counterStart + i).
            if (lengths.length > 0) {
              const i = lengths.length - 1;
              const single = k.seal(key, recordNonce(base, counterStart + BigInt(i)), records.subarray(records.length - lengths[i]!), aad?.subarray(aad.length - aadLengths![i]!));
              assert.ok(Buffer.from(out.subarray(total - single.length)).equals(single));
            }
            // Open it back, with one record tampered.
            const sealedLengths = lengths.map((n) => n + 16);
            const tamper = lengths.length > 0 ? Math.floor(lengths.length / 2) : -1;
            let off = 0;
            for (let i = 0; i < tamper; i++) off += sealedLengths[i]!;
            if (tamper >= 0) out[off + sealedLengths[tamper]! - 1]! ^= 0x40;
            const plain = new Uint8Array(records.length).fill(0x5a), results = new Int32Array(lengths.length);
            const failed = openRecords(key, base, counterStart, out, sealedLengths, plain, results, aad, aadLengths, variant);
            const refPlain = new Uint8Array(records.length).fill(0x5a), refResults = new Int32Array(lengths.length);
            const refFailed = referenceOpenRecords(key, base, counterStart, out, sealedLengths, refPlain, refResults, aad, aadLengths);
            assert.equal(failed, tamper >= 0 ? 1 : 0);
            assert.equal(failed, refFailed);
            assert.deepEqual(results, refResults);
            assert.ok(Buffer.from(plain).equals(refPlain), 'the failed record stays unwritten, the rest decrypt');
          },
        ),
        { numRuns: 25 },
      );
    });

    it('cuts batches larger than the kernel memory into chunks', () => {
      const key = randomBytes(32), base = randomBytes(12);
      const lengths = new Uint32Array(700).fill(8000);
      lengths[5] = 0;
      lengths[699] = 123;
      const records = randomBytes(lengths.reduce((s, n) => s + n, 0));
      const total = records.length + 16 * lengths.length;
      assert.ok(total > k.maxRecord, 'the batch must exceed one kernel call');
      const out = new Uint8Array(total);
      assert.equal(k.sealRecords(key, base, 41n, records, lengths, out), total);
      let off = 0;
      for (const i of [0, 5, 523, 524, 699]) {
        off = 0;
        for (let j = 0; j < i; j++) off += lengths[j]! + 16;
        let inOff = 0;
        for (let j = 0; j < i; j++) inOff += lengths[j]!;
        const expected = referenceSeal(key, recordNonce(base, 41n + BigInt(i)), records.subarray(inOff, inOff + lengths[i]!));
        assert.ok(Buffer.from(out.subarray(off, off + expected.length)).equals(expected), `record ${i}`);
      }
      const plain = new Uint8Array(records.length), results = new Int32Array(lengths.length);
      assert.equal(k.openRecords(key, base, 41n, out, lengths.map((n) => n + 16), plain, results), 0);
      assert.ok(Buffer.from(plain).equals(records));
      // A sealed record too large for the kernel fails alone.
      const huge = new Uint32Array([32, k.maxRecord + 17, 32]);
      const sealedHuge = new Uint8Array(32 + k.maxRecord + 17 + 32);
      const r = new Int32Array(3);
      assert.equal(k.openRecords(key, base, 0n, sealedHuge, huge, new Uint8Array(16 + k.maxRecord + 1 + 16), r), 3);
      assert.deepEqual([...r], [AEAD_AUTH_FAILED, AEAD_BAD_LENGTH, AEAD_AUTH_FAILED]);
      assert.equal(k.memoryBytes(), memoryAtStart, 'memory grew');
    });

    it('keeps its memory size through all of the above', () => {
      assert.equal(k.memoryBytes(), memoryAtStart);
    });
  });
}
