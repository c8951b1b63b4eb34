// A tiny authoritative DNS server on 127.0.0.1 UDP for the DNS provider tests.
// Responses are encoded by hand per RFC 1035 §4 (header, question, resource
// records with a compression pointer to the question name) and RFC 2782 (SRV
// RDATA: priority, weight, port, target). Behaviours per name produce the
// failure cases: NXDOMAIN, SERVFAIL, silence, truncated and malformed packets.

import { createSocket, type Socket, type RemoteInfo } from 'node:dgram';
import { isIPv6 } from 'node:net';

export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

export interface ZoneEntry {
  A?: string[];
  AAAA?: string[];
  SRV?: SrvRecord[];
}

/**
 * How the server answers a name:
 * - answer: the records in the zone (NOERROR with no answers when the type is absent)
 * - nxdomain / servfail / refused: that RCODE, no answers
 * - silent: never answers
 * - truncated: a correct response cut short in the middle of the answer section
 * - bad-rdlength: an answer whose RDLENGTH runs past the end of the packet
 * - pointer-loop: an answer name that is a compression pointer to itself
 * - bad-a-length: an A record with a 3-byte RDATA
 * - header-only: 12 bytes claiming one question and one answer, nothing after
 */
export type Behaviour =
  | 'answer'
  | 'nxdomain'
  | 'servfail'
  | 'refused'
  | 'silent'
  | 'truncated'
  | 'bad-rdlength'
  | 'pointer-loop'
  | 'bad-a-length'
  | 'header-only';

export const TYPE = { A: 1, AAAA: 28, SRV: 33 } as const;
const CLASS_IN = 1;
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

export interface ReceivedQuery {
  id: number;
  name: string;
  type: number;
}

/** Encodes a domain name as uncompressed labels (RFC 1035 §3.1). */
export function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter((l) => l.length > 0);
  const out: number[] = [];
  for (const label of parts) {
    const bytes = Buffer.from(label, 'ascii');
    if (bytes.length > 63) throw new Error(`label too long: ${label}`);
    out.push(bytes.length, ...bytes);
  }
  out.push(0);
  return Buffer.from(out);
}

function ipv6Bytes(ip: string): Buffer {
  if (!isIPv6(ip)) throw new Error(`not IPv6: ${ip}`);
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** Parses the question of a query; undefined for anything that is not one well-formed question. */
export function parseQuery(msg: Buffer): (ReceivedQuery & { questionEnd: number }) | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return undefined;
  let off = 12;
  const labels: string[] = [];
  for (;;) {
    if (off >= msg.length) return undefined;
    const len = msg[off]!;
    if (len === 0) {
      off++;
      break;
    }
    if (len > 63 || off + 1 + len > msg.length) return undefined;
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('ascii'));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return undefined;
  return { id: msg.readUInt16BE(0), name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(off), questionEnd: off + 4 };
}

function header(query: Buffer, rcode: number, answers: number, flags = 0): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(query.readUInt16BE(0), 0); // ID
  const rd = query[2]! & 0x01;
  h[2] = 0x80 | 0x04 | rd | flags; // QR, AA, RD copied (TC would be 0x02)
  h[3] = 0x80 | rcode; // RA
  h.writeUInt16BE(1, 4); // QDCOUNT
  h.writeUInt16BE(answers, 6); // ANCOUNT
  return h;
}

/** One resource record whose owner is the question name (pointer 0xC00C). */
function record(type: number, rdata: Buffer, ttl = 30): Buffer {
  const rr = Buffer.alloc(12);
  rr.writeUInt16BE(0xc00c, 0);
  rr.writeUInt16BE(type, 2);
  rr.writeUInt16BE(CLASS_IN, 4);
  rr.writeUInt32BE(ttl, 6);
  rr.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([rr, rdata]);
}

