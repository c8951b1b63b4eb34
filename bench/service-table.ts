// Service table benchmark: lookups/s for 1k and 10k services, the WASM table (one call
// per ID, and batches) against a JS Map<string, route> with the string in hand and
// from bytes (the agent's real case: the ID arrives in a Buffer); weighted picks/s,
// Maglev picks/s, and build times. Every implementation's answers are cross-checked
// before anything is timed.
import { measure, printTable, writeResults, type BenchCase, type BenchRow } from './lib.js';
import { ServiceTable, packServiceIds } from '../src/kernel/service-table.js';
import { maglevPopulate } from '../src/kernel/maglev-reference.js';
import { simdSupported } from '../src/kernel/load.js';

const QUERIES = 1024; // lookups per timed call
const BASELINE = 'js Map (string in hand)';
const utf8 = new TextEncoder();

/** mulberry32, so every run draws the same IDs and randoms. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function check(what: string, a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new Error(`bench cross-check failed: ${what} (length ${a.length} vs ${b.length})`);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Error(`bench cross-check failed: ${what} at ${i}: ${a[i]} vs ${b[i]}`);
}

const serviceId = (i: number) => `svc-${i}.meshlet-${i % 97}.ns-${i % 7}`;

/** Lookup cases for n services: 1024 queries, 90% hits, 10% misses. */
function lookupCases(n: number, tables: { simd?: ServiceTable; scalar: ServiceTable }): BenchCase[] {
  const group = `lookup, ${n / 1000}k services`;
  const map = new Map<string, number>();
  for (const t of [tables.simd, tables.scalar]) t?.clear();
  for (let i = 0; i < n; i++) {
    const route = tables.scalar.set(serviceId(i), [1]);
    tables.simd?.set(serviceId(i), [1]);
    map.set(serviceId(i), route);
  }
  const next = rng(n);
  const strings = Array.from({ length: QUERIES }, () => (next() % 10 === 0 ? `missing-${next()}.m.ns` : serviceId(next() % n)));
  // The agent's case: IDs arrive as bytes in one Buffer (as after a read).
  const packed = packServiceIds(strings);
  const buf = Buffer.from(packed.buffer, packed.byteOffset, packed.length);
  const starts = new Int32Array(QUERIES);
  const views: Uint8Array[] = [];
  for (let i = 0, p = 0; i < QUERIES; i++) {
    starts[i] = p + 1;
    views.push(packed.subarray(p + 1, p + 1 + packed[p]!));
    p += 1 + packed[p]!;
  }
  const out = new Int32Array(QUERIES);
  const t = tables.simd ?? tables.scalar;

  const mapString = () => {
    for (let i = 0; i < QUERIES; i++) out[i] = map.get(strings[i]!) ?? -1;
    return out;
  };
  const mapBytes = () => {
    for (let i = 0; i < QUERIES; i++) {
      const s = starts[i]!;
      out[i] = map.get(buf.toString('latin1', s, s + buf[s - 1]!)) ?? -1;
    }
    return out;
  };
  const wasmString = () => {
    for (let i = 0; i < QUERIES; i++) out[i] = t.find(strings[i]!);
    return out;
  };
  const wasmBytes = () => {
    for (let i = 0; i < QUERIES; i++) out[i] = t.find(views[i]!);
    return out;
  };
  const wasmBatch = (table: ServiceTable) => () => {
    table.findBatchInto(packed, out);
    return out;
  };

  const expected = strings.map((s) => map.get(s) ?? -1);
  const fns: [string, () => Int32Array][] = [
    [BASELINE, mapString],
    ['js Map (from bytes)', mapBytes],
    [`wasm find (string)`, wasmString],
    [`wasm find (bytes)`, wasmBytes],
    [`wasm batch ${t.variant}`, wasmBatch(t)],
  ];
  if (tables.simd) fns.push(['wasm batch scalar', wasmBatch(tables.scalar)]);
  for (const [name, fn] of fns) check(`${group} / ${name}`, fn(), expected);
  return fns.map(([name, fn]) => ({ group, name, items: QUERIES, fn }));
}

