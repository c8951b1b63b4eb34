// Seeds from DNS: A/AAAA records joined with a configured port, or SRV records
// (target:port, RFC 2782) ordered by priority then weight. Uses its own
// node:dns/promises Resolver so the server, per-try timeout and number of tries
// are ours, and a hard deadline bounds every query whatever c-ares does.

import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Address } from '../gossip/types.js';
import { WeftError } from '../errors.js';
import { dedupeAddresses, formatAddress, parseAddress, parsePort } from './address.js';
import { pollWatch } from './poll.js';
import type { AddressListener, DiscoveryErrorListener, DiscoveryProvider, ProviderOptions } from './provider.js';

export type DnsRecordType = 'A' | 'AAAA' | 'SRV';

export interface DnsDiscoveryConfig {
  /** The name to query, e.g. "weft.mesh.svc.cluster.local" or "_gossip._udp.weft.example". */
  name: string;
  type: DnsRecordType;
  /** Gossip port joined to each A/AAAA address. Required for A and AAAA, not allowed for SRV (the record has it). */
  port?: number;
  /** DNS server "ip:port" or "ip" (port 53), IPv6 in brackets when a port is given. Default: the system resolvers. */
  server?: string;
  /** Time c-ares waits for one answer before retrying. Default 2000 ms. */
  timeoutMs?: number;
  /** Attempts per query. Default 2. A query is abandoned after timeoutMs × tries at the latest. */
  tries?: number;
  /** Addresses kept from one answer (the rest are dropped with a warning). Default 256. */
  maxAddresses?: number;
  /** watch(): time between lookups. Default 30 000 ms. */
  refreshIntervalMs?: number;
  /** watch(): first retry delay after a failed lookup. Default 1000 ms. */
  retryDelayMs?: number;
}

/** Error codes of node:dns that mean "no such name or no such record", not a failure to ask. */
const NO_RECORDS = new Set(['ENOTFOUND', 'ENODATA']);

function positiveInt(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new WeftError('WEFT-D002', `dns.${what} must be a positive integer`, { [what]: value });
  }
  return value;
}

/** Accepts "ip", "ip:port" or "[ipv6]:port" and returns the form Resolver.setServers takes. */
function parseServer(server: string): string {
  if (isIP(server)) return server;
  const r = parseAddress(server);
  if (!r.ok || !isIP(r.host)) throw new WeftError('WEFT-D002', `dns.server must be an IP address with an optional port: ${server}`);
  return r.address;
}

export class DnsDiscovery implements DiscoveryProvider {
  readonly name: string;
  private readonly config: Required<Omit<DnsDiscoveryConfig, 'port' | 'server'>> & { port?: number; server?: string };
  private readonly onError: DiscoveryErrorListener;

  constructor(config: DnsDiscoveryConfig, options: ProviderOptions = {}) {
    if (!config || typeof config.name !== 'string' || config.name.length === 0 || config.name.length > 253) {
      throw new WeftError('WEFT-D002', 'dns.name must be a non-empty DNS name');
    }
    if (config.type !== 'A' && config.type !== 'AAAA' && config.type !== 'SRV') {
      throw new WeftError('WEFT-D002', `dns.type must be A, AAAA or SRV, not ${String(config.type)}`);
    }
    if (config.type === 'SRV' && config.port !== undefined) {
      throw new WeftError('WEFT-D002', 'dns.port is not allowed with SRV: the records carry the port');
    }
    if (config.type !== 'SRV' && (config.port === undefined || parsePort(String(config.port)) !== config.port)) {
      throw new WeftError('WEFT-D002', `dns.port (1..65535) is required for ${config.type} records`, { port: config.port });
    }
    this.config = {
      name: config.name,
      type: config.type,
      port: config.port,
      server: config.server === undefined ? undefined : parseServer(config.server),
      timeoutMs: positiveInt(config.timeoutMs, 'timeoutMs', 2000),
      tries: positiveInt(config.tries, 'tries', 2),
      maxAddresses: positiveInt(config.maxAddresses, 'maxAddresses', 256),
      refreshIntervalMs: positiveInt(config.refreshIntervalMs, 'refreshIntervalMs', 30_000),
      retryDelayMs: positiveInt(config.retryDelayMs, 'retryDelayMs', 1000),
    };
    this.onError = options.onError ?? (() => {});
    this.name = `dns:${config.type} ${config.name}${this.config.server ? ` @${this.config.server}` : ''}`;
  }

