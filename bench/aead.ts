// AEAD benchmark: ChaCha20-Poly1305 seal+open MB/s at 64 B, 1 KiB, 16 KiB and
// 64 KiB, every implementation side by side in one run, plus a batch row.
//
// "seal+open" is one seal and one open of the same record with a 12-byte AAD;
// MB/s counts the record's plaintext bytes once per seal+open. Rows:
//   wasm simd / wasm scalar     the kernel working in its own memory (record already in kernel.io)
//   wasm simd data-plane        Buffer in, sealInto -> Buffer, openInto -> Buffer (all copies included)
//   @noble/ciphers              chacha20poly1305(key, nonce, aad).encrypt / decrypt
//   node:crypto chacha20-poly1305 / aes-256-gcm   createCipheriv per record, setAAD, update, final, getAuthTag
// A second table splits one operation of the kernel (in its own memory) into
// its parts: ChaCha20 alone (chacha20_xor), Poly1305 alone (poly1305_mac),
// seal and open, so the share of each half is measured in the same run.
// The same key and nonce are reused on every iteration: fine for timing, never for traffic.
import { createCipheriv, createDecipheriv, randomBytes, type CipherGCMTypes } from 'node:crypto';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { measure, printTable, printGrid, writeResults, assertSameBytes, type BenchCase, type BenchRow } from './lib.js';
import { aeadKernel, AEAD_TAG_LENGTH } from '../src/kernel/aead.js';
import { loadKernel, simdSupported } from '../src/kernel/load.js';

const SIZES = [64, 1024, 16384, 65536];
const NODE = 'node:crypto chacha20-poly1305';
const SIMD = 'wasm simd';
const DATA_PLANE = 'wasm simd data-plane';
const NOBLE = '@noble/ciphers';

/** The raw exports the parts table calls (the instance aeadKernel() wraps, cached per thread). */
interface AeadParts {
  seal(offset: number, length: number, aadOffset: number, aadLength: number): number;
  open(offset: number, sealedLength: number, aadOffset: number, aadLength: number): number;
  chacha20_xor(counter: number, offset: number, length: number): number;
  poly1305_mac(offset: number, length: number): number;
}
const PART_SIZES = [1024, 16384, 65536];

const groupName = (size: number) => `seal+open ${size >= 1024 ? `${size / 1024} KiB` : `${size} B`}`;

type NodeAead = 'chacha20-poly1305' | CipherGCMTypes;

