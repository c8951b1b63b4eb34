// Frame codec: frames/s batch decode and batch header encode, WASM (SIMD, scalar) vs
// the plain-TypeScript codec, side by side. Every implementation's output is
// cross-checked before anything is timed.
import { assertSameBytes, measure, printTable, writeResults, type BenchCase } from './lib.js';
import {
  DEFAULT_MAX_FRAME_SIZE,
  FRAME_HEADER_SIZE,
  FrameKernel,
  FrameStatus,
  FrameTable,
  FrameType,
  MAX_FRAME_SIZE_HARD_CAP,
  encodeFrameHeaderInto,
  type DecodeResult,
} from '../src/kernel/frame.js';
import { decodeFramesReference, encodeFrameHeaderReference, encodeFrameHeadersReference } from '../src/kernel/frame-reference.js';
import { simdSupported, type KernelVariant } from '../src/kernel/load.js';

const BASELINE = 'plain TS';

/** Deterministic pseudo-random numbers so every run measures the same buffers. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

interface Spec {
  type: number;
  flags: number;
  streamId: number;
  length: number;
}

/** Mostly small DATA with the control frames a busy tunnel carries, whole frames only. */
function mixedSpecs(budget: number): Spec[] {
  const rnd = lcg(7);
  const specs: Spec[] = [];
  let used = 0;
  for (;;) {
    const r = rnd();
    const stream = 1 + Math.floor(rnd() * 1000);
    const s: Spec =
      r < 0.6
        ? { type: FrameType.DATA, flags: rnd() < 0.1 ? 1 : 0, streamId: stream, length: 1 + Math.floor(rnd() * 96) }
        : r < 0.75
          ? { type: FrameType.WINDOW_UPDATE, flags: 0, streamId: rnd() < 0.2 ? 0 : stream, length: 4 }
          : r < 0.82
            ? { type: FrameType.OPEN, flags: 0, streamId: stream, length: 30 + Math.floor(rnd() * 20) }
            : r < 0.9
              ? { type: FrameType.FIN, flags: 0, streamId: stream, length: 0 }
              : r < 0.95
                ? { type: FrameType.RST, flags: 0, streamId: stream, length: 4 }
                : { type: FrameType.PING, flags: 0, streamId: 0, length: 8 };
    if (used + FRAME_HEADER_SIZE + s.length > budget) return specs;
    used += FRAME_HEADER_SIZE + s.length;
    specs.push(s);
  }
}

function build(specs: Spec[]): Uint8Array {
  const out = new Uint8Array(specs.reduce((n, s) => n + FRAME_HEADER_SIZE + s.length, 0));
  let at = 0;
  for (const s of specs) {
    at = encodeFrameHeaderReference(out, at, s.type, s.flags, s.streamId, s.length, MAX_FRAME_SIZE_HARD_CAP);
    out.fill(0xab, at, at + s.length);
    at += s.length;
  }
  return out;
}

const words = (t: FrameTable, n: number) => new Uint8Array(t.words.buffer, t.words.byteOffset, n * 16);
const resultBytes = (r: DecodeResult) => Uint8Array.from([r.status, r.frames, r.consumed, r.errorOffset + 1, r.needed].flatMap((n) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]));

