// Makes a stale socket file: a Unix socket path that exists but nobody listens on, as a
// crashed process leaves behind. Closing a Node listener unlinks its file, so a hard link
// keeps the inode and is moved back once the listener is gone.

import { linkSync, renameSync, rmSync } from 'node:fs';
import * as net from 'node:net';

export async function makeStaleSocket(path: string): Promise<void> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  linkSync(path, `${path}.keep`);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(path, { force: true });
  renameSync(`${path}.keep`, path);
}
