// Test doubles for the state layer: a manual clock, an in-memory Transport
// (packets queued until `deliver()`, so tests control ordering, loss, capture,
// tampering and replay) and a tiny cluster driver that stands in for
// membership: it piggybacks each member's queued broadcasts on packets to a few
// random peers per round and runs push-pull exchanges over the transport.

import { ByteReader, ByteWriter } from '../../src/gossip/codec.js';
import { GossipMux, type GossipHost, type GossipMuxOptions } from '../../src/gossip/gossiper.js';
import type { Address, Clock, Random, TimerHandle, Transport } from '../../src/gossip/types.js';

export class ManualClock implements Clock {
  private t: number;
  private nextId = 1;
  private timers: { id: number; at: number; fn: () => void }[] = [];

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.push({ id, at: this.t + Math.max(0, ms), fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((x) => x.id !== handle.id);
  }

  /** Move time forward, firing due timers in time order. */
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > target) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = target;
  }
}

/** mulberry32: a small seeded PRNG, so failing runs repeat. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  const float = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { float, int: (n) => Math.floor(float() * n) };
}

export interface Packet {
  from: Address;
  to: Address;
  data: Uint8Array;
}

export class MemoryNetwork {
  private readonly transports = new Map<Address, MemoryTransport>();
  private queue: Packet[] = [];
  /** Every packet handed to the network, in order (for capture and replay). */
  readonly sent: Packet[] = [];
  /** Return null to drop, or the (possibly altered) bytes to deliver. Applies to packets and requests. */
  filter: ((p: Packet) => Uint8Array | null) | undefined;
  bytesSent = 0;

  transport(address: Address): MemoryTransport {
    const t = new MemoryTransport(this, address);
    this.transports.set(address, t);
    return t;
  }

  get(address: Address): MemoryTransport | undefined {
    return this.transports.get(address);
  }

  /** @internal */
  send(p: Packet): void {
    this.sent.push(p);
    this.bytesSent += p.data.length;
    this.queue.push(p);
  }

  /** Put a packet on the wire as if `from` sent it (replay, injection). */
  inject(p: Packet): void {
    this.queue.push(p);
  }

  /** Deliver queued packets, including ones sent while delivering; returns how many. */
  deliver(): number {
    let n = 0;
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      for (const p of batch) {
        const data = this.filter ? this.filter(p) : p.data;
        if (data === null) continue;
        const target = this.transports.get(p.to);
        if (!target || target.closed) continue;
        target.receive(p.from, data);
        n++;
      }
    }
    return n;
  }
}

export class MemoryTransport implements Transport {
  private packetHandler: ((from: Address, data: Uint8Array) => void) | undefined;
  private requestHandler: ((from: Address, data: Uint8Array) => Promise<Uint8Array> | Uint8Array) | undefined;
  closed = false;

  constructor(
    private readonly network: MemoryNetwork,
    readonly localAddress: Address,
  ) {}

  sendPacket(to: Address, data: Uint8Array): void {
    if (this.closed) return;
    this.network.send({ from: this.localAddress, to, data: data.slice() });
  }

  onPacket(handler: (from: Address, data: Uint8Array) => void): void {
    this.packetHandler = handler;
  }

  async request(to: Address, data: Uint8Array, _timeoutMs: number): Promise<Uint8Array> {
    const target = this.network.get(to);
    if (!target || target.closed || !target.requestHandler) throw new Error(`no route to ${to}`);
    const filter = this.network.filter;
    this.network.bytesSent += data.length;
    const sent = filter ? filter({ from: this.localAddress, to, data }) : data;
    if (sent === null) throw new Error('request dropped');
    const reply = await target.requestHandler(this.localAddress, sent.slice());
    this.network.bytesSent += reply.length;
    const back = filter ? filter({ from: to, to: this.localAddress, data: reply }) : reply;
    if (back === null) throw new Error('response dropped');
    return back.slice();
  }

