// Splice (src/agent/splice.ts): shared listeners, 'drain' only while paused, and the
// idle sweep that replaced a Timeout per socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdleSweep, Splice } from '../../src/agent/splice.js';

/** n connected Unix socket pairs [ours, theirs]. */
async function socketPairs(dir: string, n: number): Promise<[net.Socket, net.Socket][]> {
  const path = join(dir, `s${Math.random().toString(36).slice(2)}`);
  const accepted: net.Socket[] = [];
  const server = net.createServer((s) => accepted.push(s));
  server.listen(path);
  await once(server, 'listening');
  const out: [net.Socket, net.Socket][] = [];
  for (let i = 0; i < n; i++) {
    const c = net.connect(path);
    await once(c, 'connect');
    while (accepted.length <= i) await new Promise((r) => setImmediate(r));
    out.push([accepted[i]!, c]);
  }
  server.close();
  return out;
}

test('splice: bytes both ways, no per-splice drain listener while flowing, both sides closed at the end', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-splice-'));
  try {
    const [[client, clientPeer], [upstream, upstreamPeer]] = await socketPairs(dir, 2);
    let finished!: (s: Splice) => void;
    const done = new Promise<Splice>((r) => (finished = r));
    const splice = new Splice(client!, upstream!, 0, (s) => finished(s));
    assert.equal(client!.listenerCount('drain') + upstream!.listenerCount('drain'), 0);
    clientPeer!.write('up');
    const [up] = (await once(upstreamPeer!, 'data')) as [Buffer];
    upstreamPeer!.write('down');
    const [down] = (await once(clientPeer!, 'data')) as [Buffer];
    assert.equal(up.toString() + down.toString(), 'updown');
    clientPeer!.end();
    await once(upstreamPeer!, 'end'); // the half-close is passed on
    upstreamPeer!.end();
    await once(clientPeer!, 'end');
    assert.equal(await done, splice, 'onDone once both sides closed');
    assert.ok(client!.destroyed && upstream!.destroyed);
    assert.equal(splice.end, 'closed');
    assert.equal(splice.bytesUp, 2);
    assert.equal(splice.bytesDown, 4);
    clientPeer!.destroy();
    upstreamPeer!.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('idle sweep: a quiet splice closes after its timeout, a busy one stays, and the timer goes with the last splice', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-splice-'));
  try {
    const pairs = await socketPairs(dir, 4);
    const ended: Splice[] = [];
    const closed = (s: net.Socket) => (s.destroyed ? Promise.resolve() : once(s, 'close').then(() => undefined));
    const idleMs = 120;
    const quiet = new Splice(pairs[0]![0], pairs[1]![0], idleMs, (s) => ended.push(s));
    const busy = new Splice(pairs[2]![0], pairs[3]![0], idleMs, (s) => ended.push(s));
    const sweep = IdleSweep.for(idleMs);
    assert.equal(sweep.size, 2, 'one sweep for both splices');
    const started = performance.now();
    // Keep `busy` moving for 3 timeouts; `quiet` sends nothing.
    const timer = setInterval(() => pairs[2]![1].write('x'), 20);
    try {
      await closed(pairs[0]![0]);
      const lasted = performance.now() - started;
      assert.equal(quiet.end, 'idle');
      // Node's timers have 1 ms granularity against performance.now(): 2 ms of slack below.
      assert.ok(lasted >= idleMs - 2 && lasted < idleMs * 10, `closed after ${lasted.toFixed(0)} ms (timeout ${idleMs} ms)`);
      await new Promise((r) => setTimeout(r, idleMs * 2));
      assert.equal(busy.client.destroyed, false, 'a splice moving bytes is not idle');
    } finally {
      clearInterval(timer);
    }
    await closed(pairs[2]![0]); // now quiet: closed by the sweep too
    assert.equal(busy.end, 'idle');
    assert.equal(sweep.size, 0);
    for (const [a, b] of pairs) (a.destroy(), b.destroy());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