function rdataFor(type: number, entry: ZoneEntry): Buffer[] {
  if (type === TYPE.A) {
    return (entry.A ?? []).map((ip) => Buffer.from(ip.split('.').map(Number)));
  }
  if (type === TYPE.AAAA) return (entry.AAAA ?? []).map(ipv6Bytes);
  if (type === TYPE.SRV) {
    return (entry.SRV ?? []).map((s) => {
      const fixed = Buffer.alloc(6);
      fixed.writeUInt16BE(s.priority, 0);
      fixed.writeUInt16BE(s.weight, 2);
      fixed.writeUInt16BE(s.port, 4);
      return Buffer.concat([fixed, encodeName(s.target)]);
    });
  }
  return [];
}

/** Builds the response bytes for a query (undefined: stay silent). */
export function respond(query: Buffer, zone: ReadonlyMap<string, ZoneEntry>, behaviours: ReadonlyMap<string, Behaviour>): Buffer | undefined {
  const q = parseQuery(query);
  if (!q) {
    if (query.length < 12) return undefined;
    const h = header(query, RCODE.FORMERR, 0);
    h.writeUInt16BE(0, 4); // no question echoed
    return h;
  }
  const question = query.subarray(12, q.questionEnd);
  const behaviour = behaviours.get(q.name) ?? 'answer';
  switch (behaviour) {
    case 'silent':
      return undefined;
    case 'nxdomain':
      return Buffer.concat([header(query, RCODE.NXDOMAIN, 0), question]);
    case 'servfail':
      return Buffer.concat([header(query, RCODE.SERVFAIL, 0), question]);
    case 'refused':
      return Buffer.concat([header(query, RCODE.REFUSED, 0), question]);
    case 'header-only':
      return header(query, RCODE.NOERROR, 1);
    case 'bad-rdlength': {
      const rr = record(TYPE.A, Buffer.from([10, 0, 0, 1]));
      rr.writeUInt16BE(200, 10); // claims 200 bytes, 4 follow
      return Buffer.concat([header(query, RCODE.NOERROR, 1), question, rr]);
    }
    case 'pointer-loop': {
      // The answer's owner name is a pointer to its own offset.
      const at = 12 + question.length;
      const rr = record(q.type, Buffer.from([10, 0, 0, 1]));
      rr.writeUInt16BE(0xc000 | at, 0);
      return Buffer.concat([header(query, RCODE.NOERROR, 1), question, rr]);
    }
    case 'bad-a-length':
      return Buffer.concat([header(query, RCODE.NOERROR, 1), question, record(TYPE.A, Buffer.from([10, 0, 0]))]);
    case 'truncated':
    case 'answer': {
      const entry = zone.get(q.name);
      if (!entry) return Buffer.concat([header(query, RCODE.NXDOMAIN, 0), question]);
      const rrs = rdataFor(q.type, entry).map((rd) => record(q.type, rd));
      const full = Buffer.concat([header(query, RCODE.NOERROR, rrs.length), question, ...rrs]);
      if (behaviour === 'answer') return full;
      // Cut in the middle of the last record (or of the header if there is none).
      return full.subarray(0, Math.max(6, full.length - Math.max(3, Math.floor((rrs.at(-1)?.length ?? 0) / 2))));
    }
  }
}

export class TestDnsServer {
  readonly zone = new Map<string, ZoneEntry>();
  readonly behaviours = new Map<string, Behaviour>();
  readonly queries: ReceivedQuery[] = [];

  private constructor(
    private readonly socket: Socket,
    readonly address: string,
  ) {
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      const q = parseQuery(msg);
      if (q) this.queries.push({ id: q.id, name: q.name, type: q.type });
      const out = respond(msg, this.zone, this.behaviours);
      if (out) socket.send(out, rinfo.port, rinfo.address);
    });
  }

  static start(): Promise<TestDnsServer> {
    return new Promise((resolve, reject) => {
      const socket = createSocket('udp4');
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        socket.off('error', reject);
        resolve(new TestDnsServer(socket, `127.0.0.1:${socket.address().port}`));
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
