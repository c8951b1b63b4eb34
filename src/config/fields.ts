// Typed readers over parsed YAML that name the file, the field path and what was
// expected when a value is wrong, so every config error reads the same way.
import { WeftError } from '../errors.js';
import { DurationSyntaxError, formatDuration, parseDuration } from './duration.js';

const MAX_TIMER_NS = 2_147_483_647n * 1_000_000n;

/** Where a value came from: the file and the field path inside it. */
export class FieldPath {
  constructor(
    readonly file: string,
    readonly path: string,
  ) {}
  key(name: string): FieldPath {
    return new FieldPath(this.file, this.path ? `${this.path}.${name}` : name);
  }
  index(i: number): FieldPath {
    return new FieldPath(this.file, `${this.path}[${i}]`);
  }
  /** A WEFT-A001 error naming file, field and expectation. */
  error(expected: string, got: unknown): WeftError {
    const shown = describe(got);
    return new WeftError('WEFT-A001', `${this.file}: ${this.path || '(document)'}: expected ${expected}, got ${shown}`, {
      file: this.file,
      field: this.path,
      expected,
      got: shown,
    });
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (field missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  const text = JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export type Mapping = Record<string, unknown>;

export function isMapping(v: unknown): v is Mapping {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value as a mapping, rejecting keys not in `allowed` (typos are errors, not ignored). */
export function mapping(v: unknown, at: FieldPath, allowed: readonly string[]): Mapping {
  if (!isMapping(v)) throw at.error('a mapping', v);
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw at.key(k).error(`one of the fields ${allowed.join(', ')}`, `unknown field ${JSON.stringify(k)}`);
  }
  return v;
}

export function optionalMapping(v: unknown, at: FieldPath, allowed: readonly string[]): Mapping {
  return v === undefined || v === null ? {} : mapping(v, at, allowed);
}

export function string(v: unknown, at: FieldPath, fallback?: string): string {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string' || v === '') throw at.error('a non-empty string', v);
  return v;
}

export function integer(v: unknown, at: FieldPath, min: number, max: number, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw at.error(`an integer from ${min} to ${max}`, v);
  return v;
}

export function boolean(v: unknown, at: FieldPath, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw at.error('true or false', v);
  return v;
}

export function list(v: unknown, at: FieldPath, fallbackEmpty = true): unknown[] {
  if ((v === undefined || v === null) && fallbackEmpty) return [];
  if (!Array.isArray(v)) throw at.error('a list', v);
  return v;
}

/** A Go duration string (or the number 0); `allowZero` is false where zero is meaningless. */
export function duration(v: unknown, at: FieldPath, fallback: bigint | undefined, opts: { allowZero: boolean }): bigint {
  if (v === undefined && fallback !== undefined) return fallback;
  const expected = `a Go duration such as "300ms", "1.5h" or "2h45m"${opts.allowZero ? ' (0 disables)' : ''}, not negative`;
  if (v === 0) v = '0';
  if (typeof v !== 'string') throw at.error(expected, v);
  let ns: bigint;
  try {
    ns = parseDuration(v);
  } catch (e) {
    if (e instanceof DurationSyntaxError) throw at.error(`${expected} (${e.message})`, v);
    throw e;
  }
  if (ns < 0n) throw at.error(expected, v);
  if (ns === 0n && !opts.allowZero) throw at.error(`${expected}, greater than 0`, v);
  // Every duration here becomes a Node timer, which cannot exceed 2^31-1 ms.
  if (ns > MAX_TIMER_NS) throw at.error(`${expected}, at most ${formatDuration(MAX_TIMER_NS)} (the longest timer Node can set)`, v);
  return ns;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function dnsLabel(v: unknown, at: FieldPath, fallback?: string): string {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string' || !DNS_LABEL.test(v)) {
    throw at.error('a DNS label: 1-63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit', v);
  }
  return v;
}

export function isDnsLabel(v: string): boolean {
  return DNS_LABEL.test(v);
}
