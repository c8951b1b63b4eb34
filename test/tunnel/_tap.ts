// Test helper: a transparent TCP relay between a tunnel client and server that
// understands just enough of the wire (docs/protocol.md §3–§4) to cut each
// direction into units — preamble, handshake messages, records — so a test can
// capture, alter, drop, replay or inject them.
import net from 'node:net';
import { once } from 'node:events';

export type Direction = 'c2s' | 's2c';

export interface TapUnit {
  dir: Direction;
  kind: 'preamble' | 'handshake' | 'record';
  /** Index among the records of this direction (0 = first record after the handshake). */
  index: number;
  bytes: Buffer;
}

/** Returns the bytes to forward for a unit (default: the unit itself). */
export type TapHook = (u: TapUnit) => Buffer | Buffer[] | null | undefined;

export interface Tap {
  port: number;
  /** Every unit seen, in order, per direction. */
  units: Record<Direction, TapUnit[]>;
  /** Writes raw bytes toward the server (c2s) or the client (s2c). */
  inject(dir: Direction, bytes: Buffer): void;
  close(): void;
}

class Splitter {
  private buf = Buffer.alloc(0);
  private handshakeLeft: number;
  private preamble: boolean;
  private records = 0;
  constructor(readonly dir: Direction) {
    this.preamble = dir === 'c2s';
    this.handshakeLeft = dir === 'c2s' ? 2 : 1;
  }
  push(chunk: Buffer): TapUnit[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: TapUnit[] = [];
    for (;;) {
      if (this.preamble) {
        if (this.buf.length < 8) break;
        out.push({ dir: this.dir, kind: 'preamble', index: 0, bytes: this.buf.subarray(0, 8) });
        this.buf = this.buf.subarray(8);
        this.preamble = false;
        continue;
      }
      const head = this.handshakeLeft > 0 ? 2 : 4;
      if (this.buf.length < head) break;
      const n = head + this.buf.readUInt16BE(0);
      if (this.buf.length < n) break;
      const bytes = Buffer.from(this.buf.subarray(0, n));
      this.buf = this.buf.subarray(n);
      if (this.handshakeLeft > 0) {
        this.handshakeLeft--;
        out.push({ dir: this.dir, kind: 'handshake', index: 0, bytes });
      } else {
        out.push({ dir: this.dir, kind: 'record', index: this.records++, bytes });
      }
    }
    return out;
  }
}

export async function startTap(targetPort: number, hook: TapHook = () => undefined): Promise<Tap> {
  const units: Record<Direction, TapUnit[]> = { c2s: [], s2c: [] };
  const pairs: { client: net.Socket; server: net.Socket }[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair = { client, server: upstream };
    pairs.push(pair);
    const pipe = (from: net.Socket, to: net.Socket, dir: Direction) => {
      const split = new Splitter(dir);
      from.on('data', (chunk: Buffer) => {
        for (const u of split.push(chunk)) {
          units[dir].push(u);
          const r = hook(u);
          const out = r === undefined ? [u.bytes] : r === null ? [] : Array.isArray(r) ? r : [r];
          for (const b of out) if (!to.destroyed) to.write(b);
        }
      });
      from.on('end', () => to.end());
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    };
    pipe(client, upstream, 'c2s');
    pipe(upstream, client, 's2c');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    units,
    inject(dir, bytes) {
      for (const p of pairs) (dir === 'c2s' ? p.server : p.client).write(bytes);
    },
    close() {
      server.close();
      for (const p of pairs) {
        p.client.destroy();
        p.server.destroy();
      }
    },
  };
}
