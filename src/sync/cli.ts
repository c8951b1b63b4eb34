// `weft sync --out DIR`: runs the file sink without an agent. Input is NDJSON on
// stdin (the default: each line a change {kind, event, uid, object} that this
// command stamps, or a full event as weft publishes it), or with --nats the
// events the agents publish on weft.<cluster>.> (with --jetstream, a durable
// consumer of the WEFT_<CLUSTER> stream that resumes where it left off).
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { AckPolicy, DeliverPolicy, connect, type NatsConnection } from 'nats';
import { WeftError } from '../errors.js';
import { logError } from '../errors-explain.js';
import { SUBJECT_TOKEN, SyncEngine, checkChange, eventProblem, type CatalogChange, type SyncEvent } from './events.js';
import { FileSink } from './file-sink.js';
import { streamNameFor } from './nats-sink.js';

export const SYNC_USAGE = `usage: weft sync --out DIR [options]

Writes every catalog event to DIR/events.yaml (rotated) and a deduplicated
DIR/snapshot.json.

Input (default: NDJSON on stdin, one change or event per line):
  --nats URL            subscribe to weft.<cluster>.> on this NATS server instead
  --cluster NAME        cluster name (required with --nats)
  --jetstream           with --nats: durable consumer of stream WEFT_<CLUSTER>
  --durable NAME        durable consumer name (default weft-sync-<host>)
Options:
  --agent NAME          agent name stamped on stdin changes (default: host name)
  --max-log-bytes N     rotate events.yaml at N bytes (default 16777216)
  --keep N              rotated logs kept (default 5)
  --snapshot-debounce MS  snapshot delay after a change (default 1000)
`;

export interface SyncCommandIO {
  stdin?: NodeJS.ReadableStream;
  stderr?: (s: string) => void;
  /** Stops a long-running (--nats) command; SIGINT/SIGTERM do too. */
  signal?: AbortSignal;
}

function tokenFromHost(): string {
  const t = hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64);
  return t || 'weft';
}

function numberOption(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new WeftError('WEFT-S009', `--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

/** Runs `weft sync`; resolves with the exit code (0 ok, 1 runtime error, 2 usage). */
export async function runSyncCommand(argv: readonly string[], io: SyncCommandIO = {}): Promise<number> {
  const err = io.stderr ?? ((s: string) => process.stderr.write(s));
  const log = (e: WeftError, ctx: Record<string, unknown>): void => logError(e, ctx, err);
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        out: { type: 'string' },
        nats: { type: 'string' },
        cluster: { type: 'string' },
        jetstream: { type: 'boolean' },
        durable: { type: 'string' },
        agent: { type: 'string' },
        'max-log-bytes': { type: 'string' },
        keep: { type: 'string' },
        'snapshot-debounce': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    err(`weft sync: ${(e as Error).message}\n${SYNC_USAGE}`);
    return 2;
  }
  if (values.help) {
    err(SYNC_USAGE);
    return 0;
  }
  if (!values.out) {
    err(`weft sync: --out DIR is required\n${SYNC_USAGE}`);
    return 2;
  }
  if (values.nats && !values.cluster) {
    err(`weft sync: --cluster is required with --nats\n${SYNC_USAGE}`);
    return 2;
  }
  if (!values.nats && (values.jetstream || values.cluster || values.durable)) {
    err(`weft sync: --cluster, --jetstream and --durable need --nats\n${SYNC_USAGE}`);
    return 2;
  }

  let sink: FileSink;
  try {
    for (const [flag, v] of [['cluster', values.cluster], ['agent', values.agent], ['durable', values.durable]] as const) {
      if (v !== undefined && !SUBJECT_TOKEN.test(v)) throw new WeftError('WEFT-S009', `--${flag} ${JSON.stringify(v)} must match ${SUBJECT_TOKEN}`);
    }
    sink = await FileSink.open({
      dir: values.out,
      maxLogBytes: numberOption('max-log-bytes', values['max-log-bytes']),
      keepLogs: numberOption('keep', values.keep),
      snapshotDebounceMs: numberOption('snapshot-debounce', values['snapshot-debounce']),
      log,
    });
  } catch (e) {
    logError(e, { command: 'sync', out: values.out }, err);
    return e instanceof WeftError && e.code === 'WEFT-S009' ? 2 : 1;
  }

  try {
    if (values.nats) {
      await fromNats(sink, { url: values.nats, cluster: values.cluster!, jetstream: !!values.jetstream, durable: values.durable ?? `weft-sync-${tokenFromHost()}` }, log, io.signal);
    } else {
      const engine = new SyncEngine({ agent: values.agent ?? tokenFromHost(), sinks: [sink] });
      engine.advanceVersion(sink.maxVersion);
      await fromStdin(engine, sink, io.stdin ?? process.stdin, log);
    }
  } catch (e) {
    logError(e, { command: 'sync', out: values.out }, err);
    await sink.close();
    return 1;
  }
  await sink.close();
  return 0;
}

/** One NDJSON line: a full event goes to the sink as is, a change is stamped by the engine. */
export function ingestLine(line: string, engine: SyncEngine, sink: FileSink): void {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    throw new WeftError('WEFT-S008', `not JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new WeftError('WEFT-S008', 'not a JSON object');
  const v = value as Record<string, unknown>;
  if ('version' in v || 'agent' in v || 'timestamp' in v) {
    const problem = eventProblem(v);
    if (problem) throw new WeftError('WEFT-S008', `not a valid event: ${problem}`);
    sink.write(v as unknown as SyncEvent);
    return;
  }
  const c = v as Partial<CatalogChange>;
  try {
    checkChange(c.kind, c.event, c.uid);
    engine.publish(c.kind, c.event!, c.uid!, c.object);
  } catch (e) {
    throw new WeftError('WEFT-S008', `not a valid change: ${(e as Error).message}`);
  }
}

async function fromStdin(engine: SyncEngine, sink: FileSink, input: NodeJS.ReadableStream, log: (e: WeftError, ctx: Record<string, unknown>) => void): Promise<void> {
  let n = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    n++;
    if (!line.trim()) continue;
    try {
      ingestLine(line, engine, sink);
    } catch (e) {
      log(e as WeftError, { line: n });
    }
  }
}

