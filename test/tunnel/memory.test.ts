import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { makePair } from './_pair.js';
import type { TunnelStream } from '../../src/tunnel/index.js';

// scripts/test.mjs runs node --test without --expose-gc: turn it on here.
v8.setFlagsFromString('--expose-gc');
const gc = (globalThis as { gc?: () => void }).gc ?? (vm.runInNewContext('gc') as (() => void) | undefined);

function heap(): number {
  for (let i = 0; i < 3; i++) gc?.();
  return process.memoryUsage().heapUsed;
}

test('memory per idle stream (both ends in this process)', { skip: gc ? false : 'needs a gc function' }, async () => {
  const n = 2000;
  const accepted: TunnelStream[] = [];
  const p = await makePair({ server: { onStream: (s) => void (accepted.push(s), s.on('error', () => {})) } });
  // Warm up code paths so that their one-time allocations are not counted.
  const warm = await Promise.all(Array.from({ length: 50 }, (_, i) => p.client.openStream('idle.svc.default', `w${i}.default`)));
  for (const s of warm) s.destroy();
  await sleep(50);
  accepted.length = 0;
  const before = heap();
  const streams = await Promise.all(Array.from({ length: n }, (_, i) => p.client.openStream('idle.svc.default', `m${i}.default`)));
  while (accepted.length < n) await sleep(5);
  await sleep(20);
  const perStream = (heap() - before) / n;
  const perEnd = perStream / 2;
  console.log(`# idle stream: ${perStream.toFixed(0)} B for both ends, ${perEnd.toFixed(0)} B per end (target < 4096)`);
  assert.ok(perEnd < 4096, `${perEnd} bytes per stream end`);
  assert.equal(p.client.stats().streamsActive, n);
  for (const s of streams) s.destroy();
  p.client.destroy();
  await p.server.whenClosed();
  await p.close();
});