export async function run(): Promise<void> {
  const variants: KernelVariant[] = simdSupported() ? ['simd', 'scalar'] : ['scalar'];
  const kernels = variants.map((v) => FrameKernel.load(v));
  const cases: BenchCase[] = [];

  const inputs = [
    { group: 'decode 64 KiB mixed small frames', buf: build(mixedSpecs(65536)), maxFrame: DEFAULT_MAX_FRAME_SIZE },
    {
      group: 'decode 64 × 1 KiB DATA',
      buf: build(Array.from({ length: 64 }, (_, i) => ({ type: FrameType.DATA, flags: 0, streamId: i + 1, length: 1024 }))),
      maxFrame: DEFAULT_MAX_FRAME_SIZE,
    },
    {
      group: 'decode 16 × 16 KiB DATA',
      buf: build(Array.from({ length: 16 }, (_, i) => ({ type: FrameType.DATA, flags: 0, streamId: i + 1, length: 16384 }))),
      maxFrame: DEFAULT_MAX_FRAME_SIZE,
    },
  ];
  for (const { group, buf, maxFrame } of inputs) {
    const refTable = new FrameTable(8192);
    const ref = decodeFramesReference(buf, 0, maxFrame, refTable);
    if (ref.status !== FrameStatus.OK) throw new Error(`bench input for ${group} does not decode: ${FrameStatus[ref.status]}`);
    const frames = ref.frames;
    for (const k of kernels) {
      const t = new FrameTable(8192);
      const r = k.decodeFramesInto(buf, 0, maxFrame, t);
      assertSameBytes(`${group} result (${k.variant})`, resultBytes(r), resultBytes(ref));
      assertSameBytes(`${group} table (${k.variant})`, words(t, frames), words(refTable, frames));
      cases.push({ group, name: `wasm ${k.variant}`, bytes: buf.length, items: frames, fn: () => k.decodeFramesInto(buf, 0, maxFrame, t) });
    }
    {
      // Into the kernel-owned table: no copy of the entries out.
      const k = kernels[0]!;
      const r = k.decodeFramesInto(buf, 0, maxFrame, k.table);
      assertSameBytes(`${group} kernel table`, words(k.table, frames), words(refTable, frames));
      assertSameBytes(`${group} kernel table result`, resultBytes(r), resultBytes(ref));
      cases.push({ group, name: `wasm ${k.variant}, kernel-owned table`, bytes: buf.length, items: frames, fn: () => k.decodeFramesInto(buf, 0, maxFrame, k.table) });
    }
    if (buf.length <= kernels[0]!.inputCapacity) {
      // Bytes already in kernel memory and the kernel-owned table: no copy either way.
      const k = kernels[0]!;
      k.input.set(buf);
      const r = k.decodeInputInto(buf.length, maxFrame, k.table);
      assertSameBytes(`${group} in-kernel table`, words(k.table, frames), words(refTable, frames));
      assertSameBytes(`${group} in-kernel result`, resultBytes(r), resultBytes(ref));
      cases.push({ group, name: `wasm ${k.variant}, no copies (bytes in kernel)`, bytes: buf.length, items: frames, fn: () => k.decodeInputInto(buf.length, maxFrame, k.table) });
    }
    const t = new FrameTable(8192);
    cases.push({ group, name: BASELINE, bytes: buf.length, items: frames, fn: () => decodeFramesReference(buf, 0, maxFrame, t) });
  }

  // Batch header encode: 1024 mixed headers packed for a gather write.
  {
    const group = 'encode 1024 headers';
    const specs = mixedSpecs(1 << 20).slice(0, 1024);
    const table = new FrameTable(specs.length);
    specs.forEach((s, i) => table.set(i, s.type, s.flags, s.streamId, s.length));
    const n = specs.length;
    const expected = new Uint8Array(n * FRAME_HEADER_SIZE);
    encodeFrameHeadersReference(table, 0, n, expected, 0);
    for (const k of kernels) {
      const out = new Uint8Array(n * FRAME_HEADER_SIZE);
      k.encodeFrameHeadersInto(table, 0, n, out, 0);
      assertSameBytes(`${group} (${k.variant})`, out, expected);
      cases.push({ group, name: `wasm ${k.variant}`, items: n, fn: () => k.encodeFrameHeadersInto(table, 0, n, out, 0) });
    }
    {
      // Entries written straight into the kernel-owned table: no copy in.
      const k = kernels[0]!;
      k.table.words.set(table.words);
      const out = new Uint8Array(n * FRAME_HEADER_SIZE);
      k.encodeFrameHeadersInto(k.table, 0, n, out, 0);
      assertSameBytes(`${group} (kernel table)`, out, expected);
      cases.push({ group, name: `wasm ${k.variant}, kernel-owned table`, items: n, fn: () => k.encodeFrameHeadersInto(k.table, 0, n, out, 0) });
    }
    const loopOut = new Uint8Array(n * FRAME_HEADER_SIZE);
    const encodeLoop = () => {
      let at = 0;
      for (let i = 0; i < n; i++) at = encodeFrameHeaderInto(loopOut, at, table.type(i), table.flags(i), table.streamId(i), table.payloadLength(i));
    };
    encodeLoop();
    assertSameBytes(`${group} (single-header loop)`, loopOut, expected);
    cases.push({ group, name: 'encodeFrameHeaderInto loop (JS)', items: n, fn: encodeLoop });
    const out = new Uint8Array(n * FRAME_HEADER_SIZE);
    cases.push({ group, name: BASELINE, items: n, fn: () => encodeFrameHeadersReference(table, 0, n, out, 0) });
  }

  const rows = await measure(cases);
  printTable('frame codec: batch decode and encode (ratio vs plain TS, same run)', rows, BASELINE);
  const ratios = rows.map((r) => {
    const base = rows.find((b) => b.group === r.group && b.name === BASELINE)!;
    return { group: r.group, name: r.name, vsPlainTS: r.opsPerSec / base.opsPerSec };
  });
  writeResults('frame', { rows, ratios, inputs: inputs.map((i) => ({ group: i.group, bytes: i.buf.length })) });
}
