// Server helper: a meshlet listens on its service socket `server/<service>` and the
// agent connects to it. Handles what every such server needs: a stale socket file left
// by a crashed process (removed) versus a live one (refused), the socket's mode,
// a monotonic id per connection, and graceful shutdown with a deadline.

import { EventEmitter } from 'node:events';
import { chmod, lstat, unlink } from 'node:fs/promises';
import * as net from 'node:net';
import { MeshServerError } from './errors.js';
import { meshletDir, serviceSocketPath } from './paths.js';

export const DEFAULT_SOCKET_MODE = 0o660;
export const DEFAULT_CLOSE_DEADLINE_MS = 10_000;

export interface ConnectionInfo {
  /** 1, 2, 3, ... per server, in accept order. */
  readonly id: number;
  /** Date.now() at accept. */
  readonly acceptedAt: number;
}

export interface MeshServerOptions {
  /** Full path of the socket. Otherwise `<root>/server/<service>`. */
  socketPath?: string;
  /** The meshlet socket directory; default $WEFT_MESHLET_DIR or /meshlet. */
  root?: string;
  /** The service name (a DNS label), used with `root`. */
  service?: string;
  /** File mode set on the socket after listen; default 0o660 (owner and group may connect). */
  mode?: number;
  /** Called for each accepted connection (also emitted as 'connection'). */
  onConnection?: (socket: net.Socket, info: ConnectionInfo) => void;
  /** A server to run instead of a plain net.Server, e.g. an http.Server. */
  server?: net.Server;
}

export interface CloseOptions {
  /** Milliseconds from the call to wait for connections to end before destroying them; Infinity to wait for ever. */
  deadline?: number;
}

export interface CloseResult {
  /** Connections that ended on their own while draining. */
  readonly ended: number;
  /** Connections destroyed at the deadline. */
  readonly destroyed: number;
}

/**
 * Events: 'listening'; 'connection' (socket, info); 'connectionError' (error, socket,
 * info) for errors on an accepted socket, which would otherwise be swallowed; 'draining'
 * when close() starts; 'close' (CloseResult); 'error' for server errors after listen.
 */
export class MeshServer extends EventEmitter {
  readonly socketPath: string;
  readonly mode: number;
  readonly server: net.Server;
  private readonly live = new Set<net.Socket>();
  private readonly ids = new WeakMap<net.Socket, ConnectionInfo>();
  private nextId = 0;
  private closing: Promise<CloseResult> | undefined;
  private drained: (() => void) | undefined;

  constructor(options: MeshServerOptions) {
    super();
    this.socketPath = resolveSocketPath(options);
    this.mode = options.mode ?? DEFAULT_SOCKET_MODE;
    this.server = options.server ?? net.createServer();
    if (options.onConnection) this.on('connection', options.onConnection);
    this.server.on('connection', (socket: net.Socket) => this.track(socket));
  }

  get listening(): boolean {
    return this.server.listening;
  }

  get draining(): boolean {
    return this.closing !== undefined;
  }

  /** Connections currently open. */
  get connections(): number {
    return this.live.size;
  }

  /** The id and accept time of a socket this server accepted. */
  connectionInfo(socket: net.Socket): ConnectionInfo | undefined {
    return this.ids.get(socket);
  }

