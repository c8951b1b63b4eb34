// The human and machine faces of the error registry: `weft explain CODE` text,
// and one-JSON-line structured error logs (with secrets redacted).
import { ERRORS, WeftError, type ErrorSpec, type Severity } from './errors.js';

const CODE_FORMAT = /^WEFT-[A-Z]\d{3}$/;

/** Accepts "WEFT-K001", "weft-k001" or "K001". */
export function normalizeCode(input: string): string {
  const s = input.trim().toUpperCase();
  return /^[A-Z]\d{3}$/.test(s) ? `WEFT-${s}` : s;
}

export function lookupCode(input: string): (ErrorSpec & { code: string }) | undefined {
  const code = normalizeCode(input);
  const spec = (ERRORS as Record<string, ErrorSpec>)[code];
  return spec ? { code, ...spec } : undefined;
}

/** Registry codes sharing the prefix letter, or all codes: suggestions for an unknown code. */
function nearCodes(code: string): string[] {
  const all = Object.keys(ERRORS);
  const m = /^WEFT-([A-Z])/.exec(code);
  const same = m ? all.filter((c) => c.startsWith(`WEFT-${m[1]}`)) : [];
  return same.length ? same : all;
}

/** The text `weft explain CODE` prints. */
export function explainText(input: string): string {
  const spec = lookupCode(input);
  if (!spec) {
    const code = normalizeCode(input);
    const hint = CODE_FORMAT.test(code) ? `Known codes near it: ${nearCodes(code).join(', ')}.` : 'Codes look like WEFT-K001.';
    return `${JSON.stringify(input)} is not a weft error code. ${hint}\nEvery code is listed in docs/errors.md.\n`;
  }
  return [
    `${spec.code} — ${spec.title}`,
    `Severity: ${spec.severity}`,
    '',
    'Probable cause:',
    `  ${spec.cause}`,
    '',
    'Remediation:',
    `  ${spec.remediation}`,
    '',
    `See docs/errors.md#${spec.code.toLowerCase()}`,
    '',
  ].join('\n');
}

/** `weft explain CODE...`: prints each explanation; exit 0 if every code is known, 1 if not, 2 on usage. */
export function runExplainCommand(argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(s)): number {
  if (argv.length === 0 || argv.includes('-h') || argv.includes('--help')) {
    out('usage: weft explain CODE [CODE...]   (e.g. weft explain WEFT-K001)\n');
    return 2;
  }
  let status = 0;
  argv.forEach((code, i) => {
    if (i > 0) out('\n');
    out(explainText(code));
    if (!lookupCode(code)) status = 1;
  });
  return status;
}

// Key names whose values never reach a log line.
const SECRET_KEY = /secret|psk|token|key|password|passwd|credential/i;
export const REDACTED = '[redacted]';

/** A copy of `value` with secret-named keys redacted, cycles cut and non-JSON values made printable. */
export function redact(value: unknown, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'function' || typeof value === 'symbol') return String(value);
    return value;
  }
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
  if (Array.isArray(value)) return value.map((v) => redact(v, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? REDACTED : redact(v, seen);
  return out;
}

export interface ErrorLogLine {
  time: string;
  code?: string;
  severity: Severity;
  message: string;
  cause?: string;
  remediation?: string;
  details?: unknown;
  context?: unknown;
}

/** The JSON log record for an error (a WeftError carries its registry entry; anything else logs as severity error without a code). */
export function errorLogRecord(err: unknown, context?: Record<string, unknown>, now: Date = new Date()): ErrorLogLine {
  const line: ErrorLogLine = { time: now.toISOString(), severity: 'error', message: String(err) };
  if (err instanceof WeftError) {
    line.code = err.code;
    line.severity = err.severity;
    line.message = err.message;
    line.cause = err.cause_;
    line.remediation = err.remediation;
    if (Object.keys(err.details).length) line.details = redact(err.details);
  } else if (err instanceof Error) {
    line.message = err.message;
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') line.details = { name: err.name, code };
    else line.details = { name: err.name };
  }
  if (context && Object.keys(context).length) line.context = redact(context);
  return line;
}

/** Writes one JSON line describing `err` to stderr (or `write`). */
export function logError(err: unknown, context?: Record<string, unknown>, write: (line: string) => void = (s) => process.stderr.write(s)): void {
  write(`${JSON.stringify(errorLogRecord(err, context))}\n`);
}
