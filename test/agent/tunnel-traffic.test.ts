// Traffic between two real agent processes over a tunnel: 1 GiB through one
// stream byte-exact, a stalled reader that must not make the sending agent
// buffer past its window, and SIGKILL of the serving agent mid-stream, after
// which the client sees a reset, never a clean end.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { ReplyCode } from '../../src/agent/kernels.js';
import { listenUnix } from '../../src/agent/unix-listen.js';
import { handshake, request, startEcho } from '../helpers/mesh-client.js';
import { clientMeshlets, providerMeshlets, startTunnelAgent, stopAllTunnelAgents, type TunnelAgent } from '../helpers/tunnel-agents.js';
import { metricValue } from '../helpers/metrics.js';

// The agents run with gc exposed so /debug/memory reports live memory, not garbage.
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --expose-gc`.trim();

const MiB = 1 << 20;
after(stopAllTunnelAgents);
const STREAM_WINDOW = 4 * MiB; // TUNNEL_DEFAULTS.initialStreamWindow

async function pair(): Promise<{ a: TunnelAgent; b: TunnelAgent }> {
  const b = await startTunnelAgent({ name: 'b', meshlets: providerMeshlets() });
  const a = await startTunnelAgent({
    name: 'a',
    meshlets: clientMeshlets(),
    peers: [{ name: 'b', address: b.tunnel, publicKey: b.publicKey, services: ['echo.svc.t', 'sink.svc.t', 'stall.svc.t'] }],
  });
  return { a, b };
}

/** A server on a Unix socket; `onConnection` gets each accepted socket. */
async function serve(path: string, onConnection: (s: Socket) => void): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  await listenUnix(server, path, 0o660, {});
  return server;
}

/** A deterministic, never-repeating stream of chunks: a random block with the chunk number stamped in. */
function chunkMaker(size: number): (i: number) => Buffer {
  const base = randomBytes(size);
  return (i) => {
    const c = Buffer.allocUnsafe(size);
    base.copy(c);
    c.writeUInt32BE(i, 0);
    c.writeUInt32BE(i ^ 0x5a5a5a5a, size - 4);
    return c;
  };
}

/** Writes `total` bytes with backpressure; returns the sha256 of what was written. */
async function pump(socket: Socket, total: number, chunkSize = 256 << 10): Promise<string> {
  const make = chunkMaker(chunkSize);
  const hash = createHash('sha256');
  for (let i = 0, sent = 0; sent < total; i++) {
    const c = make(i).subarray(0, Math.min(chunkSize, total - sent));
    hash.update(c);
    sent += c.length;
    if (!socket.write(c)) await once(socket, 'drain');
  }
  return hash.digest('hex');
}

async function memory(agent: TunnelAgent): Promise<{ arrayBuffers: number; rss: number; heapUsed: number }> {
  return (await agent.admin('/debug/memory')).body.memory;
}

test('1 GiB through one stream arrives byte-exact (sha256 both sides, streamed)', async () => {
  const { a, b } = await pair();
  const hashes: Promise<string>[] = [];
  const sink = await serve(b.serverSocket('t', 'svc', 'sink'), (s) => {
    const h = createHash('sha256');
    let n = 0;
    hashes.push(
      new Promise((resolve) => {
        s.on('data', (c: Buffer) => {
          h.update(c);
          n += c.length;
        });
        s.on('end', () => {
          const digest = h.digest('hex');
          s.end(`${n} ${digest}`);
          resolve(digest);
        });
      }),
    );
  });
  const r = await handshake(a.clientSocket('t', 'app'), request('sink.svc.t'));
  assert.equal(r.code, ReplyCode.OK);
  const reply: Buffer[] = [r.extra];
  r.socket.on('data', (c: Buffer) => reply.push(c));
  r.socket.resume();
  const started = performance.now();
  const sent = await pump(r.socket, 1024 * MiB);
  r.socket.end();
  await once(r.socket, 'end');
  const seconds = (performance.now() - started) / 1000;
  const [n, digest] = Buffer.concat(reply).toString().split(' ');
  assert.equal(Number(n), 1024 * MiB);
  assert.equal(digest, sent);
  assert.equal(await hashes[0], sent);
  const peers = (await a.admin('/peers')).body.peers;
  assert.ok(peers[0].bytesSent > 1024 * MiB, 'the bytes went through the tunnel');
  process.stderr.write(`# 1 GiB through one tunnel stream in ${seconds.toFixed(1)} s (${(1024 / seconds).toFixed(0)} MiB/s, hashing included)\n`);
  sink.close();
  await Promise.all([a.stop(), b.stop()]);
});

