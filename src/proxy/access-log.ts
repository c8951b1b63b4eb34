// The JSON access log: one object per request, appended to a buffer and
// written once per event-loop turn (one write for many requests under load).
// Sinks: stdout (with the agent's logs, told apart by "msg":"access"), a file,
// or off.
import { createWriteStream, type WriteStream } from 'node:fs';

export interface AccessRecord {
  time: string;
  msg: 'access';
  protocol: 'http/1.1' | 'http/1.0' | 'h2c' | 'connect';
  method: string;
  authority: string;
  path: string;
  status: number;
  durationMs: number;
  service: string | undefined;
  route: string | undefined;
  endpoint: string | undefined;
  version: string | undefined;
  attempts: number;
  upstreamMs: number | undefined;
  bytesIn: number;
  bytesOut: number;
  requestId: string | undefined;
  traceId: string | undefined;
  spanId: string | undefined;
  client: string | undefined;
  error: string | undefined;
  flags: string | undefined;
}

export interface AccessLogSink {
  write(line: string): unknown;
}

export class AccessLog {
  readonly enabled: boolean;
  #sink: AccessLogSink | undefined;
  #file: WriteStream | undefined;
  #buffer: string[] = [];
  #scheduled = false;

  /** target: 'stdout', 'off', a file path, or a sink (tests). */
  constructor(target: string | AccessLogSink) {
    if (typeof target !== 'string') this.#sink = target;
    else if (target === 'stdout') this.#sink = process.stdout;
    else if (target !== 'off') this.#sink = this.#file = createWriteStream(target, { flags: 'a' });
    this.enabled = this.#sink !== undefined;
  }

  log(r: AccessRecord): void {
    if (!this.#sink) return;
    this.#buffer.push(JSON.stringify(r));
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (!this.#sink || this.#buffer.length === 0) return;
    const text = this.#buffer.join('\n') + '\n';
    this.#buffer = [];
    this.#sink.write(text);
  }

  close(): Promise<void> {
    this.flush();
    const f = this.#file;
    this.#sink = undefined;
    return f ? new Promise((r) => f.end(() => r())) : Promise.resolve();
  }
}
