// Several providers as one: the union of their addresses, de-duplicated, first
// occurrence wins the order. One provider failing does not fail the whole; only
// when every provider fails does discover() reject (WEFT-D013).

import type { Address } from '../gossip/types.js';
import { WeftError } from '../errors.js';
import { Backoff, aborted, delay } from './abort.js';
import { dedupeAddresses, sameAddressSet } from './address.js';
import type { AddressListener, DiscoveryErrorListener, DiscoveryProvider, ProviderOptions } from './provider.js';

export interface MergedDiscoveryOptions extends ProviderOptions {
  /** First retry delay for a provider without watch() whose discover() failed during a watch. Default 1000 ms. */
  retryDelayMs?: number;
  /** Cap of that retry delay. Default 30 000 ms. */
  maxRetryDelayMs?: number;
  /**
   * watch() emits its first list once every provider answered, or after this long
   * if at least one did (a failing provider must not hold back the others). Default 1000 ms.
   */
  initialWaitMs?: number;
}

/** Wraps a non-WeftError failure so every reported error is structured. */
function asWeftError(provider: string, error: unknown): WeftError {
  if (error instanceof WeftError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new WeftError('WEFT-D013', `${provider}: ${message}`, { provider });
}

export class MergedDiscovery implements DiscoveryProvider {
  readonly name: string;
  private readonly onError: DiscoveryErrorListener;

  constructor(
    private readonly providers: readonly DiscoveryProvider[],
    private readonly options: MergedDiscoveryOptions = {},
  ) {
    if (providers.length === 0) throw new WeftError('WEFT-D002', 'merged discovery needs at least one provider');
    this.name = `merged(${providers.map((p) => p.name).join(', ')})`;
    this.onError = options.onError ?? (() => {});
  }

  async discover(signal?: AbortSignal): Promise<Address[]> {
    signal?.throwIfAborted();
    const results = await Promise.allSettled(this.providers.map((p) => p.discover(signal)));
    signal?.throwIfAborted();
    const lists: Address[][] = [];
    const errors: WeftError[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') lists.push(r.value);
      else errors.push(asWeftError(this.providers[i]!.name, r.reason));
    });
    if (lists.length === 0) {
      const failures = errors.map((e, i) => ({ provider: this.providers[i]!.name, code: e.code, message: e.message }));
      throw new WeftError('WEFT-D013', failures.map((f) => `${f.provider}: ${f.message}`).join('; '), { failures });
    }
    // Partial success: the failures are worth a log line, not a failed discovery.
    for (const e of errors) this.onError(e);
    return dedupeAddresses(lists.flat());
  }

  async watch(onChange: AddressListener, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    // Latest list per provider; undefined until it first answered.
    const latest: (Address[] | undefined)[] = this.providers.map(() => undefined);
    let emitted: Address[] | undefined;
    let graceOver = false;
    const emit = (): void => {
      const answered = latest.filter((l) => l !== undefined).length;
      // The first list waits for every provider, or for the grace period if one is slow or failing.
      if (emitted === undefined && (answered === 0 || (answered < latest.length && !graceOver))) return;
      const union = dedupeAddresses(latest.flatMap((l) => l ?? []));
      if (emitted && sameAddressSet(emitted, union)) return;
      emitted = union;
      onChange([...union]);
    };
    const follow = async (provider: DiscoveryProvider, i: number): Promise<void> => {
      if (provider.watch) {
        await provider.watch((list) => {
          latest[i] = list;
          emit();
        }, signal);
        return;
      }
      // No watch: one successful discover() is its whole contribution; retry until then.
      const backoff = new Backoff(this.options.retryDelayMs ?? 1000, this.options.maxRetryDelayMs ?? 30_000);
      while (!signal.aborted) {
        try {
          latest[i] = await provider.discover(signal);
          emit();
          return;
        } catch (e) {
          if (signal.aborted) return;
          this.onError(asWeftError(provider.name, e));
          await delay(backoff.next(), signal);
        }
      }
    };
    const grace = delay(this.options.initialWaitMs ?? 1000, signal).then(() => {
      graceOver = true;
      if (!signal.aborted) emit();
    });
    await Promise.all([...this.providers.map((p, i) => follow(p, i)), grace, aborted(signal)]);
  }
}