test('a stalled reader does not grow the sending agent past its window', async () => {
  const { a, b } = await pair();
  const stalled: Socket[] = [];
  const clients: Socket[] = [];
  const stall = await serve(b.serverSocket('t', 'svc', 'stall'), (s) => {
    s.pause(); // never reads
    stalled.push(s);
  });
  // Cleanup runs even when an assertion fails, so no agent or socket keeps the file alive.
  try {
    // Warm the path (session, kernels, buffers) so the baseline is the steady state.
    const warm = await handshake(a.clientSocket('t', 'app'), request('stall.svc.t'));
    assert.equal(warm.code, ReplyCode.OK);
    warm.socket.destroy();
    const baseA = await memory(a);
    const baseB = await memory(b);

    const r = await handshake(a.clientSocket('t', 'app'), request('stall.svc.t'));
    assert.equal(r.code, ReplyCode.OK);
    clients.push(r.socket);
    // Offer far more than any window, ignoring backpressure (the test process buffers it, not the agents).
    const offered = 64 * MiB;
    const block = randomBytes(MiB);
    for (let i = 0; i < offered / MiB; i++) r.socket.write(block);
    // Wait until nothing more moves across the tunnel.
    let last = -1;
    let same = 0;
    while (same < 3) {
      const sent = metricValue((await a.admin('/metrics')).text, 'weft_tunnel_bytes_total', { direction: 'sent' });
      same = sent === last ? same + 1 : 0;
      last = sent;
      await new Promise((res) => setTimeout(res, 100));
    }
    const crossed = (await a.admin('/peers')).body.peers[0].bytesSent;
    const memA = await memory(a);
    const memB = await memory(b);
    const growA = memA.arrayBuffers - baseA.arrayBuffers;
    const growB = memB.arrayBuffers - baseB.arrayBuffers;
    process.stderr.write(`# stalled reader: ${(crossed / MiB).toFixed(1)} MiB crossed of ${offered / MiB} MiB offered; sender agent +${(growA / MiB).toFixed(2)} MiB, receiver agent +${(growB / MiB).toFixed(2)} MiB buffers\n`);
    assert.ok(crossed < STREAM_WINDOW + 2 * MiB, `flow stopped near the stream window (${crossed} bytes crossed)`);
    // The window plus the socket and stream high-water marks on the way in.
    assert.ok(growA < STREAM_WINDOW + MiB, `sending agent grew ${growA} bytes`);
    // The receiver holds the window's bytes for the stalled server; how much memory that
    // takes depends on allocation granularity (payload copies, socket chunks), so the bound
    // is a small multiple of the window — far below the 64 MiB offered.
    assert.ok(growB < 3 * STREAM_WINDOW, `receiving agent grew ${growB} bytes`);
  } finally {
    for (const c of clients) c.destroy();
    for (const s of stalled) s.destroy();
    stall.close();
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('SIGKILL of the serving agent mid-stream: the client sees a reset, never a clean end', async () => {
  const { a, b } = await pair();
  const echo = await startEcho(b.serverSocket('t', 'svc', 'echo'));
  let sock: import('node:net').Socket | undefined;
  try {
    const r = await handshake(a.clientSocket('t', 'app'), request('echo.svc.t'));
    assert.equal(r.code, ReplyCode.OK);
    const s = (sock = r.socket);
    // Keep writing after an end-of-file, so an abort shows as EPIPE and a clean half-close as writes that succeed.
    s.allowHalfOpen = true;
    let received = r.extra.length;
    let error: NodeJS.ErrnoException | undefined;
    /** Writes that succeeded after an end-of-file: what a clean half-close would allow. */
    let writesAfterEnd = 0;
    let ended = false;
    s.on('end', () => (ended = true));
    s.on('error', (e) => (error = e));
    const closed = new Promise<void>((res) => s.once('close', () => res()));
    let killed = false;
    s.on('data', (c: Buffer) => {
      received += c.length;
      if (!killed && received >= 4 * MiB) {
        killed = true;
        b.child.kill('SIGKILL');
      }
    });
    s.resume();
    // Keep sending until the stream breaks.
    const block = randomBytes(64 << 10);
    const writer = (async () => {
      while (!s.destroyed && !s.writableEnded) {
        const more = s.write(block, (e) => {
          if (!e && ended) writesAfterEnd++;
        });
        if (!more) await Promise.race([new Promise((res) => s.once('drain', res)), closed]);
      }
    })();
    await closed;
    await writer;
    assert.ok(killed, 'the agent was killed mid-stream');
    // Unix sockets have no RST: the agent's abort reaches a writing client as ECONNRESET (bytes of
    // its own still unread by the agent) or as end-of-file followed by EPIPE on its next write
    // (docs/tunnel.md, "Resets reach the client"). A clean end would let the client keep writing.
    assert.ok(error && ['ECONNRESET', 'EPIPE'].includes(error.code!), `the client saw ${error?.code ?? 'no error'} (end-of-file first: ${ended})`);
    assert.equal(writesAfterEnd, 0, 'no write succeeded after the end-of-file');
    await b.exited;
    const err = await a.waitForLog((l) => l.msg === 'tunnel session closed');
    assert.equal((err.error as { code: string }).code, 'WEFT-T008');
  } finally {
    sock?.destroy();
    await echo.close();
    b.child.kill('SIGKILL');
    await a.stop();
  }
});
