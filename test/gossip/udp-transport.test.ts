// The real transport on 127.0.0.1 (ephemeral ports): request/response, limits,
// hostile input, and Membership instances joining and detecting a closed peer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { once } from 'node:events';
import { UdpTransport, parseAddress, formatAddress } from '../../src/gossip/udp-transport.js';
import { Membership } from '../../src/gossip/membership.js';
import { realClock, CryptoRandom } from '../../src/gossip/real-clock.js';
import type { MembershipEvent } from '../../src/gossip/types.js';

function until<T>(what: string, ms: number, check: (resolve: (v: T) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let stop = () => {};
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`timed out waiting for ${what}`));
    }, ms);
    stop = check((v) => {
      clearTimeout(timer);
      stop();
      resolve(v);
    });
  });
}

test('addresses parse and format, IPv6 in brackets', () => {
  assert.deepEqual(parseAddress('127.0.0.1:7946'), { host: '127.0.0.1', port: 7946 });
  assert.deepEqual(parseAddress('[::1]:80'), { host: '::1', port: 80 });
  assert.equal(parseAddress('nohost'), undefined);
  assert.equal(parseAddress('a:0'), undefined);
  assert.equal(parseAddress('a:70000'), undefined);
  assert.equal(formatAddress('::1', 5), '[::1]:5');
});

test('datagrams and request/response between two transports on one port number each', async () => {
  const a = await UdpTransport.create();
  const b = await UdpTransport.create();
  try {
    const got = once_packet(b);
    a.sendPacket(b.localAddress, new Uint8Array([1, 2, 3]));
    const [from, data] = await got;
    assert.equal(from, a.localAddress, 'UDP source is the sender gossip address');
    assert.deepEqual([...data], [1, 2, 3]);

    b.onRequest(async (_from, d) => new Uint8Array([...d].reverse()));
    const big = new Uint8Array(300_000).map((_, i) => i & 255);
    const reply = await a.request(b.localAddress, big, 2000);
    assert.equal(reply.length, big.length);
    assert.equal(reply[0], big[big.length - 1]);

    b.onRequest(() => {
      throw new Error('handler refuses');
    });
    await assert.rejects(a.request(b.localAddress, new Uint8Array([1]), 2000));
    b.onRequest(() => new Promise<Uint8Array>(() => {}));
    await assert.rejects(a.request(b.localAddress, new Uint8Array([1]), 200), /timed out/);
  } finally {
    await a.close();
    await b.close();
  }
  const c = await UdpTransport.create();
  const port = c.port;
  await c.close();
  const d = await UdpTransport.create();
  await assert.rejects(d.request(`127.0.0.1:${port}`, new Uint8Array([1]), 1000));
  await d.close();
});

function once_packet(t: UdpTransport): Promise<[string, Uint8Array]> {
  return new Promise((resolve) => t.onPacket((from, data) => resolve([from, data.slice()])));
}

