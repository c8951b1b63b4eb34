import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateIdentity, tunnelResources, type TunnelStream } from '../../src/tunnel/index.js';
import { runHandshake } from '../../src/tunnel/handshake.js';
import { RecordSealer } from '../../src/tunnel/record.js';
import { encodeFrame, FrameType } from '../../src/kernel/frame.js';
import { DEFAULTS, SUPPORTED_FEATURES } from '../../src/tunnel/options.js';
import { makePair, listen, dial, SECRET } from './_pair.js';
import { startTap, type TapUnit } from './_tap.js';

/** A pair through the tap; the server echoes. Resolves once one stream has round-tripped. */
async function tappedPair(hook: (u: TapUnit) => Buffer | Buffer[] | null | undefined) {
  let tap!: Awaited<ReturnType<typeof startTap>>;
  const serverStreams: TunnelStream[] = [];
  const p = await makePair({
    via: async (port) => (tap = await startTap(port, hook)).port,
    server: { onStream: (s) => void (serverStreams.push(s), s.on('error', () => {}), s.pipe(s)) },
  });
  return { p, tap, serverStreams };
}

async function streamOutcome(s: TunnelStream): Promise<string> {
  return new Promise((resolve) => {
    s.on('error', (e: any) => resolve(e.code));
    s.on('end', () => resolve('end'));
    s.resume();
  });
}

test('a tampered record closes the session with WEFT-T005; open streams error', async () => {
  const { p, tap } = await tappedPair((u) => {
    if (u.dir === 'c2s' && u.kind === 'record' && u.index === 3) {
      const b = Buffer.from(u.bytes);
      b[b.length - 20]! ^= 0x01; // one bit of ciphertext
      return b;
    }
    return undefined;
  });
  const s = await p.client.openStream('echo.svc.default', 'client.default'); // records 0 (OPEN)
  const outcome = streamOutcome(s);
  s.write('one'); // record 1
  await sleep(20);
  s.write('two'); // record 2
  await sleep(20);
  s.write('three'); // record 3: tampered
  await p.server.whenClosed();
  assert.equal(p.server.error?.code, 'WEFT-T005');
  assert.equal(await outcome, 'WEFT-T008');
  await p.client.whenClosed();
  tap.close();
  await p.close();
});

test('a replayed record (captured and injected again) is rejected with WEFT-T005', async () => {
  let captured: Buffer | null = null;
  const { p, tap } = await tappedPair((u) => {
    if (u.dir === 'c2s' && u.kind === 'record' && u.index === 1) captured = Buffer.from(u.bytes);
    return undefined;
  });
  const s = await p.client.openStream('echo.svc.default', 'client.default');
  const outcome = streamOutcome(s);
  s.write('pay me once');
  while (!captured) await sleep(2);
  await sleep(20);
  assert.equal(p.server.closed, false);
  tap.inject('c2s', captured);
  await p.server.whenClosed();
  assert.equal(p.server.error?.code, 'WEFT-T005');
  assert.equal(await outcome, 'WEFT-T008');
  tap.close();
  await p.close();
});

test('hostile bytes after the handshake (garbage, oversized length, truncation): structured error, no crash', async () => {
  const cases: [string, Buffer, string][] = [
    ['garbage', randomBytes(300), 'WEFT-T00'],
    ['oversized length', Buffer.from([0xff, 0xff, 0, 0, ...randomBytes(64)]), 'WEFT-T006'],
    ['unknown flags', Buffer.from([0, 64, 0x80, 0, ...randomBytes(64)]), 'WEFT-T006'],
    ['record of random bytes', Buffer.from([0, 64, 0, 0, ...randomBytes(64)]), 'WEFT-T005'],
  ];
  for (const [name, bytes, code] of cases) {
    const before = tunnelResources();
    const { p, tap } = await tappedPair(() => undefined);
    assert.ok((await p.client.ping()) >= 0);
    tap.inject('c2s', bytes);
    await p.server.whenClosed();
    assert.ok(p.server.error?.code.startsWith(code), `${name}: ${p.server.error?.code}`);
    await p.client.whenClosed();
    tap.close();
    await p.close();
    assert.deepEqual(tunnelResources(), before);
  }
  // Truncated: half a record, then the connection ends.
  const { p, tap } = await tappedPair((u) => (u.dir === 'c2s' && u.kind === 'record' && u.index === 1 ? u.bytes.subarray(0, 10) : undefined));
  const s = await p.client.openStream('echo.svc.default', 'client.default');
  const outcome = streamOutcome(s);
  s.write('cut');
  await sleep(30);
  p.client.destroy();
  await p.server.whenClosed();
  assert.equal(p.server.error?.code, 'WEFT-T008');
  assert.equal(await outcome, 'WEFT-T008');
  tap.close();
  await p.close();
});

test('authenticated but hostile frames: GOAWAY and WEFT-T007, never a crash', async () => {
  // A peer that holds the secret (so it passes the handshake) and then breaks frame rules.
  const bad: [string, Buffer][] = [
    ['unknown core type', Buffer.from([0x20, 0, 0, 0, 0, 1, 0, 0, 0])],
    ['frame over max size', Buffer.from([FrameType.DATA, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff])],
    ['DATA on a stream never opened', Buffer.from(encodeFrame(FrameType.DATA, 0, 41, Buffer.from('x')))],
    ['OPEN with an even id from the initiator', Buffer.from(encodeFrame(FrameType.OPEN, 0, 2, Buffer.from('\x10echo.svc.default\x09c.default')))],
    ['WINDOW_UPDATE of zero', Buffer.from(encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.alloc(4)))],
    ['session window overflow', Buffer.from(encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0x7f, 0xff, 0xff, 0xff])))],
  ];
  for (const [name, plaintext] of bad) {
    const l = await listen({ identity: generateIdentity(), onStream: () => {} });
    const sock = await dial(l.port);
    const hs = await runHandshake(sock, 'initiator', {
      identity: generateIdentity(),
      psk: SECRET,
      settings: { agentId: 'evil', maxFrameSize: DEFAULTS.maxFrameSize, initialStreamWindow: 65536, initialSessionWindow: 1 << 20, features: SUPPORTED_FEATURES },
      timeoutMs: 2000,
    });
    const server = (await l.sessions.next()).value as any;
    const sealer = new RecordSealer(hs.sendKey, { afterRecords: 1 << 20, afterMs: 1e9 }, 0);
    const closed = new Promise((r) => sock.once('close', r));
    sock.on('error', () => {});
    sock.resume();
    sock.write(sealer.seal(plaintext));
    await server.whenClosed();
    assert.equal(server.error?.code, 'WEFT-T007', name);
    await closed;
    l.server.close();
  }
});
