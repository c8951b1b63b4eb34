// Peer addresses as discovery hands them to gossip: "host:port", where host is a
// DNS name, a dotted-quad IPv4 address or an IPv6 address in brackets. Parsing
// never throws; it returns the reason, so providers can report bad entries and
// keep the good ones.

import { isIPv4, isIPv6 } from 'node:net';
import type { Address } from '../gossip/types.js';

export type AddressParseResult = { ok: true; address: Address; host: string; port: number } | { ok: false; reason: string };

/** Longest text accepted as one address: a 253-byte DNS name plus ":65535". */
export const MAX_ADDRESS_LENGTH = 260;

const DNS_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;

/** True for a DNS host name (letters, digits, hyphens, underscores; labels of 1..63, total ≤ 253). */
export function isHostName(host: string): boolean {
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  // A name made only of digits and dots would be a mistyped IPv4 address, not a host.
  if (labels.every((l) => /^\d+$/.test(l))) return false;
  return labels.every((l) => DNS_LABEL.test(l));
}

/** Parses a decimal port 1..65535 (no sign, no leading zeros beyond "0" itself). */
export function parsePort(text: string): number | undefined {
  if (!/^[1-9]\d{0,4}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/** Canonical text of an IPv6 address (RFC 5952 compressed form, lower case). */
function canonicalIPv6(ip: string): string {
  // The WHATWG URL parser serializes IPv6 hosts in the RFC 5952 form.
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase(); // e.g. a zone index, which URLs do not allow
  }
}

/** Joins a host (bare IPv6 allowed) and a port into the canonical "host:port" form. */
export function formatAddress(host: string, port: number): Address {
  if (isIPv6(host)) return `[${canonicalIPv6(host)}]:${port}`;
  const h = host.endsWith('.') ? host.slice(0, -1) : host;
  return `${h.toLowerCase()}:${port}`;
}

/**
 * Parses and canonicalizes "host:port": trailing dot of a DNS name dropped, names
 * lower-cased, IPv6 compressed, so the same peer written two ways de-duplicates.
 */
export function parseAddress(text: string): AddressParseResult {
  if (typeof text !== 'string') return { ok: false, reason: 'not a string' };
  if (text.length === 0) return { ok: false, reason: 'empty' };
  if (text.length > MAX_ADDRESS_LENGTH) return { ok: false, reason: `longer than ${MAX_ADDRESS_LENGTH} characters` };
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return { ok: false, reason: 'IPv6 address without closing bracket' };
    host = text.slice(1, close);
    if (text[close + 1] !== ':') return { ok: false, reason: 'missing port after IPv6 address' };
    portText = text.slice(close + 2);
    if (!isIPv6(host) || host.includes('%')) return { ok: false, reason: `not an IPv6 address: ${host}` };
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return { ok: false, reason: 'missing port' };
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) {
      return { ok: false, reason: isIPv6(host) ? 'IPv6 address must be in brackets' : 'too many colons' };
    }
    if (host.length === 0) return { ok: false, reason: 'missing host' };
    if (!isIPv4(host) && !isHostName(host)) return { ok: false, reason: `not a host name or IPv4 address: ${host}` };
  }
  const port = parsePort(portText);
  if (port === undefined) return { ok: false, reason: `port must be 1..65535: ${portText}` };
  const address = formatAddress(host, port);
  return { ok: true, address, host: address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, ''), port };
}

/** Keeps the first occurrence of each address, in order. */
export function dedupeAddresses(addresses: Iterable<Address>): Address[] {
  return [...new Set(addresses)];
}

/** True when both lists hold the same addresses, in any order. */
export function sameAddressSet(a: readonly Address[], b: readonly Address[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x)) && set.size === new Set(b).size;
}
