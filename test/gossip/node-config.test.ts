// The agent config's `gossip:` section: off when absent, defaults, validation
// that names the field, profiles and timing overrides, discovery entries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAgentConfig } from '../../src/config/agent-config.js';
import { FAST_DETECTION } from '../../src/gossip/membership-config.js';
import type { WeftError } from '../../src/errors.js';

const parse = (gossip: unknown) => parseAgentConfig(gossip === undefined ? {} : { gossip }, '/etc/weft/agent.yaml', '/etc/weft');
const fails = (gossip: unknown, field: RegExp) =>
  assert.throws(
    () => parse(gossip),
    (e: WeftError) => e.code === 'WEFT-A001' && field.test(e.message),
  );

test('no gossip section: gossip off; an empty one: defaults', () => {
  assert.equal(parse(undefined).gossip, undefined);
  const g = parse({})!.gossip!;
  assert.deepEqual(g.bind, { host: '127.0.0.1', port: 7946 });
  assert.equal(g.advertise, undefined);
  assert.equal(g.secretFile, undefined);
  assert.deepEqual(g.join, { discovery: [], retryInitialMs: 1000, retryMaxMs: 30_000 });
  assert.equal(g.profile, 'lan');
  assert.deepEqual(g.membership, {});
  assert.equal(g.healthCheckMs, 2000);
  assert.ok(g.name.length > 0);
});

test('fields: addresses become a static source, files resolve against the config, timings map to membership options', () => {
  const g = parse({
    name: 'node-a',
    bind: { host: '0.0.0.0', port: 0 },
    advertise: { host: '10.0.0.5', port: 7000 },
    secretFile: 'cluster.secret',
    join: { addresses: ['10.0.0.1:7946'], discovery: [{ file: { path: 'seeds.txt' } }], retry: { initial: '250ms', max: '5s' } },
    profile: 'fast',
    timings: { probeInterval: '500ms', gossipNodes: 4, pushPullInterval: '1m' },
    healthCheckInterval: '500ms',
  }).gossip!;
  assert.equal(g.name, 'node-a');
  assert.deepEqual(g.advertise, { host: '10.0.0.5', port: 7000 });
  assert.equal(g.secretFile, '/etc/weft/cluster.secret');
  assert.deepEqual(g.join.discovery, [{ static: ['10.0.0.1:7946'] }, { file: { path: '/etc/weft/seeds.txt' } }]);
  assert.equal(g.join.retryInitialMs, 250);
  assert.equal(g.join.retryMaxMs, 5000);
  assert.deepEqual(g.membership, { ...FAST_DETECTION, probeIntervalMs: 500, gossipNodes: 4, pushPullIntervalMs: 60_000 });
  assert.equal(g.healthCheckMs, 500);
});

test('validation names the field', () => {
  fails({ bind: { host: '0.0.0.0' } }, /gossip\.advertise\.host/);
  fails({ profile: 'wan' }, /gossip\.profile/);
  fails({ timings: { probeTimeout: '2s' } }, /gossip\.timings/);
  fails({ timings: { probeIntervall: '1s' } }, /gossip\.timings\.probeIntervall/);
  fails({ timings: { gossipNodes: 0 } }, /gossip\.timings\.gossipNodes/);
  fails({ secrets: 'x' }, /gossip\.secrets/);
  fails({ join: { addresses: ['not an address'] } }, /gossip\.join/);
  fails({ join: { discovery: [{ carrier: 'pigeon' }] } }, /gossip\.join/);
  fails({ bind: { port: 70000 } }, /gossip\.bind\.port/);
});
