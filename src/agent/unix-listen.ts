// Listening on a Unix socket path the way a long-running daemon should: a stale
// socket file (left by a crash, nobody listening) is removed, a live one is an
// error (never steal another process's socket), then mode and owner are applied.
import { chmod, chown, lstat, mkdir, unlink } from 'node:fs/promises';
import { connect, type Server } from 'node:net';
import { WeftError } from '../errors.js';
import { MAX_SOCKET_PATH_BYTES, socketPathFits } from './socket-layout.js';

export interface SocketOwnership {
  readonly uid?: number;
  readonly gid?: number;
}

/** Resolves true if something accepts connections on `path`. */
function someoneListens(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** Makes `path` free to listen on: removes a stale socket file, refuses a live one or a non-socket. */
export async function clearStaleSocket(path: string): Promise<'absent' | 'removed'> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw new WeftError('WEFT-A005', `${path}: ${(e as NodeJS.ErrnoException).code}`, { path });
  }
  if (!st.isSocket()) throw new WeftError('WEFT-A005', `${path} exists and is not a socket; not removing it`, { path });
  if (await someoneListens(path)) throw new WeftError('WEFT-A004', `${path} is in use by another process`, { path });
  await unlink(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
  return 'removed';
}

async function applyOwnership(path: string, own: SocketOwnership): Promise<void> {
  if (own.uid === undefined && own.gid === undefined) return;
  await chown(path, own.uid ?? -1, own.gid ?? -1);
}

/** Creates a directory (and parents) with `mode` and ownership. */
export async function ensureDir(path: string, mode: number, own: SocketOwnership): Promise<void> {
  try {
    await mkdir(path, { recursive: true, mode });
    await chmod(path, mode); // mkdir's mode is filtered by the umask
    await applyOwnership(path, own);
  } catch (e) {
    throw new WeftError('WEFT-A005', `${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { path });
  }
}

/** Listens `server` on `path` after clearing a stale socket; applies mode and ownership. */
export async function listenUnix(server: Server, path: string, mode: number, own: SocketOwnership): Promise<{ staleRemoved: boolean }> {
  if (!socketPathFits(path)) {
    throw new WeftError('WEFT-A005', `${path} is ${Buffer.byteLength(path)} bytes; Unix socket paths hold at most ${MAX_SOCKET_PATH_BYTES}`, { path });
  }
  const cleared = await clearStaleSocket(path);
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      reject(
        e.code === 'EADDRINUSE'
          ? new WeftError('WEFT-A004', `${path} is in use by another process`, { path })
          : new WeftError('WEFT-A005', `${path}: ${e.code ?? e.message}`, { path }),
      );
    };
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve();
    });
  });
  try {
    await chmod(path, mode);
    await applyOwnership(path, own);
  } catch (e) {
    server.close();
    throw new WeftError('WEFT-A005', `${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { path });
  }
  return { staleRemoved: cleared === 'removed' };
}
