// watch() for sources that cannot push changes (DNS): discover again every
// interval and report the list when it differs. A failed round keeps the last
// good list (a DNS hiccup must not make every peer vanish) and retries sooner.

import type { Address } from '../gossip/types.js';
import { WeftError } from '../errors.js';
import { Backoff, delay } from './abort.js';
import { sameAddressSet } from './address.js';
import type { AddressListener, DiscoveryErrorListener } from './provider.js';

export interface PollOptions {
  intervalMs: number;
  /** First retry delay after a failed round (doubles per failure, capped at intervalMs). */
  retryDelayMs: number;
  onError: DiscoveryErrorListener;
  /** Wraps a non-WeftError failure. */
  wrap: (error: unknown) => WeftError;
}

export async function pollWatch(
  discover: (signal: AbortSignal) => Promise<Address[]>,
  onChange: AddressListener,
  signal: AbortSignal,
  options: PollOptions,
): Promise<void> {
  let last: Address[] | undefined;
  const backoff = new Backoff(options.retryDelayMs, options.intervalMs);
  while (!signal.aborted) {
    let wait = options.intervalMs;
    try {
      const list = await discover(signal);
      backoff.reset();
      if (!last || !sameAddressSet(last, list)) {
        last = list;
        onChange([...list]);
      }
    } catch (e) {
      if (signal.aborted) break;
      options.onError(e instanceof WeftError ? e : options.wrap(e));
      wait = backoff.next();
    }
    await delay(wait, signal);
  }
}