  /**
   * Removes a stale socket file (nobody listening), refuses a live one or a non-socket
   * (MeshServerError SOCKET_IN_USE / NOT_A_SOCKET), listens, then sets the mode.
   */
  async listen(): Promise<this> {
    await removeStaleSocket(this.socketPath);
    try {
      await new Promise<void>((resolve, reject) => {
        const onListening = () => {
          this.server.off('error', onError);
          resolve();
        };
        const onError = (err: Error) => {
          this.server.off('listening', onListening);
          reject(err);
        };
        this.server.once('listening', onListening).once('error', onError);
        this.server.listen({ path: this.socketPath });
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'SOCKET_IN_USE' : 'LISTEN_FAILED';
      throw new MeshServerError(code, `cannot listen on ${this.socketPath}: ${(err as Error).message}`, this.socketPath, err);
    }
    // chmod after listen: the socket file exists only now. Until then its mode is
    // 0777 & ~umask, which with the usual umask (022) is narrower than 0660.
    try {
      await chmod(this.socketPath, this.mode);
    } catch (err) {
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
      throw new MeshServerError('LISTEN_FAILED', `cannot chmod ${this.socketPath}: ${(err as Error).message}`, this.socketPath, err);
    }
    this.server.on('error', (err) => this.emit('error', err));
    this.emit('listening');
    return this;
  }

  /**
   * Stops accepting, waits for open connections to end for up to `deadline` ms, then
   * destroys the rest. The socket file is removed when the listener closes. Calling it
   * again returns the same promise.
   */
  close(options: CloseOptions = {}): Promise<CloseResult> {
    this.closing ??= this.drain(options.deadline ?? DEFAULT_CLOSE_DEADLINE_MS);
    return this.closing;
  }

  /** Hook for subclasses: called once when draining starts, after the listener stopped. */
  protected onDrainStart(): void {}

  private async drain(deadline: number): Promise<CloseResult> {
    const serverClosed = this.server.listening
      ? new Promise<void>((resolve) => this.server.close(() => resolve()))
      : Promise.resolve();
    this.emit('draining');
    this.onDrainStart();
    // No connection is accepted once the listener closed, so this is everyone to wait for.
    const open = this.live.size;
    let destroyed = 0;
    if (open > 0) {
      const allEnded = new Promise<void>((resolve) => (this.drained = resolve));
      let timer: NodeJS.Timeout | undefined;
      // Infinity waits for ever (setTimeout would treat it as 1 ms).
      const expired = new Promise<'expired'>((resolve) => {
        if (Number.isFinite(deadline)) timer = setTimeout(resolve, Math.max(0, deadline), 'expired');
      });
      const outcome = await Promise.race([allEnded, expired]);
      clearTimeout(timer);
      if (outcome === 'expired') {
        destroyed = this.live.size;
        for (const socket of this.live) socket.destroy();
      }
    }
    await serverClosed;
    const result: CloseResult = { ended: open - destroyed, destroyed };
    this.emit('close', result);
    return result;
  }

  private track(socket: net.Socket): void {
    const info: ConnectionInfo = { id: ++this.nextId, acceptedAt: Date.now() };
    this.ids.set(socket, info);
    this.live.add(socket);
    socket.on('error', (err) => this.emit('connectionError', err, socket, info));
    socket.once('close', () => {
      this.live.delete(socket);
      if (this.live.size === 0) this.drained?.();
    });
    this.emit('connection', socket, info);
  }
}

/** Creates a MeshServer and waits until it listens. */
export async function createMeshServer(options: MeshServerOptions): Promise<MeshServer> {
  return new MeshServer(options).listen();
}

function resolveSocketPath(options: MeshServerOptions): string {
  if (options.socketPath !== undefined) {
    if (options.service !== undefined) throw new TypeError('give either socketPath or service, not both');
    return options.socketPath;
  }
  if (options.service === undefined) throw new TypeError('MeshServer needs socketPath or service');
  return serviceSocketPath(options.service, options.root ?? meshletDir());
}

/**
 * Makes `path` free to listen on: nothing there, or a socket file nobody listens on
 * (removed). A live socket or a file that is not a socket is refused, never removed.
 */
export async function removeStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new MeshServerError('LISTEN_FAILED', `cannot stat ${path}: ${(err as Error).message}`, path, err);
  }
  if (!stat.isSocket()) throw new MeshServerError('NOT_A_SOCKET', `${path} exists and is not a socket`, path);
  const state = await probeSocket(path);
  if (state === 'live') throw new MeshServerError('SOCKET_IN_USE', `a process is listening on ${path}`, path);
  if (state === 'stale') {
    try {
      await unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new MeshServerError('LISTEN_FAILED', `cannot remove stale socket ${path}: ${(err as Error).message}`, path, err);
      }
    }
  }
}

/** 'live' if something accepts (or its backlog is full), 'stale' if refused, 'gone' if removed meanwhile. */
function probeSocket(path: string): Promise<'live' | 'stale' | 'gone'> {
  return new Promise((resolve, reject) => {
    const probe = net.createConnection({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve('live');
    });
    probe.once('error', (err: NodeJS.ErrnoException) => {
      probe.destroy();
      if (err.code === 'ECONNREFUSED') resolve('stale');
      else if (err.code === 'ENOENT') resolve('gone');
      else if (err.code === 'EAGAIN') resolve('live'); // a listener whose backlog is full
      else reject(new MeshServerError('LISTEN_FAILED', `cannot probe ${path}: ${err.message}`, path, err));
    });
  });
}