test('oversized and junk datagrams are dropped; hostile TCP frames close the connection', async () => {
  const t = await UdpTransport.create({ maxPacketBytes: 1400, maxFrameBytes: 4096, maxInboundConnections: 4, inboundTimeoutMs: 300 });
  const seen: number[] = [];
  t.onPacket((_f, d) => seen.push(d.length));
  let handled = 0;
  t.onRequest((_f, d) => {
    handled++;
    return d;
  });
  const { port } = parseAddress(t.localAddress)!;
  try {
    const u = createSocket('udp4');
    for (const size of [0, 1, 1400, 1401, 9000]) u.send(new Uint8Array(size), port, '127.0.0.1');
    u.send(new Uint8Array([7]), port, '127.0.0.1');
    await until<void>('datagrams', 2000, (done) => {
      const i = setInterval(() => seen.includes(1) && seen.length >= 3 && done(), 10);
      return () => clearInterval(i);
    });
    u.close();
    assert.ok(!seen.some((n) => n > 1400), `delivered sizes ${seen}`);
    assert.ok(t.stats.packetsDropped >= 2);

    const closedAfter = async (bytes: Uint8Array, end = true) => {
      const s = connect(port, '127.0.0.1');
      await once(s, 'connect');
      s.write(bytes);
      if (end) s.end();
      const chunks: Buffer[] = [];
      s.on('data', (c) => chunks.push(c));
      s.on('error', () => {});
      await once(s, 'close');
      return Buffer.concat(chunks);
    };
    const rejectedBefore = t.stats.framesRejected;
    // A length over the limit is refused before any body is buffered.
    assert.equal((await closedAfter(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2]), false)).length, 0);
    // Bytes after the frame.
    assert.equal((await closedAfter(new Uint8Array([0, 0, 0, 1, 9, 9]), false)).length, 0);
    // A frame that never completes is cut by the inbound timeout (slowloris).
    const t0 = performance.now();
    assert.equal((await closedAfter(new Uint8Array([0, 0, 0, 10, 1]), false)).length, 0);
    assert.ok(performance.now() - t0 < 2000);
    // Truncated then closed by the peer: nothing answered, nothing thrown.
    assert.equal((await closedAfter(new Uint8Array([0, 0]))).length, 0);
    assert.ok(t.stats.framesRejected - rejectedBefore >= 3, `rejected ${t.stats.framesRejected}`);
    assert.equal(handled, 0);

    // Connections over the limit are refused while others hold their slots.
    const holders = await Promise.all(
      [0, 1, 2, 3].map(async () => {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => {});
        await once(s, 'connect');
        return s;
      }),
    );
    await new Promise((r) => setTimeout(r, 50));
    const extra = connect(port, '127.0.0.1');
    extra.on('error', () => {});
    await once(extra, 'close');
    assert.ok(t.stats.connectionsRefused >= 1);
    for (const s of holders) s.destroy();

    // Still serving once the held slots are released (the server sees the closes asynchronously).
    const c = await UdpTransport.create();
    let reply: Uint8Array | undefined;
    for (let i = 0; i < 50 && !reply; i++) {
      reply = await c.request(t.localAddress, new Uint8Array([5, 6]), 2000).catch(() => undefined);
      if (!reply) await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual([...reply!], [5, 6]);
    await c.close();
  } finally {
    await t.close();
  }
});

test('real members on 127.0.0.1 join through one, then detect a closed member', async () => {
  const fast = {
    probeIntervalMs: 200,
    probeTimeoutMs: 100,
    gossipIntervalMs: 50,
    suspicionMult: 2,
    suspicionMaxTimeoutMult: 3,
    requestTimeoutMs: 1000,
    postJoinSyncMs: 200,
  };
  const members: Membership[] = [];
  const events: { observer: string; e: MembershipEvent }[] = [];
  for (let i = 0; i < 5; i++) {
    const transport = await UdpTransport.create({ maxPacketBytes: 1400 });
    const m = new Membership({ transport, clock: realClock, random: new CryptoRandom() }, { name: `real-${i}`, ...fast });
    m.onEvent((e) => events.push({ observer: m.id, e }));
    members.push(m);
  }
  try {
    members[0].start();
    const seed = members[0].localMember.address;
    const joined = await Promise.all(members.slice(1).map((m) => m.join([seed, '127.0.0.1:1'])));
    assert.deepEqual(joined, [1, 1, 1, 1], 'each join succeeds through the one answering address');
    await until<void>('all see all', 10_000, (done) => {
      const i = setInterval(() => members.every((m) => m.size === 5) && done(), 10);
      return () => clearInterval(i);
    });

    const victim = members[4];
    await victim.shutdown();
    const rest = members.slice(0, 4);
    await until<void>('all detect the closed member', 15_000, (done) => {
      const i = setInterval(() => rest.every((m) => m.member(victim.id)?.state === 'dead') && done(), 10);
      return () => clearInterval(i);
    });
    const fails = events.filter((x) => x.e.type === 'fail');
    assert.ok(fails.every((x) => x.e.member.id === victim.id), 'no live member declared dead');
    assert.equal(new Set(fails.map((x) => x.observer)).size, 4);
  } finally {
    await Promise.all(members.map((m) => m.shutdown()));
  }
});
