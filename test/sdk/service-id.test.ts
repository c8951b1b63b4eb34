import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isServiceId, parseServiceId, serviceIdProblem } from '../../src/sdk/service-id.js';

// Reference: the rules written as one regular expression plus the length limit.
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const REFERENCE = new RegExp(`^${LABEL}\\.${LABEL}\\.${LABEL}$`);
const reference = (id: string) => REFERENCE.test(id) && Buffer.byteLength(id) <= 255;

describe('service ID', () => {
  test('examples', () => {
    for (const ok of ['a.b.c', 'api.payments.prod', '0.1.2', 'a-b.c-d.e-f', `${'a'.repeat(63)}.b.c`]) {
      assert.equal(isServiceId(ok), true, ok);
      assert.equal(serviceIdProblem(ok), null);
    }
    for (const bad of ['', 'a', 'a.b', 'a.b.c.d', '.b.c', 'a.b.', 'a..c', '-a.b.c', 'a-.b.c', 'A.b.c', 'a_b.c.d', 'a b.c.d', 'ä.b.c', `${'a'.repeat(64)}.b.c`]) {
      assert.equal(isServiceId(bad), false, bad);
      assert.equal(typeof serviceIdProblem(bad), 'string');
    }
    assert.equal(isServiceId(42 as unknown as string), false);
  });

  test('the longest valid ID is 191 bytes, under the 255-byte wire limit', () => {
    const l63 = 'a'.repeat(63);
    const longest = `${l63}.${l63}.${"b".repeat(63)}`; // three 63-byte labels make 191 bytes: the 255 limit never binds
    assert.equal(longest.length, 191);
    assert.equal(isServiceId(longest), true);
    assert.equal(isServiceId('a'.repeat(256)), false);
  });

  test('agrees with the regular-expression reference on random strings', () => {
    const alphabet = fc.constantFrom(...'abz09-.A_é'.split(''));
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 80 }), (s) => isServiceId(s) === reference(s)),
      { numRuns: 2000 },
    );
    const label = fc.stringMatching(new RegExp(`^${LABEL}$`));
    fc.assert(
      fc.property(label, label, label, (a, b, c) => {
        const id = `${a}.${b}.${c}`;
        assert.equal(isServiceId(id), reference(id));
        assert.deepEqual(parseServiceId(id), { service: a, meshlet: b, namespace: c });
      }),
      { numRuns: 500 },
    );
  });
});
