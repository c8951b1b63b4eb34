import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dedupeAddresses, formatAddress, parseAddress, sameAddressSet } from '../../src/discovery/address.js';

describe('parseAddress', () => {
  test('accepts IPv4, host names and bracketed IPv6, canonicalized', () => {
    const cases: [string, string, string, number][] = [
      ['10.0.0.1:7946', '10.0.0.1:7946', '10.0.0.1', 7946],
      ['Node-1.Example.COM:1', 'node-1.example.com:1', 'node-1.example.com', 1],
      ['peer.example.:65535', 'peer.example:65535', 'peer.example', 65535],
      ['localhost:7946', 'localhost:7946', 'localhost', 7946],
      ['_gossip._udp.svc:53', '_gossip._udp.svc:53', '_gossip._udp.svc', 53],
      ['[::1]:7946', '[::1]:7946', '::1', 7946],
      ['[FD00:0:0:0:0:0:0:1]:80', '[fd00::1]:80', 'fd00::1', 80],
      ['[::ffff:10.0.0.1]:80', '[::ffff:a00:1]:80', '::ffff:a00:1', 80],
    ];
    for (const [input, address, host, port] of cases) {
      const r = parseAddress(input);
      assert.deepEqual(r, { ok: true, address, host, port }, input);
    }
  });

  test('rejects bad input with a reason', () => {
    const bad: [string, RegExp][] = [
      ['', /empty/],
      ['10.0.0.1', /missing port/],
      ['10.0.0.1:', /port/],
      ['10.0.0.1:0', /port/],
      ['10.0.0.1:65536', /port/],
      ['10.0.0.1:080', /port/],
      ['10.0.0.1:+80', /port/],
      ['10.0.0.1:8 0', /port/],
      [':7946', /missing host/],
      ['::1:7946', /brackets|colons/],
      ['fd00::1:7946', /brackets|colons/],
      ['[::1]', /missing port/],
      ['[::1:7946', /closing bracket/],
      ['[10.0.0.1]:80', /not an IPv6/],
      ['[fe80::1%eth0]:80', /not an IPv6/],
      ['[::1]x:80', /missing port/],
      ['256.1.1.1:80', /not a host name/],
      ['1.2.3:80', /not a host name/],
      ['bad_host-.example:80', /not a host name/],
      ['-bad.example:80', /not a host name/],
      ['a..b:80', /not a host name/],
      ['host name:80', /not a host name/],
      [`${'a'.repeat(64)}.example:80`, /not a host name/],
      [`${'a.'.repeat(200)}x:80`, /longer than/],
      ['http://10.0.0.1:80', /colons/],
      ['10.0.0.1:80/path', /port/],
    ];
    for (const [input, reason] of bad) {
      const r = parseAddress(input);
      assert.equal(r.ok, false, input);
      if (!r.ok) assert.match(r.reason, reason, input);
    }
    assert.equal(parseAddress(42 as unknown as string).ok, false);
  });

  test('parse(format(host, port)) is the identity on canonical addresses (property)', () => {
    const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
    const ipv6 = fc.ipV6();
    const name = fc.domain().filter((d) => d.length <= 240);
    fc.assert(
      fc.property(fc.oneof(ipv4, ipv6, name), fc.integer({ min: 1, max: 65535 }), (host, port) => {
        const text = formatAddress(host, port);
        const r = parseAddress(text);
        assert.ok(r.ok, `${text}: ${r.ok ? '' : r.reason}`);
        assert.equal(r.address, text);
        assert.equal(r.port, port);
        assert.deepEqual(parseAddress(r.address), r, 'idempotent');
      }),
      { numRuns: 500 },
    );
  });

  test('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const r = parseAddress(s);
        if (r.ok) assert.equal(parseAddress(r.address).ok, true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('address lists', () => {
  test('dedupeAddresses keeps the first occurrence in order', () => {
    assert.deepEqual(dedupeAddresses(['b:1', 'a:1', 'b:1', 'c:1', 'a:1']), ['b:1', 'a:1', 'c:1']);
  });
  test('sameAddressSet ignores order, not content', () => {
    assert.equal(sameAddressSet(['a:1', 'b:1'], ['b:1', 'a:1']), true);
    assert.equal(sameAddressSet(['a:1', 'b:1'], ['a:1']), false);
    assert.equal(sameAddressSet(['a:1', 'b:1'], ['a:1', 'c:1']), false);
    assert.equal(sameAddressSet(['a:1', 'a:1'], ['a:1', 'b:1']), false);
    assert.equal(sameAddressSet([], []), true);
  });
});
