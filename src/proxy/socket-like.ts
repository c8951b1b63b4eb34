// node:http's Agent and client call socket methods (setKeepAlive, setNoDelay,
// setTimeout, ref, unref) on the connection they pool. A Unix or TCP socket has
// them; a tunnel stream is any Duplex and may not, so the missing ones become
// no-ops: keep-alive probes and Nagle do not apply to a multiplexed stream, and
// the proxy runs its own timers.
import type { Duplex } from 'node:stream';

const METHODS = ['setKeepAlive', 'setNoDelay', 'setTimeout', 'ref', 'unref'] as const;

export function socketLike<T extends Duplex>(stream: T): T {
  const s = stream as unknown as Record<string, unknown>;
  for (const m of METHODS) {
    if (typeof s[m] !== 'function') {
      s[m] = function (this: unknown) {
        return this;
      };
    }
  }
  return stream;
}
