// A real nats-server for the sync tests (and the bench): started on a free
// port, ready once a client can connect, killable with SIGKILL and restartable
// on the same port and store directory. A missing binary is a failure with a
// clear message, never a silent skip: CI installs the Debian package.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';

const CANDIDATES = [process.env.NATS_SERVER, '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

/** The nats-server binary, or throws with how to install it. */
export function natsServerBinary(): string {
  for (const c of CANDIDATES) if (c && existsSync(c)) return c;
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  throw new Error(
    'nats-server is not installed: the NATS sync tests need a real server. Install it with `apt-get install -y nats-server` ' +
      '(Debian/Ubuntu) or put the binary on PATH / in $NATS_SERVER.',
  );
}

/** A port that was free a moment ago (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface NatsServerOptions {
  jetstream?: boolean;
  /** Give up waiting for readiness after this long (default 10 s). */
  readyTimeoutMs?: number;
}

export class NatsServer {
  readonly port: number;
  readonly url: string;
  readonly storeDir?: string;
  private proc?: ChildProcess;
  private readonly bin: string;
  private stderr = '';

  private constructor(port: number, private readonly opts: NatsServerOptions) {
    this.bin = natsServerBinary();
    this.port = port;
    this.url = `nats://127.0.0.1:${port}`;
    if (opts.jetstream) this.storeDir = mkdtempSync(join(tmpdir(), 'weft-nats-js-'));
  }

  static async start(opts: NatsServerOptions = {}): Promise<NatsServer> {
    const s = new NatsServer(await freePort(), opts);
    await s.restart();
    return s;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Starts (again) on the same port and store directory; resolves once a client connects. */
  async restart(): Promise<void> {
    if (this.running) throw new Error('nats-server is already running');
    const args = ['-a', '127.0.0.1', '-p', String(this.port)];
    if (this.opts.jetstream) args.push('-js', '-sd', this.storeDir!);
    this.stderr = '';
    const proc = spawn(this.bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.proc = proc;
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 10_000);
    for (let attempt = 0; ; attempt++) {
      if (!this.running) throw new Error(`nats-server exited during startup (${proc.exitCode ?? proc.signalCode}): ${this.stderr}`);
      try {
        const nc = await connect({ servers: this.url, reconnect: false, timeout: 1000 });
        if (this.opts.jetstream) await (await nc.jetstreamManager()).getAccountInfo();
        await nc.close();
        return;
      } catch (err) {
        if (Date.now() > deadline) {
          await this.kill();
          throw new Error(`nats-server on port ${this.port} not ready after ${this.opts.readyTimeoutMs ?? 10_000} ms: ${(err as Error).message}; ${this.stderr}`);
        }
        await new Promise((r) => setTimeout(r, Math.min(20 * 2 ** attempt, 200)));
      }
    }
  }

  /** SIGKILL, no goodbye; resolves once the process is gone. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    if (this.storeDir) rmSync(this.storeDir, { recursive: true, force: true });
  }
}
