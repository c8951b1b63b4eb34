// Starts the real agent (`node dist/src/cli.js agent --config <tmp>`) as a child
// process in a temp directory, and waits on events (its JSON log lines on stdout,
// the admin API), never on fixed sleeps.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export type LogLine = Record<string, unknown> & { msg: string; level: string };

export interface AgentProcess {
  readonly dir: string;
  readonly socketRoot: string;
  readonly meshletDir: string;
  readonly configFile: string;
  readonly adminUrl: string;
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  readonly stderr: () => string;
  /** Resolves with the first log line (already seen or future) matching `pred`. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  admin(path: string, method?: string): Promise<{ status: number; body: any; text: string }>;
  clientSocket(namespace: string, meshlet: string, instance?: string): string;
  serverSocket(namespace: string, meshlet: string, service: string, instance?: string): string;
  writeMeshlet(file: string, yaml: string | object | object[]): void;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

export function meshletYaml(docs: object | object[]): string {
  const list = Array.isArray(docs) ? docs : [docs];
  return list.map((d) => stringify(d)).join('---\n');
}

/** A Meshlet object for tests. */
export function meshlet(namespace: string, name: string, spec: Record<string, unknown>): object {
  return { apiVersion: 'weft.dev/v1alpha1', kind: 'Meshlet', metadata: { name, namespace }, spec };
}

export interface StartOptions {
  /** Extra agent config fields merged over the test defaults. */
  config?: Record<string, unknown>;
  /** Meshlet files to write before start: file name → YAML text or objects. */
  meshlets?: Record<string, string | object | object[]>;
  /** Resolve once the process exits instead of waiting for readiness (startup-failure tests). */
  expectFailure?: boolean;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur) ? deepMerge(cur as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

export function makeTempDir(): string {
  return mkdtempSync(join(tmpdir(), 'weft-'));
}

export async function startAgent(options: StartOptions = {}, dir = makeTempDir()): Promise<AgentProcess> {
  const socketRoot = join(dir, 's');
  const meshletDir = join(dir, 'meshlets');
  mkdirSync(meshletDir, { recursive: true });
  const writeMeshlet = (file: string, content: string | object | object[]) =>
    writeFileSync(join(meshletDir, file), typeof content === 'string' ? content : meshletYaml(content));
  for (const [file, content] of Object.entries(options.meshlets ?? {})) writeMeshlet(file, content);
  const config = deepMerge(
    {
      socketRoot,
      admin: { host: '127.0.0.1', port: 0 },
      meshlets: { paths: [meshletDir], debounce: '50ms' },
      timeouts: { handshake: '2s', connect: '1s', drain: '5s' },
    },
    options.config ?? {},
  );
  const configFile = join(dir, 'agent.yaml');
  writeFileSync(configFile, stringify(config));

  const child = spawn(process.execPath, [CLI, 'agent', '--config', configFile], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: LogLine[] = [];
  const waiters: Array<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buffered += d;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as LogLine;
      logs.push(entry);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.pred(entry)) {
          waiters[i]!.resolve(entry);
          waiters.splice(i, 1);
        }
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Logs stay in memory, so the temp directory can go as soon as the agent is gone.
  void exited.then(() => rmSync(dir, { recursive: true, force: true }));

  const waitForLog = (pred: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> => {
    const seen = logs.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching agent log within ${timeoutMs} ms; stderr:\n${stderr}\nlogs:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`)), timeoutMs);
      waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  };

  let adminUrl = '';
  if (options.expectFailure) {
    await exited;
  } else {
    const ready = await Promise.race([
      waitForLog((l) => l.msg === 'agent ready', 15_000),
      exited.then((code) => {
        throw new Error(`agent exited with ${code} before ready:\n${stderr}\n${logs.map((l) => JSON.stringify(l)).join('\n')}`);
      }),
    ]);
    adminUrl = String(ready.admin);
  }

  return {
    dir,
    socketRoot,
    meshletDir,
    configFile,
    adminUrl,
    child,
    logs,
    stderr: () => stderr,
    waitForLog,
    async admin(path, method = 'GET') {
      const res = await fetch(adminUrl + path, { method });
      const text = await res.text();
      let body: any = text;
      try {
        body = JSON.parse(text);
      } catch {
        // text (metrics)
      }
      return { status: res.status, body, text };
    },
    clientSocket: (ns, m, instance = 'main') => join(socketRoot, ns, m, instance, 'client', 'meshless'),
    serverSocket: (ns, m, service, instance = 'main') => join(socketRoot, ns, m, instance, 'server', service),
    writeMeshlet,
    stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    exited,
  };
}
