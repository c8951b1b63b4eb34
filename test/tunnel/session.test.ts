import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable, Writable } from 'node:stream';
import { TunnelErrorCode, TunnelStreamError, type TunnelStream, type TunnelSession } from '../../src/tunnel/index.js';
import { makePair } from './_pair.js';

/** Writes `total` bytes of a deterministic pattern with backpressure; resolves with their sha256. */
function send(w: Writable, total: number, chunk = 64 << 10, end = true): Promise<string> {
  const h = createHash('sha256');
  const block = randomBytes(chunk);
  let sent = 0;
  return new Promise((resolve, reject) => {
    w.once('error', reject);
    const pump = () => {
      while (sent < total) {
        const n = Math.min(chunk, total - sent);
        const b = n === chunk ? block : block.subarray(0, n);
        h.update(b);
        sent += n;
        if (!w.write(b)) return void w.once('drain', pump);
      }
      if (end) w.end();
      resolve(h.digest('hex'));
    };
    pump();
  });
}

/** Reads r to its end; resolves with byte count and sha256. */
function receive(r: Readable): Promise<{ bytes: number; sha: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) => {
    r.on('data', (d: Buffer) => {
      bytes += d.length;
      h.update(d);
    });
    r.once('end', () => resolve({ bytes, sha: h.digest('hex') }));
    r.once('error', reject);
  });
}

async function shutdown(p: { client: TunnelSession; server: TunnelSession; close(): Promise<void> }): Promise<void> {
  p.client.destroy();
  await p.server.whenClosed();
  await p.close();
}

test('64 MiB through one stream arrive byte-exact (sha256), both ways', async () => {
  const received: Promise<{ bytes: number; sha: string }>[] = [];
  const p = await makePair({
    server: {
      onStream(s) {
        received.push(receive(s));
        void send(s, 8 << 20, 50_000); // and something back, in odd-sized chunks
      },
    },
  });
  const s = await p.client.openStream('bulk.svc.default', 'client.default');
  const back = receive(s);
  const t0 = performance.now();
  const sha = await send(s, 64 << 20);
  const got = await received[0]!;
  const ms = performance.now() - t0;
  assert.equal(got.bytes, 64 << 20);
  assert.equal(got.sha, sha);
  assert.equal((await back).bytes, 8 << 20);
  const st = p.client.stats();
  assert.ok(st.recordsSent >= (64 << 20) / 16896);
  console.log(`# 64 MiB in one stream: ${(64 * 1.048576 / (ms / 1000)).toFixed(0)} MB/s in-process (both ends in this thread)`);
  await shutdown(p);
});

test('1,000 concurrent streams arrive byte-exact and close cleanly', async () => {
  const p = await makePair({
    server: {
      onStream(s) {
        // Echo with a hash trailer-free check: the client compares what comes back.
        s.pipe(s);
      },
    },
  });
  const n = 1000;
  const results = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const s = await p.client.openStream(`echo.svc.default`, `c${i}.default`);
      const back = receive(s);
      const sha = await send(s, 1000 + i * 97, 4096);
      const got = await back;
      return got.sha === sha && got.bytes === 1000 + i * 97;
    }),
  );
  assert.equal(results.filter(Boolean).length, n);
  // Every stream finished both ways and left the session.
  for (let i = 0; i < 100 && (p.client.stats().streamsActive || p.server.stats().streamsActive); i++) await sleep(5);
  assert.equal(p.client.stats().streamsActive, 0);
  assert.equal(p.server.stats().streamsActive, 0);
  assert.equal(p.server.stats().streamsAccepted, n);
  await shutdown(p);
});

test('a stalled reader: the sender buffers no more than the window plus one batch', async () => {
  const window = 256 << 10;
  let serverStream!: TunnelStream;
  const p = await makePair({
    server: { initialStreamWindow: window, onStream: (s) => void (serverStream = s) },
    client: { streamHighWaterMark: 16 << 10 },
  });
  const s = await p.client.openStream('slow.svc.default', 'client.default');
  // Never read on the server side; write until backpressure holds.
  let accepted = 0;
  const chunk = Buffer.alloc(16 << 10, 1);
  for (let i = 0; i < 200; i++) {
    s.write(chunk, () => (accepted += chunk.length));
    await new Promise((r) => setImmediate(r));
  }
  await sleep(100);
  // Bytes handed to the session (write callbacks fired) stop at the window.
  assert.ok(accepted <= window + chunk.length, `accepted ${accepted}`);
  assert.ok(accepted >= window - chunk.length, `accepted ${accepted}`);
  assert.equal(s.writableNeedDrain, true);
  // What waits in the stream is the caller's own writes (write() said false), not session buffers.
  assert.equal(p.client.stats().sendWindow, (16 << 20) - accepted);
  assert.ok(serverStream.readableLength <= window);
  // Reading releases the rest, byte-exact.
  const got = receive(serverStream);
  s.end();
  const r = await got;
  assert.equal(r.bytes, 200 * chunk.length);
  serverStream.end();
  s.resume();
  await new Promise((resolve) => s.once('close', resolve));
  await shutdown(p);
});

