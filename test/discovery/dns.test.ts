import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../../src/errors.js';
import { DnsDiscovery, type DnsDiscoveryConfig } from '../../src/discovery/dns.js';
import { TestDnsServer, TYPE, parseQuery, respond, type Behaviour } from './_dns-server.js';

let server: TestDnsServer;
const errorsOf = (list: WeftError[]) => list.map((e) => e.code);
const isCode = (code: string, check?: (e: WeftError) => void) => (e: unknown) => {
  assert.ok(e instanceof WeftError, String(e));
  assert.equal(e.code, code, e.message);
  check?.(e);
  return true;
};

function dns(config: Omit<DnsDiscoveryConfig, 'server'>, errors: WeftError[] = []): DnsDiscovery {
  // Generous by default (a busy machine must not fail the success cases); the timeout tests set their own.
  return new DnsDiscovery({ timeoutMs: 1000, tries: 2, ...config, server: server.address } as DnsDiscoveryConfig, { onError: (e) => errors.push(e) });
}

before(async () => {
  server = await TestDnsServer.start();
  server.zone.set('peers.test', {
    A: ['10.0.0.1', '10.0.0.2', '10.0.0.1'],
    AAAA: ['fd00::1', 'fd00:0:0:0:0:0:0:2'],
    SRV: [
      { priority: 20, weight: 100, port: 7946, target: 'backup.peers.test' },
      { priority: 10, weight: 1, port: 7947, target: 'light.peers.test' },
      { priority: 10, weight: 60, port: 7946, target: 'heavy.peers.test.' },
      { priority: 10, weight: 60, port: 7948, target: 'Also-heavy.peers.test' },
    ],
  });
  server.zone.set('a-only.test', { A: ['192.0.2.7'] });
  server.zone.set('no-service.test', { SRV: [{ priority: 0, weight: 0, port: 0, target: '.' }] });
  server.zone.set('many.test', { A: Array.from({ length: 60 }, (_, i) => `10.1.0.${i + 1}`) });
});
after(() => server.close());

describe('DnsDiscovery against a local DNS server', () => {
  test('A records joined with the configured port, de-duplicated', async () => {
    assert.deepEqual(await dns({ name: 'peers.test', type: 'A', port: 7946 }).discover(), ['10.0.0.1:7946', '10.0.0.2:7946']);
    const q = server.queries.at(-1)!;
    assert.equal(q.name, 'peers.test');
    assert.equal(q.type, TYPE.A);
  });

  test('AAAA records in brackets, canonical', async () => {
    assert.deepEqual(await dns({ name: 'PEERS.test', type: 'AAAA', port: 7946 }).discover(), ['[fd00::1]:7946', '[fd00::2]:7946']);
  });

  test('SRV records as target:port, by priority then weight', async () => {
    assert.deepEqual(await dns({ name: 'peers.test', type: 'SRV' }).discover(), [
      'also-heavy.peers.test:7948',
      'heavy.peers.test:7946',
      'light.peers.test:7947',
      'backup.peers.test:7946',
    ]);
  });

  test('an SRV target of "." (service not available) yields no address', async () => {
    const errors: WeftError[] = [];
    assert.deepEqual(await dns({ name: 'no-service.test', type: 'SRV' }, errors).discover(), []);
    assert.deepEqual(errors, []);
  });

  test('NXDOMAIN and NODATA are WEFT-D004', async () => {
    await assert.rejects(dns({ name: 'missing.test', type: 'A', port: 1 }).discover(), isCode('WEFT-D004', (e) => assert.match(e.message, /no such name/)));
    await assert.rejects(dns({ name: 'a-only.test', type: 'SRV' }).discover(), isCode('WEFT-D004', (e) => assert.match(e.message, /no records/)));
    await assert.rejects(dns({ name: 'a-only.test', type: 'AAAA', port: 1 }).discover(), isCode('WEFT-D004'));
  });

  for (const behaviour of ['servfail', 'refused', 'truncated', 'bad-rdlength', 'pointer-loop', 'bad-a-length', 'header-only'] as Behaviour[]) {
    test(`${behaviour} answer is WEFT-D003, for A and SRV`, async () => {
      const name = `${behaviour}.test`;
      server.zone.set(name, { A: ['10.0.0.1', '10.0.0.2'], SRV: [{ priority: 1, weight: 1, port: 7946, target: 'x.test' }] });
      server.behaviours.set(name, behaviour);
      await assert.rejects(dns({ name, type: 'A', port: 1 }).discover(), isCode('WEFT-D003', (e) => assert.equal(e.details.name, name)));
      await assert.rejects(dns({ name, type: 'SRV' }).discover(), isCode('WEFT-D003'));
    });
  }

  test('a server that never answers fails within timeoutMs × tries', async () => {
    server.behaviours.set('silent.test', 'silent');
    const t0 = performance.now();
    await assert.rejects(
      dns({ name: 'silent.test', type: 'A', port: 1, timeoutMs: 40, tries: 2 }).discover(),
      isCode('WEFT-D003', (e) => assert.equal(e.details.reason, 'timeout')),
    );
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 70 && elapsed < 1000, `took ${elapsed} ms`);
  });

  test('aborting a pending query rejects with the abort reason at once', async () => {
    server.behaviours.set('silent.test', 'silent');
    const ac = new AbortController();
    const pending = dns({ name: 'silent.test', type: 'A', port: 1, timeoutMs: 5000 }).discover(ac.signal);
    setImmediate(() => ac.abort(new Error('shutting down')));
    const t0 = performance.now();
    await assert.rejects(pending, /shutting down/);
    assert.ok(performance.now() - t0 < 1000);
  });

  test('answers beyond maxAddresses are dropped with a warning', async () => {
    const errors: WeftError[] = [];
    const list = await dns({ name: 'many.test', type: 'A', port: 7946, maxAddresses: 10 }, errors).discover();
    assert.equal(list.length, 10);
    assert.equal(list[0], '10.1.0.1:7946');
    assert.deepEqual(errorsOf(errors), ['WEFT-D003']);
    assert.equal(errors[0]!.details.received, 60);
  });

  test('an SRV record with port 0 is skipped and reported (WEFT-D001)', async () => {
    server.zone.set('port0.test', {
      SRV: [
        { priority: 1, weight: 1, port: 0, target: 'a.test' },
        { priority: 2, weight: 1, port: 7946, target: 'b.test' },
      ],
    });
    const errors: WeftError[] = [];
    assert.deepEqual(await dns({ name: 'port0.test', type: 'SRV' }, errors).discover(), ['b.test:7946']);
    assert.deepEqual(errorsOf(errors), ['WEFT-D001']);
  });

  test('watch re-lists periodically, reports changes once, keeps the last list through failures', async () => {
    server.zone.set('watched.test', { A: ['10.2.0.1'] });
    const errors: WeftError[] = [];
    const provider = dns({ name: 'watched.test', type: 'A', port: 7946, refreshIntervalMs: 10, retryDelayMs: 5 }, errors);
    const seen: string[][] = [];
    let wake: (() => void) | undefined;
    const ac = new AbortController();
    const done = provider.watch((l) => {
      seen.push(l);
      wake?.();
    }, ac.signal);
    const waitFor = async (n: number) => {
      while (seen.length < n) await new Promise<void>((r) => (wake = r));
    };
    await waitFor(1);
    assert.deepEqual(seen[0], ['10.2.0.1:7946']);
    // A failing server: errors reported, the list is not emptied.
    server.behaviours.set('watched.test', 'servfail');
    const before = server.queries.length;
    while (errors.length < 2) await new Promise((r) => setTimeout(r, 5));
    assert.ok(server.queries.length > before);
    assert.equal(seen.length, 1);
    assert.ok(errors.every((e) => e.code === 'WEFT-D003'));
    server.behaviours.delete('watched.test');
    server.zone.set('watched.test', { A: ['10.2.0.2', '10.2.0.1'] });
    await waitFor(2);
    assert.deepEqual(seen[1], ['10.2.0.2:7946', '10.2.0.1:7946']);
    ac.abort();
    await done;
    assert.equal(seen.length, 2, 'unchanged answers are not reported again');
  });
});

