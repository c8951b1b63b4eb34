// Replace a file so that a reader (or a restart after a crash) sees the old
// content or the new, never a mix: write a temporary file in the same
// directory, fsync it, rename it over the target, fsync the directory.
import { open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let counter = 0;

export function tempPrefix(target: string): string {
  return `.${basename(target)}.tmp-`;
}

export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(target);
  const tmp = join(dir, `${tempPrefix(target)}${process.pid}-${++counter}`);
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  // The rename is durable only once the directory entry is.
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** Removes temporary files a crashed writer left next to `target`. */
export async function removeStaleTemps(target: string): Promise<number> {
  const prefix = tempPrefix(target);
  const stale = (await readdir(dirname(target))).filter((f) => f.startsWith(prefix));
  await Promise.all(stale.map((f) => rm(join(dirname(target), f), { force: true })));
  return stale.length;
}
