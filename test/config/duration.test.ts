// parseDuration against Go's own test table (src/time/time_test.go,
// parseDurationTests and parseDurationErrorTests) and the documented examples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatDuration, parseDuration } from '../../src/config/duration.js';

const ns = 1n;
const us = 1_000n;
const ms = 1_000_000n;
const s = 1_000_000_000n;
const m = 60n * s;
const h = 60n * m;

const GO_VALID: Array<[string, bigint]> = [
  // simple
  ['0', 0n],
  ['5s', 5n * s],
  ['30s', 30n * s],
  ['1478s', 1478n * s],
  // sign
  ['-5s', -5n * s],
  ['+5s', 5n * s],
  ['-0', 0n],
  ['+0', 0n],
  // decimal
  ['5.0s', 5n * s],
  ['5.6s', 5n * s + 600n * ms],
  ['5.s', 5n * s],
  ['.5s', 500n * ms],
  ['1.0s', 1n * s],
  ['1.00s', 1n * s],
  ['1.004s', 1n * s + 4n * ms],
  ['1.0040s', 1n * s + 4n * ms],
  ['100.00100s', 100n * s + 1n * ms],
  // different units
  ['10ns', 10n * ns],
  ['11us', 11n * us],
  ['12µs', 12n * us], // U+00B5
  ['12μs', 12n * us], // U+03BC
  ['13ms', 13n * ms],
  ['14s', 14n * s],
  ['15m', 15n * m],
  ['16h', 16n * h],
  // composite durations
  ['3h30m', 3n * h + 30n * m],
  ['10.5s4m', 4n * m + 10n * s + 500n * ms],
  ['-2m3.4s', -(2n * m + 3n * s + 400n * ms)],
  ['1h2m3s4ms5us6ns', 1n * h + 2n * m + 3n * s + 4n * ms + 5n * us + 6n * ns],
  ['39h9m14.425s', 39n * h + 9n * m + 14n * s + 425n * ms],
  // large value
  ['52763797000ns', 52763797000n * ns],
  // more than 9 digits after decimal point, see https://golang.org/issue/6617
  ['0.3333333333333333333h', 20n * m],
  // 9007199254740993 = 1<<53+1 cannot be stored precisely in a float64
  ['9007199254740993ns', (1n << 53n) + 1n],
  // largest duration that can be represented by int64 in nanoseconds
  ['9223372036854775807ns', (1n << 63n) - 1n],
  ['9223372036854775.807us', (1n << 63n) - 1n],
  ['9223372036s854ms775us807ns', (1n << 63n) - 1n],
  ['-9223372036854775808ns', -1n << 63n],
  ['-9223372036854775.808us', -1n << 63n],
  ['-9223372036s854ms775us808ns', -1n << 63n],
  // largest negative value
  ['-9223372036854775808ns', -1n << 63n],
  // largest negative round trip value, see https://golang.org/issue/48629
  ['-2562047h47m16.854775808s', -1n << 63n],
  // huge string; issue 15011.
  ['0.100000000000000000000h', 6n * m],
  // This value tests the first overflow check in leadingFraction.
  ['0.830103483285477580700h', 49n * m + 48n * s + 372539827n * ns],
  // the package documentation's examples
  ['300ms', 300n * ms],
  ['-1.5h', -(1n * h + 30n * m)],
  ['2h45m', 2n * h + 45n * m],
  ['1.5h', 1n * h + 30n * m],
  ['10h', 10n * h],
  ['1h10m10s', 1n * h + 10n * m + 10n * s],
  ['1µs', 1n * us],
  ['1us', 1n * us],
];

const GO_INVALID: Array<[string, RegExp]> = [
  ['', /invalid duration ""/],
  ['3', /missing unit/],
  ['-', /invalid duration/],
  ['s', /invalid duration/],
  ['.', /invalid duration/],
  ['-.', /invalid duration/],
  ['.s', /invalid duration/],
  ['+.s', /invalid duration/],
  ['1d', /unknown unit "d"/],
  ['\x85\x85', /invalid duration/],
  ['\xffff', /invalid duration/],
  ['hello \xffff world', /invalid duration/],
  ['\uFFFD', /invalid duration/],
  ['\uFFFD hello \uFFFD world', /invalid duration/],
  // overflow
  ['9223372036854775810ns', /invalid duration/],
  ['9223372036854775808ns', /invalid duration/],
  ['-9223372036854775809ns', /invalid duration/],
  ['9223372036854775.808us', /invalid duration/],
  ['9223372036854ms775us808ns', /invalid duration/],
  ['1.5', /missing unit/],
  ['1h 30m', /unknown unit "h "/],
];

test('parseDuration matches Go on its test table and documented examples', () => {
  for (const [input, want] of GO_VALID) assert.equal(parseDuration(input), want, input);
});

test('parseDuration rejects what Go rejects, with Go-style messages', () => {
  for (const [input, message] of GO_INVALID) assert.throws(() => parseDuration(input), message, JSON.stringify(input));
});

test('formatDuration is Go Duration.String()', () => {
  assert.equal(formatDuration(0n), '0s');
  assert.equal(formatDuration(1n), '1ns');
  assert.equal(formatDuration(1100n), '1.1µs');
  assert.equal(formatDuration(2_200_000n), '2.2ms');
  assert.equal(formatDuration(3n * h + 30n * m), '3h30m0s');
  assert.equal(formatDuration(-(1n * h + 30n * m)), '-1h30m0s');
  assert.equal(formatDuration(4n * m + 10n * s + 500n * ms), '4m10.5s');
  assert.equal(formatDuration((1n << 63n) - 1n), '2562047h47m16.854775807s');
});

test('parse(format(d)) == d for any int64 duration (Go String() round-trips)', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(1n << 63n) + 1n, max: (1n << 63n) - 1n }), (d) => {
      assert.equal(parseDuration(formatDuration(d)), d);
    }),
  );
});
