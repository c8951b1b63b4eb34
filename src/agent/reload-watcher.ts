// Watches the meshlet files and directories and calls back once per burst of
// changes (debounced: editors write a file in several steps). A file is watched
// through its directory so replacing it (write to temp + rename) is still seen.
import { watch, statSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from './log.js';

export class ReloadWatcher {
  readonly #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(paths: readonly string[], debounceMs: number, onChange: () => void, log: Logger) {
    const fire = () => {
      if (this.#closed) return;
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (!this.#closed) onChange();
      }, debounceMs);
    };
    for (const p of paths) {
      let isDir = false;
      try {
        isDir = statSync(p).isDirectory();
      } catch {
        // a missing path was already reported by the loader
      }
      const dir = isDir ? p : dirname(p);
      const only = isDir ? undefined : basename(p);
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (only === undefined || name === null || name === only) fire();
        });
        w.on('error', (e) => log.warn('meshlet watch failed; use SIGHUP to reload', { path: dir, error: e }));
        this.#watchers.push(w);
      } catch (e) {
        log.warn('meshlet watch failed; use SIGHUP to reload', { path: dir, error: e as Error });
      }
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    for (const w of this.#watchers) w.close();
  }
}
