// A fixed list of seed peers from the configuration. Validated when built: a bad
// entry is a configuration mistake, so it fails fast instead of being skipped.

import type { Address } from '../gossip/types.js';
import { WeftError } from '../errors.js';
import { dedupeAddresses, parseAddress } from './address.js';
import type { DiscoveryProvider } from './provider.js';

export class StaticDiscovery implements DiscoveryProvider {
  readonly name: string;
  private readonly addresses: readonly Address[];

  /** Throws WEFT-D001 naming the first bad entry (its index and the reason). */
  constructor(addresses: readonly string[]) {
    if (!Array.isArray(addresses)) throw new WeftError('WEFT-D002', 'static must be an array of "host:port" strings');
    const parsed: Address[] = [];
    addresses.forEach((text, index) => {
      const r = parseAddress(text);
      if (!r.ok) throw new WeftError('WEFT-D001', `static[${index}] ${JSON.stringify(text)}: ${r.reason}`, { index, reason: r.reason });
      parsed.push(r.address);
    });
    this.addresses = dedupeAddresses(parsed);
    this.name = `static(${this.addresses.length})`;
  }

  async discover(signal?: AbortSignal): Promise<Address[]> {
    signal?.throwIfAborted();
    return [...this.addresses];
  }
}
