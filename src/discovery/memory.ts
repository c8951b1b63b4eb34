// An in-memory address list for tests and the simulator: set, add and remove
// addresses, make discovery fail on demand, and watchers see each change.

import type { Address } from '../gossip/types.js';
import { WeftError } from '../errors.js';
import { aborted } from './abort.js';
import { parseAddress, sameAddressSet } from './address.js';
import type { AddressListener, DiscoveryProvider } from './provider.js';

export class MemoryDiscovery implements DiscoveryProvider {
  readonly name: string;
  private current: Address[] = [];
  private failure: Error | undefined;
  private readonly listeners = new Set<AddressListener>();

  constructor(addresses: readonly string[] = [], name = 'memory') {
    this.name = name;
    this.set(addresses);
  }

  /** Replaces the whole list (validated: throws WEFT-D001 on a bad address, leaving the list unchanged). */
  set(addresses: readonly string[]): void {
    const next: Address[] = [];
    for (const a of addresses) {
      const canonical = MemoryDiscovery.check(a);
      if (!next.includes(canonical)) next.push(canonical);
    }
    this.update(next);
  }

  add(address: string): void {
    const canonical = MemoryDiscovery.check(address);
    if (!this.current.includes(canonical)) this.update([...this.current, canonical]);
  }

  remove(address: string): void {
    const r = parseAddress(address);
    const canonical = r.ok ? r.address : address;
    this.update(this.current.filter((a) => a !== canonical));
  }

  /** The list as it stands, without going through discover(). */
  addresses(): Address[] {
    return [...this.current];
  }

  /** Makes every discover() reject with `error` until called again with undefined. */
  fail(error: Error | undefined): void {
    this.failure = error;
  }

  async discover(signal?: AbortSignal): Promise<Address[]> {
    signal?.throwIfAborted();
    if (this.failure) throw this.failure;
    return [...this.current];
  }

  async watch(onChange: AddressListener, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const listener: AddressListener = (list) => onChange(list);
    this.listeners.add(listener);
    onChange([...this.current]);
    await aborted(signal);
    this.listeners.delete(listener);
  }

  private update(next: Address[]): void {
    const changed = !sameAddressSet(this.current, next);
    this.current = next;
    if (!changed) return;
    for (const l of this.listeners) l([...next]);
  }

  private static check(address: string): Address {
    const r = parseAddress(address);
    if (!r.ok) throw new WeftError('WEFT-D001', `${JSON.stringify(address)}: ${r.reason}`, { reason: r.reason });
    return r.address;
  }
}
