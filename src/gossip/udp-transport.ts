// The real gossip Transport: UDP datagrams for probes and piggybacked gossip,
// TCP on the same port number for reliable request/response (push-pull, join,
// reliable ping). One TCP connection per exchange, each way a frame of
// u32 big-endian length + payload. Everything is bounded: datagram size,
// frame size, concurrent inbound connections, and time per exchange. Hostile
// or truncated input closes the connection or drops the datagram; nothing
// throws into the event loop and nothing buffers past the limits.

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, connect, isIPv6, type Server, type Socket } from 'node:net';
import { ExchangeRefusedError, type Address, type Transport } from './types.js';

export interface UdpTransportOptions {
  /** Address to bind and advertise; default 127.0.0.1. */
  host?: string;
  /** Port for both UDP and TCP; 0 picks a free ephemeral port. */
  port?: number;
  /** Datagrams larger than this are neither sent nor accepted. */
  maxPacketBytes?: number;
  /** Largest request or response frame (push-pull of a large cluster). */
  maxFrameBytes?: number;
  /** Concurrent inbound TCP exchanges; more are refused. */
  maxInboundConnections?: number;
  /** An inbound exchange must complete (request read, answer written) within this. */
  inboundTimeoutMs?: number;
}

export interface UdpTransportStats {
  packetsDropped: number;
  framesRejected: number;
  connectionsRefused: number;
}

const FRAME_HEADER = 4;

