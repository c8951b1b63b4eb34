// The simulated network: a Transport per process over virtual time. Datagrams
// suffer per-link loss and a latency drawn from a distribution; requests
// (the TCP stand-in) are reliable but slowed by the same latency and cut by
// partitions. A paused process's inbound datagrams wait in a bounded queue (a
// socket buffer) and its requests wait unanswered until it resumes; a killed
// process's address refuses requests and drops datagrams until a new process
// takes it.

import type { Address, Transport } from '../gossip/types.js';
import type { Random } from '../gossip/types.js';
import { Scheduler } from './virtual-clock.js';

export interface NetworkConfig {
  /** Probability that a datagram is lost, on every link without an override. */
  loss: number;
  /** One-way latency = baseMs + an exponential tail with mean jitterMs (capped at 10 × jitterMs). */
  latency: { baseMs: number; jitterMs: number };
  /** Datagrams kept for a paused process (its socket buffer); more are dropped. */
  pausedQueueLimit: number;
  /**
   * Bytes added to every datagram, request and response in the byte counts
   * (not to the payloads): weft seals each with 50 bytes (SEAL_OVERHEAD), so
   * set 50 to count what a real agent sends. Default 0: the protocol's bytes.
   */
  messageOverheadBytes?: number;
}

export const DEFAULT_NETWORK: NetworkConfig = { loss: 0, latency: { baseMs: 1, jitterMs: 1 }, pausedQueueLimit: 256 };

export interface EndpointStats {
  packetsSent: number;
  bytesSent: number;
  packetsDelivered: number;
  bytesDelivered: number;
}

type PacketHandler = (from: Address, data: Uint8Array) => void;
type RequestHandler = (from: Address, data: Uint8Array) => Promise<Uint8Array> | Uint8Array;

class Endpoint {
  packetHandler: PacketHandler | undefined;
  requestHandler: RequestHandler | undefined;
  paused = false;
  closed = false;
  readonly pausedPackets: (() => void)[] = [];
  readonly pausedRequests: (() => void)[] = [];
  constructor(readonly address: Address) {}
}

