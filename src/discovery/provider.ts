// The common shape of every discovery source: one-shot `discover`, and for
// sources that can tell when their answer changes, `watch`.

import type { Address } from '../gossip/types.js';
import type { WeftError } from '../errors.js';

/** Called with the full current address list each time it changes (the first call is the initial list). */
export type AddressListener = (addresses: Address[]) => void;

/** Non-fatal problems (a bad file line, a failed re-list, an expired watch): logged by the caller, never thrown. */
export type DiscoveryErrorListener = (error: WeftError) => void;

export interface DiscoveryProvider {
  /** Short description for logs, e.g. "dns:SRV _gossip._udp.weft.svc". */
  readonly name: string;
  /**
   * The addresses the source holds now, canonical ("host:port", IPv6 in brackets) and
   * de-duplicated. Rejects with a WeftError (codes WEFT-D…) when the source failed,
   * or with the signal's reason when aborted.
   */
  discover(signal?: AbortSignal): Promise<Address[]>;
  /**
   * Follows the source until `signal` aborts: calls `onChange` with the initial list,
   * then with every different list. Failures go to the provider's `onError` and are
   * retried; they never end the watch. The promise settles once the signal aborted and
   * every file watcher, timer and connection was released.
   */
  watch?(onChange: AddressListener, signal: AbortSignal): Promise<void>;
}

/** Options every provider accepts. */
export interface ProviderOptions {
  /** Receives non-fatal problems. Default: ignore them. */
  onError?: DiscoveryErrorListener;
}