test('FIN is a clean end; RST is an error naming its code; refusals reach openStream', async () => {
  const p = await makePair({
    server: {
      onStream(s, info) {
        if (info.service === 'nope.svc.default') return s.reject(TunnelErrorCode.UNKNOWN_SERVICE);
        if (info.service === 'deny.svc.default') return s.reject(TunnelErrorCode.FORBIDDEN);
        if (info.service === 'down.svc.default') return Promise.reject(new Error('backend down'));
        if (info.service === 'abort.svc.default') {
          s.once('data', () => s.destroy());
          return;
        }
        s.end('bye');
        s.resume();
      },
    },
  });
  // Clean FIN: 'end' after the data, then the stream closes without error.
  const ok = await p.client.openStream('fine.svc.default', 'client.default');
  assert.deepEqual(await receive(ok), { bytes: 3, sha: createHash('sha256').update('bye').digest('hex') });
  ok.end();
  await new Promise((r) => ok.once('close', r));
  assert.equal(ok.errored, null);

  for (const [svc, name] of [['nope', 'UNKNOWN_SERVICE'], ['deny', 'FORBIDDEN'], ['down', 'INTERNAL_ERROR']] as const) {
    await assert.rejects(p.client.openStream(`${svc}.svc.default`, 'client.default'), (e: unknown) => {
      return e instanceof TunnelStreamError && e.code === 'WEFT-T009' && e.rstName === name;
    });
  }
  // RST mid-stream: the reader sees an error, never a clean end.
  const ab = await p.client.openStream('abort.svc.default', 'client.default');
  ab.write('hello');
  const err = await new Promise<Error>((resolve) => {
    ab.on('end', () => resolve(new Error('clean end: wrong')));
    ab.on('error', resolve);
    ab.resume();
  });
  assert.ok(err instanceof TunnelStreamError, String(err));
  assert.equal((err as TunnelStreamError).rstName, 'CANCEL');
  await shutdown(p);
});

test('when the session dies, every open stream errors (a reset, never a clean end)', async () => {
  const serverStreams: TunnelStream[] = [];
  const p = await makePair({ server: { onStream: (s) => void serverStreams.push(s) } });
  const streams = await Promise.all(Array.from({ length: 20 }, (_, i) => p.client.openStream('x.svc.default', `c${i}.default`)));
  for (const s of streams) s.write('partial');
  while (serverStreams.length < 20) await sleep(2);
  const outcomes = [...streams, ...serverStreams].map(
    (s) =>
      new Promise<string>((resolve) => {
        s.on('error', (e: any) => resolve(e.code));
        s.on('end', () => resolve('end'));
        s.resume();
      }),
  );
  // The server goes away abruptly (as a killed process would).
  p.server.destroy();
  const codes = await Promise.all(outcomes);
  assert.deepEqual(new Set(codes), new Set(['WEFT-T008']));
  await p.client.whenClosed();
  assert.equal(p.client.error?.code, 'WEFT-T008');
  await assert.rejects(p.client.openStream('x.svc.default', 'c.default'), { code: 'WEFT-T008' });
  await p.close();
});

test('rekey: after a low record count both directions rekey and traffic stays byte-exact', async () => {
  const p = await makePair({
    client: { rekeyAfterRecords: 7 },
    server: { rekeyAfterRecords: 5, onStream: (s) => void s.pipe(s) },
  });
  const s = await p.client.openStream('echo.svc.default', 'client.default');
  const back = receive(s);
  const sha = await send(s, 4 << 20, 30_000);
  const got = await back;
  assert.equal(got.sha, sha);
  const c = p.client.stats(), sv = p.server.stats();
  assert.ok(c.rekeysSent >= Math.floor(c.recordsSent / 7) - 1 && c.rekeysSent > 10, JSON.stringify(c));
  assert.equal(sv.rekeysReceived, c.rekeysSent);
  assert.ok(sv.rekeysSent > 10);
  assert.equal(c.rekeysReceived, sv.rekeysSent);
  // On demand too.
  const before = c.rekeysSent;
  p.client.rekeyNow();
  assert.ok((await p.client.ping()) >= 0);
  assert.equal(p.client.stats().rekeysSent, before + 1);
  await shutdown(p);
});

test('graceful close: GOAWAY, no new streams, open ones finish, then both sides close', async () => {
  let serverStream!: TunnelStream;
  const p = await makePair({ server: { onStream: (s) => void (serverStream = s) } });
  const s = await p.client.openStream('x.svc.default', 'client.default');
  const closing = p.server.close();
  await sleep(20);
  // The client heard GOAWAY: no new streams.
  await assert.rejects(p.client.openStream('x.svc.default', 'client.default'), { code: 'WEFT-T013' });
  // The open stream still works both ways and finishes.
  const back = receive(s);
  s.end('last words');
  const got = await receive(serverStream);
  assert.equal(got.bytes, 10);
  serverStream.end('ok');
  assert.equal((await back).bytes, 2);
  await closing;
  await p.client.whenClosed();
  assert.equal(p.client.error, null);
  assert.equal(p.server.error, null);
  await p.close();
});

test('keepalive: a peer that stops answering is detected (WEFT-T010)', async () => {
  const p = await makePair({ client: { keepaliveIntervalMs: 30, keepaliveTimeoutMs: 60 } });
  assert.ok((await p.client.ping()) >= 0);
  // Freeze the server's reading: it no longer answers pings.
  (p.server as any).socket.pause();
  (p.server as any).socket.removeAllListeners('data');
  await p.client.whenClosed();
  assert.equal(p.client.error?.code, 'WEFT-T010');
  p.server.destroy();
  await p.close();
});
