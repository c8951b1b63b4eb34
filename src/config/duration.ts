// Go's time.ParseDuration, exactly: "[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+" with units
// ns, us, µs (U+00B5), μs (U+03BC), ms, s, m, h; "0" alone needs no unit; values
// are int64 nanoseconds and overflow is an error. Fractions are computed the way
// Go does (float64 of the fraction times the unit), so results match Go's to the
// nanosecond. Durations are bigint nanoseconds; durationMs() converts for timers.

const UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n],
  ['\u03bcs', 1_000n],
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

const MAX_ABS = 1n << 63n; // |min int64|; max int64 is MAX_ABS - 1

export class DurationSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DurationSyntaxError';
  }
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** Parses a Go duration string into nanoseconds; throws DurationSyntaxError with Go's message. */
export function parseDuration(input: string): bigint {
  const quoted = JSON.stringify(input);
  const invalid = () => new DurationSyntaxError(`time: invalid duration ${quoted}`);
  let s = input;
  let neg = false;
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') throw invalid();
  let d = 0n;
  while (s !== '') {
    if (!(s[0] === '.' || isDigit(s[0]))) throw invalid();
    // Integer part.
    let i = 0;
    let v = 0n;
    while (isDigit(s[i])) {
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > MAX_ABS) throw invalid();
      i++;
    }
    const pre = i > 0;
    s = s.slice(i);
    // Fraction: keeps precision while it fits in int64, like Go's leadingFraction.
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s[0] === '.') {
      s = s.slice(1);
      let j = 0;
      let overflow = false;
      while (isDigit(s[j])) {
        if (!overflow) {
          const y = f * 10n + BigInt(s.charCodeAt(j) - 48);
          if (f > (MAX_ABS - 1n) / 10n || y > MAX_ABS) overflow = true;
          else {
            f = y;
            scale *= 10;
          }
        }
        j++;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) throw invalid();
    // Unit: everything up to the next digit or period.
    let k = 0;
    while (k < s.length && s[k] !== '.' && !isDigit(s[k])) k++;
    if (k === 0) throw new DurationSyntaxError(`time: missing unit in duration ${quoted}`);
    const u = s.slice(0, k);
    s = s.slice(k);
    const unit = UNITS.get(u);
    if (unit === undefined) throw new DurationSyntaxError(`time: unknown unit ${JSON.stringify(u)} in duration ${quoted}`);
    if (v > MAX_ABS / unit) throw invalid();
    v *= unit;
    if (f > 0n) {
      // float64 is nanosecond-accurate for fractions of the largest unit (Go's comment).
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > MAX_ABS) throw invalid();
    }
    d += v;
    if (d > MAX_ABS) throw invalid();
  }
  if (neg) return -d;
  if (d > MAX_ABS - 1n) throw invalid();
  return d;
}

/** Nanoseconds to whole milliseconds for timers (rounded up so 1ns never becomes 0). */
export function durationMs(ns: bigint): number {
  return Number((ns + 999_999n) / 1_000_000n);
}

/** Go's Duration.String(): "1h2m3.5s", "1.5ms", "0s". */
export function formatDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  const sign = neg ? '-' : '';
  const frac = (value: bigint, digits: number): string => {
    const p = 10n ** BigInt(digits);
    const whole = value / p;
    const rest = (value % p).toString().padStart(digits, '0').replace(/0+$/, '');
    return rest ? `${whole}.${rest}` : `${whole}`;
  };
  if (u < 1_000_000_000n) {
    if (u < 1_000n) return `${sign}${u}ns`;
    if (u < 1_000_000n) return `${sign}${frac(u, 3)}µs`;
    return `${sign}${frac(u, 6)}ms`;
  }
  const h = u / 3_600_000_000_000n;
  u %= 3_600_000_000_000n;
  const m = u / 60_000_000_000n;
  u %= 60_000_000_000n;
  const secs = `${frac(u, 9)}s`;
  if (h > 0n) return `${sign}${h}h${m}m${secs}`;
  if (m > 0n) return `${sign}${m}m${secs}`;
  return `${sign}${secs}`;
}