export class SimNetwork {
  private readonly endpoints = new Map<Address, Endpoint>();
  private readonly linkLoss = new Map<string, number>();
  private groups: Map<Address, number> | undefined;
  private lastGroups: Map<Address, number> | undefined;
  private healedAt = -Infinity;
  /** Per address, across restarts. */
  readonly stats = new Map<Address, EndpointStats>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly random: Random,
    readonly config: NetworkConfig = DEFAULT_NETWORK,
  ) {}

  /** A transport for a (new) process at `address`; a previous process there must be closed. */
  attach(address: Address): Transport {
    const old = this.endpoints.get(address);
    if (old && !old.closed) throw new Error(`address ${address} in use`);
    const ep = new Endpoint(address);
    this.endpoints.set(address, ep);
    if (!this.stats.has(address)) this.stats.set(address, { packetsSent: 0, bytesSent: 0, packetsDelivered: 0, bytesDelivered: 0 });
    return new SimTransport(this, ep);
  }

  /** The process at `address` dies: nothing more is delivered to it. */
  kill(address: Address): void {
    const ep = this.endpoints.get(address);
    if (ep) this.close(ep);
  }

  pause(address: Address): void {
    const ep = this.endpoints.get(address);
    if (ep) ep.paused = true;
  }

  /** Queued datagrams and requests are delivered (after the process's due timers). */
  resume(address: Address): void {
    const ep = this.endpoints.get(address);
    if (!ep || !ep.paused) return;
    ep.paused = false;
    const work = [...ep.pausedPackets, ...ep.pausedRequests];
    ep.pausedPackets.length = 0;
    ep.pausedRequests.length = 0;
    this.scheduler.schedule(0, () => {
      for (const w of work) w();
    }, true);
  }

  isPaused(address: Address): boolean {
    return this.endpoints.get(address)?.paused ?? false;
  }

  setLinkLoss(a: Address, b: Address, loss: number): void {
    this.linkLoss.set(`${a}|${b}`, loss);
  }

  /** Splits the network: addresses in different groups cannot reach each other; unlisted addresses form one more group. */
  partition(groups: Address[][]): void {
    const m = new Map<Address, number>();
    groups.forEach((g, i) => g.forEach((a) => m.set(a, i + 1)));
    this.groups = m;
  }

  heal(): void {
    if (!this.groups) return;
    this.lastGroups = this.groups;
    this.groups = undefined;
    this.healedAt = this.scheduler.now;
  }

  reachable(a: Address, b: Address): boolean {
    return !this.groups || (this.groups.get(a) ?? 0) === (this.groups.get(b) ?? 0);
  }

  /** True if a and b are partitioned now or were within the last `graceMs` of a heal. */
  separatedRecently(a: Address, b: Address, graceMs: number): boolean {
    if (!this.reachable(a, b)) return true;
    if (!this.lastGroups || this.scheduler.now - this.healedAt > graceMs) return false;
    return (this.lastGroups.get(a) ?? 0) !== (this.lastGroups.get(b) ?? 0);
  }

  private latency(): number {
    const { baseMs, jitterMs } = this.config.latency;
    if (jitterMs <= 0) return baseMs;
    const tail = -Math.log(1 - this.random.float()) * jitterMs;
    return baseMs + Math.min(tail, 10 * jitterMs);
  }

  private lost(from: Address, to: Address): boolean {
    const loss = this.linkLoss.size > 0 ? this.linkLoss.get(`${from}|${to}`) ?? this.config.loss : this.config.loss;
    return loss > 0 && this.random.float() < loss;
  }

  private close(ep: Endpoint): void {
    ep.closed = true;
    ep.pausedPackets.length = 0;
    ep.pausedRequests.length = 0;
  }

  sendPacket(src: Endpoint, to: Address, data: Uint8Array): void {
    if (src.closed) return;
    const s = this.stats.get(src.address)!;
    s.packetsSent++;
    s.bytesSent += data.length + (this.config.messageOverheadBytes ?? 0);
    if (!this.reachable(src.address, to) || this.lost(src.address, to)) return;
    this.scheduler.schedule(this.latency(), () => {
      const dst = this.endpoints.get(to);
      if (!dst || dst.closed || !this.reachable(src.address, to)) return;
      const deliver = () => {
        if (dst.closed || !dst.packetHandler) return;
        const d = this.stats.get(to)!;
        d.packetsDelivered++;
        d.bytesDelivered += data.length;
        dst.packetHandler(src.address, data);
      };
      if (dst.paused) {
        if (dst.pausedPackets.length < this.config.pausedQueueLimit) dst.pausedPackets.push(deliver);
      } else deliver();
    });
  }

  request(src: Endpoint, to: Address, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      if (src.closed) return reject(new Error('transport closed'));
      let settled = false;
      const finish = (err: Error | undefined, value?: Uint8Array) => {
        if (settled) return;
        settled = true;
        this.scheduler.cancel(timer);
        if (err) reject(err);
        else resolve(value!);
      };
      const timer = this.scheduler.schedule(timeoutMs, () => finish(new Error(`request to ${to} timed out`)), true);
      const s = this.stats.get(src.address)!;
      s.bytesSent += data.length + (this.config.messageOverheadBytes ?? 0);
      // A partition drops the connection attempt: the requester only sees its timeout.
      if (!this.reachable(src.address, to)) return;
      this.scheduler.schedule(this.latency(), () => {
        const dst = this.endpoints.get(to);
        if (!this.reachable(src.address, to)) return;
        if (!dst || dst.closed || !dst.requestHandler) {
          this.scheduler.schedule(this.latency(), () => finish(new Error(`connection to ${to} refused`)), true);
          return;
        }
        const handle = () => {
          if (dst.closed) return;
          let answer: Promise<Uint8Array> | Uint8Array;
          try {
            answer = dst.requestHandler!(src.address, data);
          } catch (e) {
            this.scheduler.schedule(this.latency(), () => finish(e as Error), true);
            return;
          }
          Promise.resolve(answer).then(
            (a) => {
              if (dst.closed) return;
              this.stats.get(to)!.bytesSent += a.length + (this.config.messageOverheadBytes ?? 0);
              this.scheduler.schedule(this.latency(), () => {
                if (this.reachable(src.address, to) && !src.closed) finish(undefined, a);
              }, true);
            },
            (e: Error) => this.scheduler.schedule(this.latency(), () => finish(e), true),
          );
        };
        if (dst.paused) dst.pausedRequests.push(handle);
        else handle();
      }, true);
    });
  }

  closeEndpoint(ep: Endpoint): void {
    this.close(ep);
  }
}

class SimTransport implements Transport {
  readonly localAddress: Address;

  constructor(
    private readonly net: SimNetwork,
    private readonly ep: Endpoint,
  ) {
    this.localAddress = ep.address;
  }

  sendPacket(to: Address, data: Uint8Array): void {
    this.net.sendPacket(this.ep, to, data);
  }

  onPacket(handler: PacketHandler): void {
    this.ep.packetHandler = handler;
  }

  request(to: Address, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return this.net.request(this.ep, to, data, timeoutMs);
  }

  onRequest(handler: RequestHandler): void {
    this.ep.requestHandler = handler;
  }

  async close(): Promise<void> {
    this.net.closeEndpoint(this.ep);
  }
}
