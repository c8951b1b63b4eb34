import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MetricsRegistry, DEFAULT_BUCKETS, PROMETHEUS_CONTENT_TYPE, formatValue } from '../../src/admin/metrics.js';

// ---- a strict parser of text format 0.0.4, written from the format description ----

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  help?: string;
  type?: string;
  samples: Sample[];
}

function parseValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  assert.match(s, /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/, `bad value ${s}`);
  return Number(s);
}

function parseExposition(text: string): Map<string, Family> {
  assert.ok(text === '' || text.endsWith('\n'), 'output ends with a line feed');
  const families = new Map<string, Family>();
  const seenSeries = new Set<string>();
  const familyOf = (sampleName: string): string => {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const base = sampleName.slice(0, -suffix.length);
      if (sampleName.endsWith(suffix) && families.get(base)?.type === 'histogram') return base;
    }
    return sampleName;
  };
  for (const line of text.split('\n').slice(0, -1)) {
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      const f = families.get(m[1]!) ?? { samples: [] };
      assert.equal(f.help, undefined, `one HELP per metric (${m[1]})`);
      assert.equal(f.samples.length, 0, 'HELP before samples');
      f.help = m[2]!.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
      families.set(m[1]!, f);
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      const f = families.get(m[1]!) ?? { samples: [] };
      assert.equal(f.type, undefined, `one TYPE per metric (${m[1]})`);
      assert.equal(f.samples.length, 0, 'TYPE before samples');
      f.type = m[2]!;
      families.set(m[1]!, f);
      continue;
    }
    assert.ok(!line.startsWith('#'), `unexpected comment ${line}`);
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    assert.ok(m, `bad sample line ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const body = m[2].slice(1, -1);
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
      let pos = 0;
      while (pos < body.length) {
        re.lastIndex = pos;
        const lm = re.exec(body);
        assert.ok(lm, `bad labels ${m[2]}`);
        assert.equal(labels[lm[1]!], undefined, 'label given twice');
        labels[lm[1]!] = lm[2]!.replace(/\\([\\"n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
        pos = re.lastIndex;
      }
    }
    const family = families.get(familyOf(m[1]!));
    assert.ok(family?.type, `sample ${m[1]} before its TYPE line`);
    const key = `${m[1]}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!seenSeries.has(key), `duplicate series ${key}`);
    seenSeries.add(key);
    family.samples.push({ name: m[1]!, labels, value: parseValue(m[3]!) });
  }
  for (const [name, f] of families) if (f.type === 'histogram') checkHistogram(name, f);
  return families;
}

/** Buckets ascending by le, cumulative, ending in +Inf equal to _count; one _sum and _count per series. */
function checkHistogram(name: string, f: Family): void {
  const series = new Map<string, Sample[]>();
  const keyOf = (l: Record<string, string>) => JSON.stringify(Object.entries(l).filter(([k]) => k !== 'le').sort());
  for (const s of f.samples) {
    const k = keyOf(s.labels);
    series.set(k, [...(series.get(k) ?? []), s]);
  }
  for (const samples of series.values()) {
    const buckets = samples.filter((s) => s.name === `${name}_bucket`);
    const count = samples.filter((s) => s.name === `${name}_count`);
    assert.equal(samples.filter((s) => s.name === `${name}_sum`).length, 1);
    assert.equal(count.length, 1);
    assert.ok(buckets.length >= 1);
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(parseValue(buckets[i]!.labels.le!) > parseValue(buckets[i - 1]!.labels.le!), 'le ascending');
      assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, 'cumulative');
    }
    assert.equal(buckets.at(-1)!.labels.le, '+Inf');
    assert.equal(buckets.at(-1)!.value, count[0]!.value);
  }
}

const sample = (fams: Map<string, Family>, family: string, name: string, labels: Record<string, string> = {}) =>
  fams.get(family)!.samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()))?.value;

// ---- tests ----