  async discover(signal?: AbortSignal): Promise<Address[]> {
    signal?.throwIfAborted();
    const { type, name, port, timeoutMs, tries } = this.config;
    const resolver = new Resolver({ timeout: timeoutMs, tries });
    if (this.config.server) resolver.setServers([this.config.server]);
    const deadlineMs = timeoutMs * tries;
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      resolver.cancel();
    }, deadlineMs);
    const onAbort = (): void => resolver.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let hostPorts: { host: string; port: number }[];
      if (type === 'SRV') {
        const records = await resolver.resolveSrv(name);
        // RFC 2782: lower priority first; among equals, heavier weight first. Sorted, not
        // randomized, so every agent tries the same seeds first.
        records.sort((a, b) => a.priority - b.priority || b.weight - a.weight || a.name.localeCompare(b.name));
        // A target of "." means "the service is decidedly not available at this domain".
        hostPorts = records.filter((r) => r.name !== '' && r.name !== '.').map((r) => ({ host: r.name, port: r.port }));
      } else {
        const ips = type === 'A' ? await resolver.resolve4(name) : await resolver.resolve6(name);
        hostPorts = ips.map((ip) => ({ host: ip, port: port! }));
      }
      return this.collect(hostPorts);
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      throw this.classify(e, timedOut, deadlineMs);
    } finally {
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  watch(onChange: AddressListener, signal: AbortSignal): Promise<void> {
    return pollWatch((s) => this.discover(s), onChange, signal, {
      intervalMs: this.config.refreshIntervalMs,
      retryDelayMs: this.config.retryDelayMs,
      onError: this.onError,
      wrap: (e) => this.classify(e, false, 0),
    });
  }

  /** Validates each host:port; bad ones (an odd SRV target) are reported and skipped. */
  private collect(hostPorts: { host: string; port: number }[]): Address[] {
    const out: Address[] = [];
    for (const { host, port } of hostPorts) {
      const r = port >= 1 && port <= 65535 ? parseAddress(formatAddress(host, port)) : ({ ok: false, reason: `port ${port}` } as const);
      if (!r.ok) {
        this.onError(new WeftError('WEFT-D001', `${this.name}: ${host}:${port}: ${r.reason}`, { host, port, reason: r.reason }));
        continue;
      }
      out.push(r.address);
    }
    const unique = dedupeAddresses(out);
    if (unique.length > this.config.maxAddresses) {
      this.onError(
        new WeftError('WEFT-D003', `${this.name}: ${unique.length} addresses, keeping the first ${this.config.maxAddresses}`, {
          received: unique.length,
          kept: this.config.maxAddresses,
        }),
      );
      return unique.slice(0, this.config.maxAddresses);
    }
    return unique;
  }

  private classify(e: unknown, timedOut: boolean, deadlineMs: number): WeftError {
    if (e instanceof WeftError) return e;
    const code = (e as { code?: unknown })?.code;
    const details = { name: this.config.name, type: this.config.type, server: this.config.server ?? 'system', dnsCode: code };
    if (timedOut || code === 'ETIMEOUT') {
      return new WeftError('WEFT-D003', `${this.name}: no answer within ${deadlineMs || this.config.timeoutMs * this.config.tries} ms`, {
        ...details,
        reason: 'timeout',
      });
    }
    if (typeof code === 'string' && NO_RECORDS.has(code)) {
      return new WeftError('WEFT-D004', `${this.name}: ${code === 'ENOTFOUND' ? 'no such name' : 'no records of that type'}`, details);
    }
    const message = e instanceof Error ? e.message : String(e);
    return new WeftError('WEFT-D003', `${this.name}: ${message}`, details);
  }
}
