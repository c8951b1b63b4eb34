// Client handshake: handshakes/s, WASM batch (SIMD, scalar) vs the plain-TypeScript batch,
// and the per-connection parsers (kernel-backed vs plain TS). Outputs are cross-checked
// before anything is timed.
import { assertSameBytes, measure, printTable, writeResults, type BenchCase } from './lib.js';
import { HandshakeKernel, HandshakeParser, HandshakeTable, ReplyCode, encodeRequest } from '../src/kernel/handshake.js';
import { ReferenceHandshakeParser, parseRequestsReference } from '../src/kernel/handshake-reference.js';
import { simdSupported, type KernelVariant } from '../src/kernel/load.js';

const BASELINE = 'plain TS';
const COUNT = 1000;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** `<service>.<meshlet>.<ns>` with labels of about `labelLen` chars; one in ten is broken. */
function ids(labelLen: number, seed: number): string[] {
  const rnd = lcg(seed);
  const alpha = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const label = () => {
    const n = Math.max(1, Math.min(63, Math.round(labelLen * (0.5 + rnd()))));
    let s = '';
    for (let i = 0; i < n; i++) s += i > 0 && i < n - 1 && rnd() < 0.1 ? '-' : alpha[Math.floor(rnd() * alpha.length)];
    return s;
  };
  return Array.from({ length: COUNT }, (_, i) => {
    const id = `${label()}.${label()}.${label()}`;
    if (i % 10 !== 9) return id;
    const at = Math.floor(rnd() * id.length);
    return id.slice(0, at) + 'X' + id.slice(at + 1); // uppercase: MALFORMED
  });
}

const bytesOfWords = (w: Uint32Array, n: number) => new Uint8Array(w.buffer, w.byteOffset, n * 12);

export async function run(): Promise<void> {
  const variants: KernelVariant[] = simdSupported() ? ['simd', 'scalar'] : ['scalar'];
  const kernels = variants.map((v) => HandshakeKernel.load(v));
  const cases: BenchCase[] = [];

  for (const [labelLen, what] of [
    [8, '~26 B IDs'],
    [50, '~150 B IDs'],
  ] as const) {
    const requests = ids(labelLen, labelLen).map(encodeRequest);
    const packed = new Uint8Array(requests.reduce((n, r) => n + r.length, 0));
    requests.reduce((at, r) => (packed.set(r, at), at + r.length), 0);

    // Batch: one buffer of packed requests.
    const group = `batch of ${COUNT}, ${what}`;
    const refTable = new HandshakeTable(COUNT);
    const ref = parseRequestsReference(packed, 0, refTable);
    if (ref.requests !== COUNT) throw new Error(`bench input: ${ref.requests} requests parsed`);
    const okCount = Array.from({ length: COUNT }, (_, i) => refTable.code(i)).filter((c) => c === ReplyCode.OK).length;
    if (okCount !== COUNT - COUNT / 10) throw new Error(`bench input: ${okCount} OK`);
    for (const k of kernels) {
      const t = new HandshakeTable(COUNT);
      const r = k.parseRequestsInto(packed, 0, t);
      assertSameBytes(`${group} (${k.variant})`, bytesOfWords(t.words, COUNT), bytesOfWords(refTable.words, COUNT));
      assertSameBytes(`${group} result (${k.variant})`, Uint8Array.of(r.status, r.requests & 0xff, r.requests >> 8), Uint8Array.of(ref.status, ref.requests & 0xff, ref.requests >> 8));
      cases.push({ group, name: `wasm ${k.variant} batch`, bytes: packed.length, items: COUNT, fn: () => k.parseRequestsInto(packed, 0, t) });
    }
    const t = new HandshakeTable(COUNT);
    cases.push({ group, name: BASELINE, bytes: packed.length, items: COUNT, fn: () => parseRequestsReference(packed, 0, t) });

    // Per connection: each request is its own chunk, through a reused parser.
    const perConn = `per connection, ${what}`;
    const expected = requests.map((r) => {
      const p = new ReferenceHandshakeParser();
      return `${p.push(r)}:${p.serviceId}`;
    });
    const parsers = kernels.map((k) => ({ name: `wasm ${k.variant} parser`, p: new HandshakeParser(k) }));
    for (const { name, p } of parsers) {
      const got = requests.map((r) => {
        p.reset();
        return `${p.push(r)}:${p.serviceId}`;
      });
      if (got.join('\n') !== expected.join('\n')) throw new Error(`bench cross-check failed: ${perConn} (${name})`);
      cases.push({
        group: perConn,
        name,
        items: COUNT,
        fn: () => {
          for (let i = 0; i < COUNT; i++) {
            p.reset();
            p.push(requests[i]!);
          }
        },
      });
    }
    const refParser = new ReferenceHandshakeParser();
    cases.push({
      group: perConn,
      name: BASELINE,
      items: COUNT,
      fn: () => {
        for (let i = 0; i < COUNT; i++) {
          refParser.reset();
          refParser.push(requests[i]!);
        }
      },
    });
  }

  const rows = await measure(cases);
  printTable('client handshake: handshakes/s (ratio vs plain TS, same run)', rows, BASELINE);
  const ratios = rows.map((r) => {
    const base = rows.find((b) => b.group === r.group && b.name === BASELINE)!;
    return { group: r.group, name: r.name, vsPlainTS: r.opsPerSec / base.opsPerSec };
  });
  writeResults('handshake', { rows, ratios, requestsPerCall: COUNT });
}