describe('the test DNS server encoder', () => {
  const query = (name: string, type: number): Buffer => {
    const labels = name.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]);
    return Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, type, 0, 1]);
  };

  test('encodes header, question and an A answer per RFC 1035', () => {
    const zone = new Map([['a.test', { A: ['192.0.2.1'] }]]);
    const out = respond(query('a.test', TYPE.A), zone, new Map())!;
    assert.equal(out.readUInt16BE(0), 0x1234, 'ID echoed');
    assert.equal(out[2]! & 0x80, 0x80, 'QR');
    assert.equal(out[3]! & 0x0f, 0, 'NOERROR');
    assert.deepEqual([out.readUInt16BE(4), out.readUInt16BE(6)], [1, 1]);
    const q = parseQuery(out)!;
    assert.equal(q.name, 'a.test');
    const rr = out.subarray(q.questionEnd);
    assert.equal(rr.readUInt16BE(0), 0xc00c, 'owner is a pointer to the question name');
    assert.deepEqual([rr.readUInt16BE(2), rr.readUInt16BE(4), rr.readUInt16BE(10)], [TYPE.A, 1, 4]);
    assert.deepEqual([...rr.subarray(12)], [192, 0, 2, 1]);
  });

  test('encodes SRV RDATA per RFC 2782 and NXDOMAIN for unknown names', () => {
    const zone = new Map([['_g._udp.test', { SRV: [{ priority: 1, weight: 2, port: 7946, target: 'n.test' }] }]]);
    const out = respond(query('_g._udp.test', TYPE.SRV), zone, new Map())!;
    const rd = out.subarray(parseQuery(out)!.questionEnd + 12);
    assert.deepEqual([rd.readUInt16BE(0), rd.readUInt16BE(2), rd.readUInt16BE(4)], [1, 2, 7946]);
    assert.deepEqual([...rd.subarray(6)], [1, 0x6e, 4, 0x74, 0x65, 0x73, 0x74, 0]);
    const nx = respond(query('x.test', TYPE.A), zone, new Map())!;
    assert.equal(nx[3]! & 0x0f, 3);
  });
});
