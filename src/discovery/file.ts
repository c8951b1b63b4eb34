// Seeds from a file (a ConfigMap mount, a file written by provisioning): read on
// discover(), and followed with fs.watch on its directory so that editors and
// Kubernetes' atomic symlink swaps, which replace the file rather than write it,
// are seen too. Changes are debounced: one re-read per burst of events.

import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Address } from '../gossip/types.js';
import { WeftError } from '../errors.js';
import { aborted } from './abort.js';
import { sameAddressSet } from './address.js';
import { parseAddressFile } from './address-file.js';
import type { AddressListener, DiscoveryErrorListener, DiscoveryProvider, ProviderOptions } from './provider.js';

export interface FileDiscoveryConfig {
  path: string;
  /** Quiet time after the last change event before the file is re-read. Default 100 ms. */
  debounceMs?: number;
  /** Larger files are refused (WEFT-D005). Default 1 MiB. */
  maxBytes?: number;
}

export class FileDiscovery implements DiscoveryProvider {
  readonly name: string;
  private readonly path: string;
  private readonly debounceMs: number;
  private readonly maxBytes: number;
  private readonly onError: DiscoveryErrorListener;

  constructor(config: FileDiscoveryConfig, options: ProviderOptions = {}) {
    if (!config || typeof config.path !== 'string' || config.path.length === 0) {
      throw new WeftError('WEFT-D002', 'file.path must be a non-empty string');
    }
    for (const key of ['debounceMs', 'maxBytes'] as const) {
      const v = config[key];
      if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < (key === 'debounceMs' ? 0 : 1))) {
        throw new WeftError('WEFT-D002', `file.${key} must be a ${key === 'debounceMs' ? 'non-negative' : 'positive'} integer`);
      }
    }
    this.path = resolve(config.path);
    this.debounceMs = config.debounceMs ?? 100;
    this.maxBytes = config.maxBytes ?? 1024 * 1024;
    this.onError = options.onError ?? (() => {});
    this.name = `file:${this.path}`;
  }

  /** Reads and parses the file; bad lines go to onError (WEFT-D006), the good ones are returned. */
  async discover(signal?: AbortSignal): Promise<Address[]> {
    signal?.throwIfAborted();
    const text = await this.read();
    signal?.throwIfAborted();
    const parsed = parseAddressFile(text);
    if (!parsed.ok) throw new WeftError('WEFT-D005', `${this.path}: ${parsed.reason}`, { path: this.path, reason: parsed.reason });
    for (const issue of parsed.issues) {
      const where = issue.index === undefined ? `line ${issue.line}` : `line ${issue.line} (element ${issue.index})`;
      this.onError(
        new WeftError('WEFT-D006', `${this.path} ${where}: ${JSON.stringify(issue.text)}: ${issue.reason}`, { path: this.path, ...issue }),
      );
    }
    return parsed.addresses;
  }

  async watch(onChange: AddressListener, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    let last: Address[] | undefined;
    let timer: NodeJS.Timeout | undefined;
    let reading: Promise<void> = Promise.resolve();
    const reload = (): void => {
      // Serialized: a slow read never overtakes a later one.
      reading = reading.then(async () => {
        if (signal.aborted) return;
        try {
          const list = await this.discover(signal);
          if (!last || !sameAddressSet(last, list)) {
            last = list;
            onChange([...list]);
          }
        } catch (e) {
          // Keep the last good list: a file briefly missing mid-replace must not drop every seed.
          if (!signal.aborted) this.onError(e as WeftError);
        }
      });
    };
    const file = basename(this.path);
    let watcher: FSWatcher;
    try {
      watcher = fsWatch(dirname(this.path), { persistent: false }, (_event, name) => {
        // Some platforms give no name; then any change in the directory counts. Kubernetes
        // ConfigMap mounts swap a "..data" symlink, so those events count too.
        if (name !== null && name !== file && !String(name).startsWith('..')) return;
        clearTimeout(timer);
        timer = setTimeout(reload, this.debounceMs);
      });
    } catch (e) {
      this.onError(new WeftError('WEFT-D005', `${this.path}: cannot watch its directory: ${(e as Error).message}`, { path: this.path }));
      reload();
      await reading;
      await aborted(signal);
      return;
    }
    watcher.on('error', (e) => this.onError(new WeftError('WEFT-D005', `${this.path}: watch failed: ${e.message}`, { path: this.path })));
    reload();
    await aborted(signal);
    clearTimeout(timer);
    watcher.close();
    await reading;
  }

  /** Reads at most maxBytes (+1 to tell "too large"), whatever the file claims its size is. */
  private async read(): Promise<string> {
    let handle;
    try {
      handle = await open(this.path, 'r');
    } catch (e) {
      throw new WeftError('WEFT-D005', `${this.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
        path: this.path,
        errno: (e as NodeJS.ErrnoException).code,
      });
    }
    try {
      const buffer = Buffer.alloc(this.maxBytes + 1);
      let length = 0;
      while (length < buffer.length) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      if (length > this.maxBytes) {
        throw new WeftError('WEFT-D005', `${this.path}: larger than ${this.maxBytes} bytes`, { path: this.path, maxBytes: this.maxBytes });
      }
      return buffer.subarray(0, length).toString('utf8');
    } catch (e) {
      if (e instanceof WeftError) throw e;
      throw new WeftError('WEFT-D005', `${this.path}: ${(e as Error).message}`, { path: this.path });
    } finally {
      await handle.close();
    }
  }
}
