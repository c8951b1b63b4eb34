import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parsePodList, parseStatus, parseWatchEvent, podAddress, podKey } from '../../src/discovery/kubernetes-pods.js';
import { makePod, status, watchLine } from './_kube-api-server.js';

const port = { port: 7946 };

describe('pod qualification', () => {
  test('Running + podIP + Ready=True + not deleting', () => {
    assert.equal(podAddress(makePod({ name: 'a', ip: '10.0.0.1' }), port), '10.0.0.1:7946');
    assert.equal(podAddress(makePod({ name: 'a', ip: 'fd00::a' }), port), '[fd00::a]:7946');
    assert.equal(podAddress(makePod({ name: 'a', ip: '10.0.0.1', ready: false }), port), undefined);
    assert.equal(podAddress(makePod({ name: 'a', ip: '10.0.0.1', phase: 'Pending' }), port), undefined);
    assert.equal(podAddress(makePod({ name: 'a', ip: '10.0.0.1', phase: 'Failed' }), port), undefined);
    assert.equal(podAddress(makePod({ name: 'a', ip: '10.0.0.1', deleting: true }), port), undefined);
    assert.equal(podAddress(makePod({ name: 'a' }), port), undefined);
  });

  test('named ports resolve through spec.containers[].ports[]', () => {
    const pod = makePod({ name: 'a', ip: '10.0.0.1', ports: [{ name: 'http', containerPort: 80 }, { name: 'gossip', containerPort: 7000 }] });
    assert.equal(podAddress(pod, { portName: 'gossip' }), '10.0.0.1:7000');
    assert.equal(podAddress(pod, { portName: 'absent' }), undefined);
    const bad = makePod({ name: 'a', ip: '10.0.0.1', ports: [{ name: 'gossip', containerPort: 70000 }] });
    assert.equal(podAddress(bad, { portName: 'gossip' }), undefined);
  });

  test('podKey prefers the uid, then namespace/name', () => {
    const pod = makePod({ name: 'a', ip: '10.0.0.1' });
    assert.match(podKey(pod)!, /^4f7c1e2a-/);
    assert.equal(podKey({ metadata: { name: 'a', namespace: 'mesh' } }), 'mesh/a');
    assert.equal(podKey({ metadata: {} }), undefined);
    assert.equal(podKey(null), undefined);
  });
});

describe('PodList, WatchEvent and Status parsing', () => {
  test('a PodList page with a continue token', () => {
    const body = Buffer.from(
      JSON.stringify({
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: '10245', continue: 'ENCODED_CONTINUE_TOKEN', remainingItemCount: 3 },
        items: [makePod({ name: 'a', ip: '10.0.0.1' }), makePod({ name: 'b', ip: '10.0.0.2', ready: false })],
      }),
    );
    const r = parsePodList(body, port);
    assert.ok(r.ok);
    assert.deepEqual([...r.value.peers.values()], ['10.0.0.1:7946']);
    assert.equal(r.value.resourceVersion, '10245');
    assert.equal(r.value.continueToken, 'ENCODED_CONTINUE_TOKEN');
    const last = parsePodList(Buffer.from('{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1","continue":""},"items":[]}'), port);
    assert.ok(last.ok && last.value.continueToken === undefined, 'an empty continue means the end');
  });

  test('watch events of every type', () => {
    const pod = makePod({ name: 'a', ip: '10.0.0.1', resourceVersion: '11020' });
    const added = parseWatchEvent(Buffer.from(watchLine('ADDED', pod).trim()), port);
    assert.ok(added.ok && added.value.type === 'ADDED');
    assert.deepEqual([added.value.address, added.value.resourceVersion], ['10.0.0.1:7946', '11020']);
    const deleted = parseWatchEvent(Buffer.from(watchLine('DELETED', pod)), port);
    assert.ok(deleted.ok && deleted.value.type === 'DELETED' && deleted.value.address === undefined);
    const bookmark = parseWatchEvent(Buffer.from(watchLine('BOOKMARK', { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '12746' } })), port);
    assert.deepEqual(bookmark, { ok: true, value: { type: 'BOOKMARK', resourceVersion: '12746' } });
    const error = parseWatchEvent(Buffer.from(watchLine('ERROR', status(410, 'Expired', 'too old resource version: 1 (3171407)'))), port);
    assert.deepEqual(error, { ok: true, value: { type: 'ERROR', status: { code: 410, reason: 'Expired', message: 'too old resource version: 1 (3171407)' } } });
    for (const bad of ['', '{', 'null', '{"type":"ADDED"}', '{"type":"ADDED","object":{}}', '{"type":"NEW","object":{}}', '[]']) {
      assert.equal(parseWatchEvent(Buffer.from(bad), port).ok, false, bad);
    }
  });

  test('Status bodies: read when they are one, empty otherwise, long messages clipped', () => {
    assert.deepEqual(parseStatus(Buffer.from(JSON.stringify(status(403, 'Forbidden', 'no')))), { code: 403, reason: 'Forbidden', message: 'no' });
    assert.deepEqual(parseStatus(Buffer.from('<html>')), {});
    assert.ok(parseStatus(Buffer.from(JSON.stringify(status(500, 'X', 'm'.repeat(10_000))))).message!.length < 400);
  });

  test('arbitrary JSON never throws and only yields valid addresses (property)', () => {
    const podLike = fc.record(
      {
        metadata: fc.oneof(fc.record({ uid: fc.string(), name: fc.string(), deletionTimestamp: fc.oneof(fc.constant(null), fc.string()) }, { requiredKeys: [] }), fc.anything()),
        status: fc.oneof(
          fc.record(
            {
              phase: fc.constantFrom('Running', 'Pending', 42),
              podIP: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string(), fc.integer()),
              conditions: fc.oneof(fc.array(fc.record({ type: fc.constantFrom('Ready', 'Other'), status: fc.constantFrom('True', 'False', true) })), fc.anything()),
            },
            { requiredKeys: [] },
          ),
          fc.anything(),
        ),
        spec: fc.anything(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(podLike, fc.anything()), { maxLength: 8 }), fc.anything(), (items, metadata) => {
        const r = parsePodList(Buffer.from(JSON.stringify({ kind: 'PodList', metadata, items })), port);
        if (r.ok) for (const a of r.value.peers.values()) assert.match(a, /^(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:.]+\]):7946$/);
        for (const item of items) {
          const line = JSON.stringify({ type: 'MODIFIED', object: item }) ?? '';
          parseWatchEvent(Buffer.from(line), { portName: 'gossip' });
        }
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        parsePodList(Buffer.from(bytes), port);
        parseWatchEvent(Buffer.from(bytes), port);
        parseStatus(Buffer.from(bytes));
      }),
      { numRuns: 500 },
    );
  });
});