  onRequest(handler: (from: Address, data: Uint8Array) => Promise<Uint8Array> | Uint8Array): void {
    this.requestHandler = handler;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** @internal */
  receive(from: Address, data: Uint8Array): void {
    this.packetHandler?.(from, data);
  }
}

// ---- a stand-in for membership: enough to drive GossipMux in tests ----

export interface ClusterNode {
  readonly id: string;
  readonly address: Address;
  readonly mux: GossipMux;
  readonly transport: Transport;
  alive: boolean;
}

export interface TestClusterOptions {
  seed?: number;
  /** Peers each member sends a packet to per round. */
  fanout?: number;
  /** Piggyback budget per packet. */
  packetLimit?: number;
  mux?: Omit<GossipMuxOptions, 'host'>;
  /** Wrap each member's transport (e.g. in a SecureTransport). */
  wrap?: (t: Transport, id: string) => Transport;
}

/** Per-message framing inside one packet: a varuint length (≤ 2 bytes for our sizes). */
const MESSAGE_OVERHEAD = 2;

export class TestCluster {
  readonly network = new MemoryNetwork();
  readonly nodes: ClusterNode[] = [];
  private readonly random: Random;
  private readonly fanout: number;
  private readonly packetLimit: number;
  private liveCount = 0;

  constructor(
    ids: string[],
    private readonly options: TestClusterOptions = {},
  ) {
    this.random = seededRandom(options.seed ?? 1);
    this.fanout = options.fanout ?? 3;
    this.packetLimit = options.packetLimit ?? 1400;
    for (const id of ids) this.add(id);
  }

  add(id: string): ClusterNode {
    const address = `${id}:7946`;
    const raw = this.network.transport(address);
    const transport = this.options.wrap ? this.options.wrap(raw, id) : raw;
    const host: GossipHost = {
      localId: id,
      memberCount: () => this.liveCount,
      sendTo: (to, message) => {
        const payload = new ByteWriter(message.length + 4).varuint(1).bytes(message).finish();
        transport.sendPacket(`${to}:7946`, payload);
      },
    };
    const node: ClusterNode = { id, address, transport, alive: true, mux: new GossipMux({ ...this.options.mux, host }) };
    transport.onPacket((from, data) => {
      if (!node.alive) return;
      const r = new ByteReader(data);
      const n = r.count(1);
      const sender = from.slice(0, from.lastIndexOf(':'));
      for (let i = 0; i < n && r.ok; i++) {
        const m = r.bytes();
        if (r.ok) node.mux.onMessage(sender, m);
      }
    });
    transport.onRequest((_from, data) => {
      node.mux.mergeRemoteState(data, false);
      return node.mux.localState(false);
    });
    this.nodes.push(node);
    this.liveCount = this.nodes.filter((n) => n.alive).length;
    return node;
  }

  node(id: string): ClusterNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** One gossip round: every live member piggybacks its queue on packets to `fanout` random live peers. */
  round(): void {
    const live = this.nodes.filter((n) => n.alive);
    this.liveCount = live.length;
    for (const node of live) {
      if (node.mux.queue.size === 0) continue;
      const chosen = new Set<ClusterNode>([node]);
      for (let k = 0; k < this.fanout && chosen.size < live.length; k++) {
        let peer = live[this.random.int(live.length)]!;
        while (chosen.has(peer)) peer = live[this.random.int(live.length)]!;
        chosen.add(peer);
        const messages = node.mux.takeBroadcasts(MESSAGE_OVERHEAD, this.packetLimit);
        if (messages.length === 0) break;
        const w = new ByteWriter(this.packetLimit).varuint(messages.length);
        for (const m of messages) w.bytes(m);
        node.transport.sendPacket(peer.address, w.finish());
      }
    }
    this.network.deliver();
  }

  /** Rounds until no member has anything queued (or the cap); returns rounds run. */
  settle(maxRounds = 200): number {
    for (let i = 1; i <= maxRounds; i++) {
      this.round();
      if (this.nodes.every((n) => !n.alive || n.mux.queue.size === 0)) return i;
    }
    return maxRounds;
  }

  /** Push-pull between two members over the transport (join / anti-entropy). */
  async pushPull(a: string, b: string, join = false): Promise<void> {
    const na = this.node(a);
    const reply = await na.transport.request(this.node(b).address, na.mux.localState(join), 1000);
    na.mux.mergeRemoteState(reply, join);
  }
}
