// Relaying (docs/protocol.md §8): when agent A cannot reach C directly but both
// reach B, A opens a stream on its A–B session whose OPEN names the reserved
// relay service for C's static key; B opens the same on its B–C session and
// splices the two; C sees a relay OPEN naming its own key and runs the tunnel
// handshake as responder *inside* that stream. A and C then hold a nested
// session: B only ever forwards sealed records it has no key for.
//
// The relay service ID is `<first 32 hex>.<last 32 hex>.weft-relay` (C's public
// key in hex, split in two DNS labels so it is a valid service ID).
import type { Duplex } from 'node:stream';
import { parsePublicKey, formatPublicKey } from './identity.js';

export const RELAY_NAMESPACE = 'weft-relay';
/** The source meshlet a relay hop announces (`<meshlet>.<ns>`). */
export const RELAY_SOURCE = 'hop.weft-relay';

/** The relay service ID naming the agent whose static public key is `key` (bytes or base64/hex). */
export function relayServiceId(key: Uint8Array | string): string {
  const bytes = typeof key === 'string' ? parsePublicKey(key) : key;
  if (!bytes || bytes.length !== 32) throw new RangeError('relayServiceId needs a 32-byte public key');
  const hex = formatPublicKey(bytes, 'hex');
  return `${hex.slice(0, 32)}.${hex.slice(32)}.${RELAY_NAMESPACE}`;
}

/** True for a service ID in the reserved relay namespace. */
export function isRelayService(serviceId: string): boolean {
  return serviceId.endsWith(`.${RELAY_NAMESPACE}`);
}

/** The target key (base64) a relay service ID names, or null if it is not one. */
export function relayTarget(serviceId: string): string | null {
  const m = /^([0-9a-f]{32})\.([0-9a-f]{32})\.weft-relay$/.exec(serviceId);
  if (!m) return null;
  return formatPublicKey(Buffer.from(m[1]! + m[2]!, 'hex'));
}

/**
 * Splices two streams (both directions, backpressure, each FIN passed on); if
 * either side is destroyed or errors before finishing both ways, the other is
 * destroyed too, so an abort travels on as an abort. `onDone` runs once both
 * are closed.
 */
export function spliceStreams(a: Duplex, b: Duplex, onDone: (aborted: boolean) => void): void {
  let open = 2;
  let aborted = false;
  const pipe = (from: Duplex, to: Duplex) => {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => from.resume());
    from.on('end', () => to.end());
    from.on('error', () => {});
    from.on('close', () => {
      if (!(from.readableEnded && from.writableFinished) && !to.destroyed) {
        aborted = true;
        to.destroy();
      }
      if (--open === 0) onDone(aborted);
    });
  };
  pipe(a, b);
  pipe(b, a);
}