describe('MetricsRegistry', () => {
  test('counters: unlabelled from zero, labelled per set, inc forms and labels() child', () => {
    const r = new MetricsRegistry();
    const total = r.counter('weft_handshakes_total', 'Handshakes by reply code.', ['code']);
    const plain = r.counter('weft_accepts_total', 'Accepted connections.');
    assert.match(r.render(), /^weft_accepts_total 0$/m);
    plain.inc();
    plain.inc(2.5);
    total.inc({ code: 'OK' });
    total.inc({ code: 'OK' }, 4);
    total.labels({ code: 'FORBIDDEN' }).inc();
    const fams = parseExposition(r.render());
    assert.equal(fams.get('weft_handshakes_total')!.type, 'counter');
    assert.equal(fams.get('weft_handshakes_total')!.help, 'Handshakes by reply code.');
    assert.equal(sample(fams, 'weft_accepts_total', 'weft_accepts_total'), 3.5);
    assert.equal(sample(fams, 'weft_handshakes_total', 'weft_handshakes_total', { code: 'OK' }), 5);
    assert.equal(sample(fams, 'weft_handshakes_total', 'weft_handshakes_total', { code: 'FORBIDDEN' }), 1);
    assert.equal(total.get({ code: 'OK' }), 5);
    assert.throws(() => plain.inc(-1), RangeError);
    assert.throws(() => plain.inc(NaN), RangeError);
  });

  test('gauges: set, inc, dec, special values', () => {
    const r = new MetricsRegistry();
    const g = r.gauge('weft_connections', 'Open connections.', ['meshlet', 'version']);
    g.set({ meshlet: 'shop', version: 'v1' }, 10);
    g.inc({ meshlet: 'shop', version: 'v1' });
    g.dec({ meshlet: 'shop', version: 'v1' }, 3);
    g.labels({ meshlet: 'shop', version: 'v2' }).dec();
    const u = r.gauge('weft_up', 'Up.');
    u.set(Infinity);
    const fams = parseExposition(r.render());
    assert.equal(sample(fams, 'weft_connections', 'weft_connections', { meshlet: 'shop', version: 'v1' }), 8);
    assert.equal(sample(fams, 'weft_connections', 'weft_connections', { meshlet: 'shop', version: 'v2' }), -1);
    assert.equal(sample(fams, 'weft_up', 'weft_up'), Infinity);
    assert.deepEqual([formatValue(NaN), formatValue(-Infinity), formatValue(1e-7), formatValue(-0)], ['NaN', '-Inf', '1e-7', '-0']);
    // Shortest round-trip spelling: parses back to the same double.
    for (const v of [2 ** 60, 0.1 + 0.2, Number.MIN_VALUE, -Number.MAX_VALUE]) assert.equal(Number(formatValue(v)), v);
  });

  test('histograms: le is inclusive, buckets cumulative, +Inf, _sum, _count', () => {
    const r = new MetricsRegistry();
    const h = r.histogram('weft_handshake_seconds', 'Handshake latency.', ['meshlet'], [0.001, 0.01, 0.1]);
    for (const v of [0.0005, 0.001, 0.002, 0.05, 0.1, 5]) h.observe({ meshlet: 'a' }, v);
    h.labels({ meshlet: 'b' }).observe(0.2);
    const fams = parseExposition(r.render());
    const bucket = (m: string, le: string) => sample(fams, 'weft_handshake_seconds', 'weft_handshake_seconds_bucket', { meshlet: m, le });
    assert.deepEqual(['0.001', '0.01', '0.1', '+Inf'].map((le) => bucket('a', le)), [2, 3, 5, 6]);
    assert.deepEqual(['0.001', '0.01', '0.1', '+Inf'].map((le) => bucket('b', le)), [0, 0, 0, 1]);
    assert.equal(sample(fams, 'weft_handshake_seconds', 'weft_handshake_seconds_count', { meshlet: 'a' }), 6);
    assert.ok(Math.abs(sample(fams, 'weft_handshake_seconds', 'weft_handshake_seconds_sum', { meshlet: 'a' })! - 5.1535) < 1e-12);
    const plain = r.histogram('weft_connect_seconds', 'Connect latency.');
    plain.observe(0.3);
    const buckets = parseExposition(r.render()).get('weft_connect_seconds')!.samples.filter((s) => s.name.endsWith('_bucket'));
    assert.deepEqual(buckets.map((s) => s.labels.le), [...DEFAULT_BUCKETS.map(String), '+Inf']);
  });

  test('escaping: label values (backslash, quote, line feed) and HELP round-trip', () => {
    const r = new MetricsRegistry();
    const c = r.counter('weft_errors_total', 'Errors with a \\ backslash,\na line feed and "quotes".', ['path']);
    const nasty = 'C:\\dir\\"quoted"\nnext line, {braces}=';
    c.inc({ path: nasty });
    const text = r.render();
    assert.ok(text.includes('path="C:\\\\dir\\\\\\"quoted\\"\\nnext line, {braces}="'), text);
    assert.ok(text.includes('# HELP weft_errors_total Errors with a \\\\ backslash,\\na line feed and "quotes".\n'));
    const fams = parseExposition(text);
    assert.equal(fams.get('weft_errors_total')!.help, 'Errors with a \\ backslash,\na line feed and "quotes".');
    assert.equal(sample(fams, 'weft_errors_total', 'weft_errors_total', { path: nasty }), 1);
  });

  test('random label values and observations parse back to what was recorded', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })), { maxLength: 30 }),
        (rows) => {
          const r = new MetricsRegistry();
          const g = r.gauge('g', 'g', ['a', 'b']);
          const h = r.histogram('h', 'h', ['a'], [-10, 0, 10]);
          const want = new Map<string, number>();
          for (const [a, b, v] of rows) {
            g.set({ a, b }, v);
            want.set(JSON.stringify([a, b]), v);
            h.observe({ a }, v);
          }
          const fams = parseExposition(r.render());
          const got = fams.get('g')!.samples;
          assert.equal(got.length, want.size);
          for (const s of got) assert.equal(s.value, want.get(JSON.stringify([s.labels.a, s.labels.b])));
          const counts = fams.get('h')!.samples.filter((s) => s.name === 'h_count');
          assert.equal(counts.reduce((t, s) => t + s.value, 0), rows.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('labels() returns the same cached child for the same set; numbers match their string form', () => {
    const r = new MetricsRegistry();
    const c = r.counter('c_total', 'c', ['a', 'b']);
    const child = c.labels({ a: 'x', b: 'y' });
    assert.equal(c.labels({ b: 'y', a: 'x' }), child);
    const byNumber = c.labels({ a: '1', b: 'y' });
    assert.equal(c.labels({ a: 1, b: 'y' }), byNumber);
    c.inc({ a: 1, b: 'y' });
    assert.equal(byNumber.value, 1);
    assert.equal(parseExposition(r.render()).get('c_total')!.samples.length, 2);
  });

  test('remove() drops a series; a removed set starts again from zero', () => {
    const r = new MetricsRegistry();
    const g = r.gauge('g', 'g', ['meshlet', 'version']);
    g.set({ meshlet: 'a', version: 'v1' }, 1);
    g.set({ meshlet: 'a', version: 'v2' }, 2);
    assert.equal(g.remove({ meshlet: 'a', version: 'v1' }), true);
    assert.equal(g.remove({ meshlet: 'a', version: 'v1' }), false);
    assert.equal(g.remove({ meshlet: 'zz', version: 'v1' }), false);
    const fams = parseExposition(r.render());
    assert.deepEqual(fams.get('g')!.samples.map((s) => s.labels.version), ['v2']);
    assert.equal(g.get({ meshlet: 'a', version: 'v1' }), 0);
  });

  test('collectors run before each render', () => {
    const r = new MetricsRegistry();
    const g = r.gauge('weft_meshlets', 'Loaded meshlets.');
    let n = 0;
    r.addCollector(() => g.set(++n));
    assert.match(r.render(), /^weft_meshlets 1$/m);
    assert.match(r.render(), /^weft_meshlets 2$/m);
    assert.equal(PROMETHEUS_CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
  });

  test('a labelled metric with no series renders HELP and TYPE only', () => {
    const r = new MetricsRegistry();
    r.counter('x_total', 'x', ['a']);
    assert.equal(r.render(), '# HELP x_total x\n# TYPE x_total counter\n');
    assert.equal(new MetricsRegistry().render(), '');
  });

  test('validation: names, labels, buckets, registration clashes', () => {
    const r = new MetricsRegistry();
    for (const bad of ['', '1abc', 'a-b', 'a b', 'é']) assert.throws(() => r.counter(bad, 'h'), TypeError, bad);
    assert.doesNotThrow(() => r.counter('ns:sub_total', 'colons are allowed in metric names'));
    for (const bad of ['__reserved', '1a', 'a:b', 'a-b', '']) assert.throws(() => r.counter('y_total', 'h', [bad]), TypeError, bad);
    assert.throws(() => r.counter('y_total', 'h', ['a', 'a']), TypeError);
    assert.throws(() => r.histogram('h1', 'h', ['le']), TypeError);
    assert.throws(() => r.histogram('h2', 'h', [], [1, 1]), TypeError);
    assert.throws(() => r.histogram('h3', 'h', [], [2, 1]), TypeError);
    assert.throws(() => r.histogram('h4', 'h', [], [NaN]), TypeError);
    assert.throws(() => r.histogram('h5', 'h', [], []), TypeError);
    assert.equal(r.histogram('h6', 'h', [], [1, Infinity]).buckets.length, 1, '+Inf is implied');

    const c = r.counter('same_total', 'h', ['a']);
    assert.equal(r.counter('same_total', 'h', ['a']), c, 'same definition returns the same metric');
    assert.throws(() => r.gauge('same_total', 'h', ['a']), TypeError);
    assert.throws(() => r.counter('same_total', 'h', ['b']), TypeError);
    r.histogram('lat', 'h', [], [1, 2]);
    assert.throws(() => r.histogram('lat', 'h', [], [1, 3]), TypeError);
    assert.throws(() => r.counter('lat_count', 'h'), TypeError, 'clashes with the histogram series');
    r.counter('q_sum', 'h');
    assert.throws(() => r.histogram('q', 'h'), TypeError);

    assert.throws(() => c.inc(), TypeError, 'labels required');
    assert.throws(() => c.inc({}), TypeError);
    assert.throws(() => c.inc({ a: 'x', extra: 'y' }), TypeError);
    assert.throws(() => c.inc({ b: 'x' }), TypeError);
    assert.throws(() => r.counter('plain_total', 'h').inc({ a: 'x' }), TypeError);
    assert.throws(() => c.inc({ a: undefined as unknown as string }), TypeError);
  });
});