function nodeSeal(alg: NodeAead, key: Buffer, nonce: Buffer, pt: Buffer, aad: Buffer): Buffer {
  const c = createCipheriv(alg as 'chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: pt.length });
  const ct = c.update(pt);
  c.final();
  return Buffer.concat([ct, c.getAuthTag()]);
}

function nodeOpen(alg: NodeAead, key: Buffer, nonce: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  const n = sealed.length - 16;
  const d = createDecipheriv(alg as 'chacha20-poly1305', key, nonce, { authTagLength: 16 });
  d.setAAD(aad, { plaintextLength: n });
  d.setAuthTag(sealed.subarray(n));
  const pt = d.update(sealed.subarray(0, n));
  d.final();
  return pt;
}

export async function run(): Promise<void> {
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const aad = randomBytes(12);
  const simd = simdSupported() ? aeadKernel('simd') : undefined;
  const scalar = aeadKernel('scalar');
  const cases: BenchCase[] = [];

  for (const size of SIZES) {
    const group = groupName(size);
    const pt = randomBytes(size);
    const expected = nodeSeal('chacha20-poly1305', key, nonce, pt, aad);

    // Cross-check every implementation before timing anything.
    assertSameBytes(`${NOBLE} seal ${size}`, chacha20poly1305(key, nonce, aad).encrypt(pt), expected);
    for (const k of [simd, scalar]) {
      if (!k) continue;
      assertSameBytes(`wasm ${k.variant} seal ${size}`, k.seal(key, nonce, pt, aad), expected);
      k.io.set(pt);
      if (k.sealInPlace(key, nonce, size, aad) !== size + 16) throw new Error('sealInPlace failed');
      assertSameBytes(`wasm ${k.variant} sealInPlace ${size}`, k.io.subarray(0, size + 16), expected);
      if (k.openInPlace(key, nonce, size + 16, aad) !== size) throw new Error('openInPlace failed');
      assertSameBytes(`wasm ${k.variant} openInPlace ${size}`, k.io.subarray(0, size), pt);
    }
    assertSameBytes(`node:crypto open ${size}`, nodeOpen('chacha20-poly1305', key, nonce, expected, aad), pt);
    assertSameBytes(`aes-256-gcm round trip ${size}`, nodeOpen('aes-256-gcm', key, nonce, nodeSeal('aes-256-gcm', key, nonce, pt, aad), aad), pt);

    for (const k of [simd, scalar]) {
      if (!k) continue;
      cases.push({
        group, name: `wasm ${k.variant}`, bytes: size,
        // The record stays in kernel memory: sealed in place, opened back in place
        // (whatever bytes are there: seal then open restores them).
        fn: () => {
          if (k.sealInPlace(key, nonce, size, aad) < 0 || k.openInPlace(key, nonce, size + AEAD_TAG_LENGTH, aad) < 0) throw new Error('wasm failed');
        },
      });
    }
    if (simd) {
      const sealed = Buffer.alloc(size + AEAD_TAG_LENGTH);
      const opened = Buffer.alloc(size);
      cases.push({
        group, name: DATA_PLANE, bytes: size,
        fn: () => {
          simd.sealInto(key, nonce, pt, aad, sealed);
          if (simd.openInto(key, nonce, sealed, aad, opened) < 0) throw new Error('wasm failed');
        },
      });
    }
    cases.push({ group, name: NOBLE, bytes: size, fn: () => { const c = chacha20poly1305(key, nonce, aad); c.decrypt(c.encrypt(pt)); } });
    cases.push({ group, name: NODE, bytes: size, fn: () => nodeOpen('chacha20-poly1305', key, nonce, nodeSeal('chacha20-poly1305', key, nonce, pt, aad), aad) });
    cases.push({ group, name: 'node:crypto aes-256-gcm', bytes: size, fn: () => nodeOpen('aes-256-gcm', key, nonce, nodeSeal('aes-256-gcm', key, nonce, pt, aad), aad) });
  }

  // Batch: 64 records of 1 KiB with counter nonces per call, sealed then opened.
  const RECORDS = 64, RECORD = 1024;
  const batchGroup = `batch ${RECORDS} × 1 KiB`;
  const records = randomBytes(RECORDS * RECORD);
  const lengths = new Uint32Array(RECORDS).fill(RECORD);
  const sealedLengths = new Uint32Array(RECORDS).fill(RECORD + AEAD_TAG_LENGTH);
  const batchSealed = Buffer.alloc(RECORDS * (RECORD + AEAD_TAG_LENGTH));
  const batchOpened = Buffer.alloc(RECORDS * RECORD);
  const results = new Int32Array(RECORDS);
  const batchKernel = simd ?? scalar;
  batchKernel.sealRecords(key, nonce, 7n, records, lengths, batchSealed);
  if (batchKernel.openRecords(key, nonce, 7n, batchSealed, sealedLengths, batchOpened, results) !== 0) throw new Error('batch open failed');
  assertSameBytes('batch round trip', batchOpened, records);
  const nonces = Array.from({ length: RECORDS }, (_, i) => { const n = Buffer.from(nonce); n.writeBigUInt64LE(n.readBigUInt64LE(4) ^ BigInt(7 + i), 4); return n; });
  assertSameBytes('batch record 3 vs node:crypto', batchSealed.subarray(3 * 1040, 4 * 1040), nodeSeal('chacha20-poly1305', key, nonces[3]!, records.subarray(3 * 1024, 4 * 1024), Buffer.alloc(0)));
  cases.push({
    group: batchGroup, name: `wasm ${batchKernel.variant} sealRecords+openRecords`, bytes: RECORDS * RECORD, items: RECORDS,
    fn: () => {
      batchKernel.sealRecords(key, nonce, 7n, records, lengths, batchSealed);
      batchKernel.openRecords(key, nonce, 7n, batchSealed, sealedLengths, batchOpened, results);
    },
  });
  const one = Buffer.alloc(RECORD + AEAD_TAG_LENGTH), back = Buffer.alloc(RECORD);
  cases.push({
    group: batchGroup, name: `wasm ${batchKernel.variant} sealInto+openInto ×${RECORDS}`, bytes: RECORDS * RECORD, items: RECORDS,
    fn: () => {
      for (let i = 0; i < RECORDS; i++) {
        batchKernel.sealInto(key, nonces[i]!, records.subarray(i * RECORD, (i + 1) * RECORD), undefined, one);
        batchKernel.openInto(key, nonces[i]!, one, undefined, back);
      }
    },
  });
  const empty = Buffer.alloc(0);
  cases.push({
    group: batchGroup, name: `${NODE} ×${RECORDS}`, bytes: RECORDS * RECORD, items: RECORDS,
    fn: () => {
      for (let i = 0; i < RECORDS; i++) nodeOpen('chacha20-poly1305', key, nonces[i]!, nodeSeal('chacha20-poly1305', key, nonces[i]!, records.subarray(i * RECORD, (i + 1) * RECORD), empty), empty);
    },
  });

  // Where the time goes: the kernel's parts on the record already in its memory
  // (whatever key and bytes are there; seal then open keeps the record valid).
  const partsVariant = simd ? 'simd' : 'scalar';
  const partsKernel = simd ?? scalar;
  const raw = loadKernel<AeadParts>('aead', partsVariant).exports;
  const partCases: BenchCase[] = [];
  for (const size of PART_SIZES) {
    const group = `parts ${size / 1024} KiB`;
    partsKernel.io.set(randomBytes(size));
    partsKernel.sealInPlace(key, nonce, size, aad);
    if (partsKernel.openInPlace(key, nonce, size + AEAD_TAG_LENGTH, aad) !== size) throw new Error('parts: open failed');
    partCases.push(
      { group, name: `wasm ${partsVariant} ChaCha20 (chacha20_xor)`, bytes: size, fn: () => { raw.chacha20_xor(1, 0, size); } },
      { group, name: `wasm ${partsVariant} Poly1305 (poly1305_mac)`, bytes: size, fn: () => { raw.poly1305_mac(0, size); } },
      { group, name: `wasm ${partsVariant} seal`, bytes: size, fn: () => { raw.seal(0, size, 0, aad.length); } },
      {
        group, name: `wasm ${partsVariant} seal+open`, bytes: size,
        fn: () => { raw.seal(0, size, 0, aad.length); if (raw.open(0, size + AEAD_TAG_LENGTH, 0, aad.length) < 0) throw new Error('parts: open failed'); },
      },
    );
  }

  const rows = await measure(cases);
  const parts = await measure(partCases);
  printTable('ChaCha20-Poly1305 seal+open (MB/s of plaintext; ratio vs node:crypto chacha20-poly1305)', rows, NODE);

  // Ratios against the targets of issue 2, from this one run.
  const find = (group: string, name: string) => rows.find((r) => r.group === group && r.name === name);
  const targets: { size: number; group: string; vsNode: number; vsNodeTarget: number; vsNoble: number; vsNobleTarget: number; dataPlaneLoss?: number; dataPlaneLossTarget?: number; met: boolean }[] = [];
  const nodeTargets: Record<number, number> = { 64: 15, 1024: 5, 16384: 1.0, 65536: 0.8 };
  const lines: string[][] = [];
  for (const size of SIZES) {
    const group = groupName(size);
    const w = find(group, simd ? SIMD : 'wasm scalar') as BenchRow;
    const n = find(group, NODE) as BenchRow;
    const nb = find(group, NOBLE) as BenchRow;
    const dp = find(group, DATA_PLANE);
    const vsNode = w.opsPerSec / n.opsPerSec;
    const vsNoble = w.opsPerSec / nb.opsPerSec;
    const loss = dp ? 1 - dp.opsPerSec / w.opsPerSec : undefined;
    const lossTarget = size >= 16384 ? 0.15 : undefined;
    const met = vsNode >= nodeTargets[size]! && vsNoble >= 8 && (lossTarget === undefined || loss === undefined || loss <= lossTarget);
    targets.push({ size, group, vsNode, vsNodeTarget: nodeTargets[size]!, vsNoble, vsNobleTarget: 8, dataPlaneLoss: loss, dataPlaneLossTarget: lossTarget, met });
    lines.push([
      group, `${vsNode.toFixed(2)}× (≥ ${nodeTargets[size]}×)`, `${vsNoble.toFixed(1)}× (≥ 8×)`,
      loss === undefined ? '' : `${(loss * 100).toFixed(1)}%${lossTarget ? ' (≤ 15%)' : ''}`, met ? 'yes' : 'no',
    ]);
  }
  printGrid(`Targets (${simd ? SIMD : 'wasm scalar'} in kernel memory)`, ['size', 'vs node:crypto', 'vs @noble', 'data-plane loss', 'met'], lines);
  printTable(`Where the time goes (wasm ${partsVariant} in kernel memory, MB/s of one operation; ratio vs seal)`, parts, `wasm ${partsVariant} seal`);
  writeResults('aead', { rows, targets, parts });
}