export function formatAddress(host: string, port: number): Address {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Splits "host:port" or "[v6]:port"; undefined when it is not one. */
export function parseAddress(a: Address): { host: string; port: number } | undefined {
  const i = a.lastIndexOf(':');
  if (i <= 0) return undefined;
  let host = a.slice(0, i);
  const port = Number(a.slice(i + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port };
}

/** Reassembles one length-prefixed frame from stream chunks, refusing frames over `max`. */
class FrameReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private need = -1;

  constructor(private readonly max: number) {}

  /** A complete frame, 'more' to wait, or 'error' (too large, or bytes after the frame). */
  push(chunk: Buffer): Uint8Array | 'more' | 'error' {
    this.chunks.push(chunk);
    this.have += chunk.length;
    if (this.need < 0) {
      if (this.have < FRAME_HEADER) return 'more';
      const all = Buffer.concat(this.chunks);
      this.chunks = [all];
      this.need = all.readUInt32BE(0);
      if (this.need > this.max) return 'error';
    }
    if (this.have < FRAME_HEADER + this.need) return 'more';
    if (this.have > FRAME_HEADER + this.need) return 'error';
    const all = Buffer.concat(this.chunks);
    return new Uint8Array(all.buffer, all.byteOffset + FRAME_HEADER, this.need);
  }
}

function frame(data: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(FRAME_HEADER + data.length);
  b.writeUInt32BE(data.length, 0);
  b.set(data, FRAME_HEADER);
  return b;
}

export class UdpTransport implements Transport {
  readonly localAddress: Address;
  readonly stats: UdpTransportStats = { packetsDropped: 0, framesRejected: 0, connectionsRefused: 0 };
  private packetHandler: ((from: Address, data: Uint8Array) => void) | undefined;
  private requestHandler: ((from: Address, data: Uint8Array) => Promise<Uint8Array> | Uint8Array) | undefined;
  private readonly open = new Set<Socket>();
  private inbound = 0;
  private closed = false;

  private constructor(
    private readonly udp: UdpSocket,
    private readonly tcp: Server,
    host: string,
    readonly port: number,
    private readonly maxPacketBytes: number,
    private readonly maxFrameBytes: number,
    private readonly maxInbound: number,
    private readonly inboundTimeoutMs: number,
  ) {
    this.localAddress = formatAddress(host, port);
    udp.on('message', (msg, rinfo) => this.onDatagram(msg, formatAddress(rinfo.address, rinfo.port)));
    udp.on('error', () => {});
    tcp.on('connection', (s) => this.onConnection(s));
    tcp.on('error', () => {});
  }

  /** Binds UDP and TCP on the same port (retrying ephemeral ports until both are free). */
  static async create(opts: UdpTransportOptions = {}): Promise<UdpTransport> {
    const host = opts.host ?? '127.0.0.1';
    const wanted = opts.port ?? 0;
    let lastError: unknown;
    for (let attempt = 0; attempt < (wanted === 0 ? 20 : 1); attempt++) {
      const udp = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(wanted, host, () => {
            udp.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        udp.close();
        throw e;
      }
      const port = udp.address().port;
      const tcp = createServer();
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen(port, host, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        lastError = e;
        udp.close();
        continue;
      }
      return new UdpTransport(
        udp,
        tcp,
        host,
        port,
        opts.maxPacketBytes ?? 65_507,
        opts.maxFrameBytes ?? 8 * 1024 * 1024,
        opts.maxInboundConnections ?? 256,
        opts.inboundTimeoutMs ?? 10_000,
      );
    }
    throw lastError;
  }

  sendPacket(to: Address, data: Uint8Array): void {
    const a = parseAddress(to);
    if (this.closed || !a || data.length > this.maxPacketBytes) {
      this.stats.packetsDropped++;
      return;
    }
    this.udp.send(data, a.port, a.host, () => {});
  }

  onPacket(handler: (from: Address, data: Uint8Array) => void): void {
    this.packetHandler = handler;
  }

  onRequest(handler: (from: Address, data: Uint8Array) => Promise<Uint8Array> | Uint8Array): void {
    this.requestHandler = handler;
  }

  request(to: Address, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const a = parseAddress(to);
    if (this.closed) return Promise.reject(new Error('transport closed'));
    if (!a) return Promise.reject(new Error(`bad address ${to}`));
    if (data.length > this.maxFrameBytes) return Promise.reject(new Error('request over the frame limit'));
    return new Promise<Uint8Array>((resolve, reject) => {
      const s = connect({ host: a.host, port: a.port });
      this.open.add(s);
      const reader = new FrameReader(this.maxFrameBytes);
      let settled = false;
      let connected = false;
      const finish = (err: Error | undefined, value?: Uint8Array) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.open.delete(s);
        s.destroy();
        if (err) reject(err);
        else resolve(value!);
      };
      const timer = setTimeout(() => finish(new Error(`request to ${to} timed out after ${timeoutMs} ms`)), timeoutMs);
      s.on('connect', () => {
        connected = true;
        s.write(frame(data));
      });
      s.on('data', (chunk: Buffer) => {
        const r = reader.push(chunk);
        if (r === 'more') return;
        if (r === 'error') finish(new Error(`bad response frame from ${to}`));
        else finish(undefined, r);
      });
      // Once connected, a reset or close without a reply means the peer refused the request.
      s.on('error', (e) => finish(connected ? new ExchangeRefusedError(`connection to ${to} reset before a response (${e.message})`) : e));
      s.on('close', () => finish(connected ? new ExchangeRefusedError(`connection to ${to} closed before a response`) : new Error(`connection to ${to} closed before a response`)));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.open) s.destroy();
    this.open.clear();
    await Promise.all([
      new Promise<void>((r) => this.udp.close(() => r())),
      new Promise<void>((r) => this.tcp.close(() => r())),
    ]);
  }

  private onDatagram(msg: Buffer, from: Address): void {
    if (this.closed || !this.packetHandler) return;
    if (msg.length > this.maxPacketBytes) {
      this.stats.packetsDropped++;
      return;
    }
    try {
      this.packetHandler(from, new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
    } catch {
      // A handler bug must not take the socket down; the datagram is lost like any other.
      this.stats.packetsDropped++;
    }
  }

  private onConnection(s: Socket): void {
    if (this.closed || this.inbound >= this.maxInbound || !this.requestHandler) {
      this.stats.connectionsRefused++;
      s.destroy();
      return;
    }
    this.inbound++;
    this.open.add(s);
    const from = formatAddress(s.remoteAddress ?? '?', s.remotePort ?? 0);
    const reader = new FrameReader(this.maxFrameBytes);
    let done = false;
    const end = (rejected: boolean) => {
      if (done) return;
      done = true;
      if (rejected) this.stats.framesRejected++;
      clearTimeout(timer);
      this.inbound--;
      this.open.delete(s);
      s.destroy();
    };
    const timer = setTimeout(() => end(true), this.inboundTimeoutMs);
    s.on('error', () => end(false));
    s.on('close', () => end(false));
    s.on('data', (chunk: Buffer) => {
      if (done) return;
      const r = reader.push(chunk);
      if (r === 'more') return;
      if (r === 'error') {
        end(true);
        return;
      }
      // No more input is expected: stop reading so a peer cannot stream into us.
      s.pause();
      Promise.resolve()
        .then(() => this.requestHandler!(from, r))
        .then(
          (answer) => {
            if (done) return;
            if (answer.length > this.maxFrameBytes) return end(true);
            s.end(frame(answer), () => end(false));
          },
          () => end(true),
        );
    });
  }
}
