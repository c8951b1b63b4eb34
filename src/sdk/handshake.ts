// The client side of the client handshake, version 1 (ARCHITECTURE.md "Client
// handshake"): request [1, N, ...id], reply [1, code]. Plain TypeScript on purpose:
// a client sends one short request per connection, no kernel needed.

import { isServiceId } from './service-id.js';

export const HANDSHAKE_VERSION = 1;
export const HANDSHAKE_REPLY_LENGTH = 2;

/** Reply codes by name, exactly as the architecture's table. */
export const ReplyCode = {
  OK: 0,
  UNSUPPORTED_VERSION: 1,
  MALFORMED: 2,
  UNKNOWN_SERVICE: 3,
  FORBIDDEN: 4,
  UNAVAILABLE: 5,
  TUNNEL_FAILED: 6,
  OVERLOADED: 7,
  INTERNAL: 255,
} as const;

export type ReplyCodeName = keyof typeof ReplyCode;

const namesByCode = new Map<number, ReplyCodeName>(
  (Object.entries(ReplyCode) as [ReplyCodeName, number][]).map(([name, code]) => [code, name]),
);

/** The name of a reply code, or undefined for a number the protocol does not define. */
export function replyCodeName(code: number): ReplyCodeName | undefined {
  return namesByCode.get(code);
}

/** Encodes the request for `serviceId`; throws TypeError if it is not a valid service ID. */
export function encodeHandshakeRequest(serviceId: string): Buffer {
  if (!isServiceId(serviceId)) throw new TypeError(`not a service ID: ${JSON.stringify(serviceId)}`);
  const out = Buffer.allocUnsafe(2 + serviceId.length);
  out[0] = HANDSHAKE_VERSION;
  out[1] = serviceId.length;
  out.write(serviceId, 2, 'latin1');
  return out;
}

/** Encodes a reply (used by test responders and tools that speak the agent side). */
export function encodeHandshakeReply(code: number): Buffer {
  return Buffer.from([HANDSHAKE_VERSION, code & 0xff]);
}