/** Weighted and Maglev picks on a 10-endpoint canary split among 1k services. */
function pickCases(t: ServiceTable): BenchCase[] {
  t.clear();
  const weights = [45, 45, 5, 5, 0, 10, 10, 10, 20, 1];
  const names = weights.map((_, i) => `10.0.0.${i}:8080`);
  const jsRoutes = new Map<string, { prefix: Float64Array; maglev: Int32Array }>();
  for (let i = 0; i < 1000; i++) {
    t.set(serviceId(i), weights);
    t.setMaglev(serviceId(i), names);
  }
  const id = serviceId(123);
  const route = t.find(id);
  const m = t.maglevTable(id)!.length;
  // The plain-JS version: Map lookup, binary search over prefix sums, Maglev array index.
  const prefix = new Float64Array(weights.length);
  weights.reduce((sum, w, i) => (prefix[i] = sum + w), 0);
  for (let i = 0; i < 1000; i++) {
    jsRoutes.set(serviceId(i), { prefix, maglev: maglevPopulate(names.map((s) => utf8.encode(s)), m, (k) => weights[k]! > 0) });
  }
  const total = prefix[prefix.length - 1]!;
  const jsPick = (key: string, random: number) => {
    const r = jsRoutes.get(key);
    if (!r) return -1;
    const target = Math.floor((random * total) / 4294967296);
    let lo = 0;
    let hi = r.prefix.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r.prefix[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const jsConsistent = (key: string, hash: number) => {
    const r = jsRoutes.get(key);
    return r ? r.maglev[hash % r.maglev.length]! : -1;
  };
  const next = rng(99);
  const randoms = new Uint32Array(QUERIES).map(() => next());
  const out = new Int32Array(QUERIES);
  const loop = (f: (r: number) => number) => () => {
    for (let i = 0; i < QUERIES; i++) out[i] = f(randoms[i]!);
    return out;
  };
  const weighted: [string, () => Int32Array][] = [
    ['plain JS (Map + binary search)', loop((r) => jsPick(id, r))],
    ['wasm pick (string)', loop((r) => t.pick(id, r))],
    ['wasm pickRoute', loop((r) => t.pickRoute(route, r))],
  ];
  const consistent: [string, () => Int32Array][] = [
    ['plain JS (Map + array)', loop((h) => jsConsistent(id, h))],
    ['wasm pickConsistent (string)', loop((h) => t.pickConsistent(id, h))],
    ['wasm pickConsistentRoute', loop((h) => t.pickConsistentRoute(route, h))],
  ];
  const wExpected = Array.from(weighted[0]![1]());
  for (const [name, fn] of weighted) check(`weighted pick / ${name}`, fn(), wExpected);
  const cExpected = Array.from(consistent[0]![1]());
  for (const [name, fn] of consistent) check(`maglev pick / ${name}`, fn(), cExpected);
  return [
    ...weighted.map(([name, fn]) => ({ group: 'weighted pick (10 endpoints)', name, items: QUERIES, fn })),
    ...consistent.map(([name, fn]) => ({ group: `maglev pick (M=${m})`, name, items: QUERIES, fn })),
  ];
}

/** Build times: 10k services into the table, and Maglev tables. */
function buildCases(t: ServiceTable): BenchCase[] {
  const n = 10_000;
  const ids = Array.from({ length: n }, (_, i) => serviceId(i));
  const weights = [1, 1, 1];
  const cases: BenchCase[] = [
    {
      group: 'build, 10k services',
      name: 'js Map (string in hand)',
      items: n,
      fn: () => {
        const map = new Map<string, number[]>();
        for (let i = 0; i < n; i++) map.set(ids[i]!, weights.slice());
        return map;
      },
    },
    {
      group: 'build, 10k services',
      name: 'wasm set',
      items: n,
      fn: () => {
        t.clear();
        for (let i = 0; i < n; i++) t.set(ids[i]!, weights);
      },
    },
  ];
  // Maglev builds get their own table: the 'wasm set' case above clears t while timed.
  const mt = new ServiceTable({ variant: t.variant, capacity: 4 });
  for (const [count, m] of [[10, 1021], [100, 16381], [1000, 65537]] as const) {
    const names = Array.from({ length: count }, (_, i) => `10.1.${i >> 8}.${i & 255}:8080`);
    const encoded = names.map((s) => utf8.encode(s));
    const id = `maglev-${count}.m.ns`;
    mt.set(id, new Array(count).fill(1));
    mt.setMaglev(id, names, m);
    check(`maglev build N=${count}`, mt.maglevTable(id)!, maglevPopulate(encoded, m));
    const group = `maglev build N=${count} M=${m}`;
    cases.push(
      { group, name: 'ts reference (paper pseudocode)', items: m, fn: () => maglevPopulate(encoded, m) },
      { group, name: 'wasm setMaglev', items: m, fn: () => mt.setMaglev(id, names, m) },
    );
  }
  return cases;
}

/** Adds each row's speed relative to the row of its group whose name starts with `baseline`. */
function withRatios(rows: BenchRow[], baseline: (name: string) => boolean): (BenchRow & { vsBaseline: number })[] {
  return rows.map((r) => {
    const base = rows.find((b) => b.group === r.group && baseline(b.name));
    return { ...r, vsBaseline: base ? r.opsPerSec / base.opsPerSec : NaN };
  });
}

function printRatios(rows: (BenchRow & { vsBaseline: number })[], label: string): void {
  for (const r of rows) console.log(`  ${r.group} / ${r.name}: ${r.vsBaseline.toFixed(2)}x ${label}`);
}

export async function run(): Promise<void> {
  const scalar = new ServiceTable({ variant: 'scalar' });
  const simd = simdSupported() ? new ServiceTable({ variant: 'simd' }) : undefined;
  const tables = { simd, scalar };

  const lookupRows: BenchRow[] = [];
  for (const n of [1000, 10_000]) lookupRows.push(...(await measure(lookupCases(n, tables))));
  printTable(`service table lookups (${QUERIES} IDs per call, 10% misses; items/s = lookups/s)`, lookupRows, BASELINE);
  const lookups = withRatios(lookupRows, (name) => name === BASELINE);
  const fromBytes = withRatios(lookupRows, (name) => name === 'js Map (from bytes)');

  const t = simd ?? scalar;
  const picks = withRatios(await measure(pickCases(t)), (name) => name.startsWith('plain JS'));
  printTable(`picks (${QUERIES} per call; items/s = picks/s)`, picks, undefined);
  printRatios(picks, 'plain JS');

  const builds = withRatios(await measure(buildCases(t)), (name) => name.startsWith('js') || name.startsWith('ts'));
  printTable('build times (items/s = services/s or Maglev entries/s; ns/op = one whole build)', builds, undefined);
  printRatios(builds, 'the JS/TS version');

  writeResults('service-table', {
    variant: t.variant,
    queriesPerCall: QUERIES,
    lookups: lookups.map((r, i) => ({ ...r, vsJsMapFromBytes: fromBytes[i]!.vsBaseline })),
    picks,
    builds,
  });
}