interface NatsInput {
  url: string;
  cluster: string;
  jetstream: boolean;
  durable: string;
}

async function fromNats(sink: FileSink, opts: NatsInput, log: (e: WeftError, ctx: Record<string, unknown>) => void, signal?: AbortSignal): Promise<void> {
  const nc: NatsConnection = await connect({ servers: opts.url, name: 'weft-sync', reconnect: true, maxReconnectAttempts: -1 });
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  signal?.addEventListener('abort', onSignal, { once: true });
  const decoder = new TextDecoder();
  const take = (subject: string, data: Uint8Array): void => {
    if (subject.endsWith('.sync.gap')) {
      log(new WeftError('WEFT-S001', `an agent reported dropped events: ${decoder.decode(data)}`), { subject });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(decoder.decode(data));
    } catch {
      log(new WeftError('WEFT-S008', 'message is not JSON'), { subject });
      return;
    }
    const problem = eventProblem(value);
    if (problem) log(new WeftError('WEFT-S008', problem), { subject });
    else sink.write(value as SyncEvent);
  };
  try {
    if (opts.jetstream) {
      const stream = streamNameFor(opts.cluster);
      const jsm = await nc.jetstreamManager();
      // A durable consumer: a restarted `weft sync` resumes after the last event it acknowledged.
      // Acks are cumulative (AckPolicy.All) and sent only once the events are on disk, so a crash re-delivers, never loses.
      await jsm.consumers.add(stream, { durable_name: opts.durable, ack_policy: AckPolicy.All, deliver_policy: DeliverPolicy.All });
      const consumer = await nc.jetstream().consumers.get(stream, opts.durable);
      const messages = await consumer.consume();
      stop.signal.addEventListener('abort', () => void messages.close(), { once: true });
      let unacked = 0;
      for await (const m of messages) {
        take(m.subject, m.data);
        if (++unacked >= 256 || m.info.pending === 0) {
          await sink.flush();
          m.ack();
          unacked = 0;
        }
      }
    } else {
      const sub = nc.subscribe(`weft.${opts.cluster}.>`, { callback: (_e, m) => take(m.subject, m.data) });
      if (!stop.signal.aborted) await new Promise<void>((r) => stop.signal.addEventListener('abort', () => r(), { once: true }));
      sub.unsubscribe();
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await nc.drain().catch(() => undefined);
  }
}
