// Structured JSON logs, one object per line: time, level, msg, and fields;
// errors go in `error` as WeftError.toJSON() (code, severity, cause, remediation).
import { WeftError } from '../errors.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogSink {
  write(line: string): unknown;
}

export class Logger {
  readonly #min: number;
  constructor(
    readonly sink: LogSink = process.stdout,
    level: LogLevel = (process.env.WEFT_LOG_LEVEL as LogLevel | undefined) ?? 'info',
  ) {
    this.#min = RANK[level] ?? RANK.info;
  }

  log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (RANK[level] < this.#min) return;
    const line: Record<string, unknown> = { time: new Date().toISOString(), level, msg, ...fields };
    const err = fields.error;
    if (err instanceof WeftError) line.error = err.toJSON();
    else if (err instanceof Error) line.error = { message: err.message, name: err.name };
    this.sink.write(JSON.stringify(line, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
  }
  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.log('error', msg, fields);
  }
}
