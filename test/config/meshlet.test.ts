// Meshlet and agent config validation: defaults, every error naming file, field
// and expectation, multi-document files, duplicates, redaction.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAgentConfig } from '../../src/config/agent-config.js';
import { defaultAgentConfig } from '../../src/config/default-config.js';
import { FieldPath } from '../../src/config/fields.js';
import { loadMeshlets, parseMeshletYaml } from '../../src/config/load-meshlets.js';
import { parseMeshlet } from '../../src/config/meshlet.js';
import { REDACTED, redact } from '../../src/config/redact.js';
import { WeftError } from '../../src/errors.js';

const defaults = { idleTimeoutNs: 3_600_000_000_000n };
const doc = (spec: Record<string, unknown>, meta: Record<string, unknown> = { name: 'app', namespace: 'shop' }) => ({
  apiVersion: 'weft.dev/v1alpha1',
  kind: 'Meshlet',
  metadata: meta,
  spec,
});
const parse = (d: unknown) => parseMeshlet(d, new FieldPath('m.yaml', ''), defaults);

function expectError(fn: () => unknown, code: string, field: string, expected: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof WeftError);
    assert.equal(e.code, code);
    if (code === 'WEFT-A001') {
      assert.equal(e.details.field, field);
      assert.match(String(e.details.expected), expected);
    }
    assert.match(e.message, /m\.yaml/);
    return true;
  });
}

test('a minimal meshlet gets defaults: namespace default, one instance main, agent idle timeout', () => {
  const m = parse(doc({ provides: ['http', { name: 'grpc' }] }, { name: 'app' }));
  assert.equal(m.namespace, 'default');
  assert.equal(m.key, 'default/app');
  assert.deepEqual(m.provides, ['http', 'grpc']);
  assert.deepEqual(m.instances, [{ name: 'main', version: 'main', weight: 100 }]);
  assert.equal(m.idleTimeoutMs, 3_600_000);
});

test('idleTimeout: Go durations, 0 disables, negative and unitless rejected', () => {
  assert.equal(parse(doc({ idleTimeout: '1h30m' })).idleTimeoutMs, 5_400_000);
  assert.equal(parse(doc({ idleTimeout: '1.5s' })).idleTimeoutMs, 1_500);
  assert.equal(parse(doc({ idleTimeout: 0 })).idleTimeoutMs, 0);
  expectError(() => parse(doc({ idleTimeout: '-1m' })), 'WEFT-A001', 'spec.idleTimeout', /not negative/);
  expectError(() => parse(doc({ idleTimeout: '90' })), 'WEFT-A001', 'spec.idleTimeout', /missing unit/);
  expectError(() => parse(doc({ idleTimeout: 90 })), 'WEFT-A001', 'spec.idleTimeout', /Go duration/);
  assert.equal(parse(doc({ idleTimeout: '596h' })).idleTimeoutMs, 596 * 3_600_000);
  expectError(() => parse(doc({ idleTimeout: '1000h' })), 'WEFT-A001', 'spec.idleTimeout', /at most 596h31m23\.647s/);
});

test('uses: exact IDs and whole-part wildcards only', () => {
  assert.deepEqual(parse(doc({ uses: ['a.b.c', '*.payments.prod', '*.*.prod', 'http.*.prod'] })).uses, ['a.b.c', '*.payments.prod', '*.*.prod', 'http.*.prod']);
  for (const bad of ['pay*.x.y', '*.prod', 'a.b', 'A.b.c', 'a..c', '**.b.c']) {
    expectError(() => parse(doc({ uses: ['ok.b.c', bad] })), 'WEFT-A001', 'spec.uses[1]', /service ID/);
  }
});

test('field errors name the path', () => {
  expectError(() => parse(doc({}, { name: 'App' })), 'WEFT-A001', 'metadata.name', /DNS label/);
  expectError(() => parse(doc({ provides: [7] })), 'WEFT-A001', 'spec.provides[0]', /DNS label/);
  expectError(() => parse(doc({ instances: [{ name: 'a', weight: -1 }] })), 'WEFT-A001', 'spec.instances[0].weight', /integer from 0 to 10000/);
  expectError(() => parse(doc({ instances: [{ name: 'a', wieght: 1 }] })), 'WEFT-A001', 'spec.instances[0].wieght', /one of the fields/);
  expectError(() => parse({ ...doc({}), apiVersion: 'v1' }), 'WEFT-A001', 'apiVersion', /weft\.dev\/v1alpha1/);
  expectError(() => parse(doc({ provides: ['a', 'a'] })), 'WEFT-A003', '', /./);
  expectError(() => parse(doc({ instances: [{ name: 'a' }, { name: 'a' }] })), 'WEFT-A003', '', /./);
});

test('canary: versions must exist, steps strictly increasing 1..100, every instance stable or canary', () => {
  const instances = [
    { name: 'a', version: 'v1', weight: 3 },
    { name: 'b', version: 'v2', weight: 1 },
  ];
  const m = parse(doc({ instances, canary: { stable: 'v1', canary: 'v2', steps: [5, 25, 50, 100], interval: '30s' } }));
  assert.deepEqual(m.canary, { stable: 'v1', canary: 'v2', steps: [5, 25, 50, 100], intervalMs: 30_000 });
  assert.deepEqual(parse(doc({ instances, canary: { stable: 'v1', canary: 'v2' } })).canary?.steps, [5, 25, 50, 100]);
  expectError(() => parse(doc({ instances, canary: { stable: 'v1', canary: 'v3' } })), 'WEFT-A001', 'spec.canary.canary', /version of one of spec\.instances/);
  expectError(() => parse(doc({ instances, canary: { stable: 'v1', canary: 'v2', steps: [50, 25] } })), 'WEFT-A001', 'spec.canary.steps[1]', /integer from 51 to 100/);
  expectError(() => parse(doc({ instances, canary: { stable: 'v1', canary: 'v2', steps: [] } })), 'WEFT-A001', 'spec.canary.steps', /at least one step/);
  expectError(() => parse(doc({ instances, canary: { stable: 'v1', canary: 'v2', interval: '0s' } })), 'WEFT-A001', 'spec.canary.interval', /greater than 0/);
  expectError(
    () => parse(doc({ instances: [...instances, { name: 'c', version: 'v9' }], canary: { stable: 'v1', canary: 'v2' } })),
    'WEFT-A001',
    'spec.instances[2].version',
    /stable \(v1\) or canary \(v2\)/,
  );
});

test('multi-document YAML: each document named in errors; empty documents skipped', () => {
  const text = `apiVersion: weft.dev/v1alpha1\nkind: Meshlet\nmetadata: {name: a}\n---\n---\napiVersion: weft.dev/v1alpha1\nkind: Meshlet\nmetadata: {name: b}\nspec: {idleTimeout: 1x}\n`;
  assert.throws(() => parseMeshletYaml(text, 'm.yaml', defaults), /m\.yaml \(document 3\): spec\.idleTimeout/);
  const ok = parseMeshletYaml(text.replace('1x', '1s'), 'm.yaml', defaults);
  assert.deepEqual(ok.map((m) => m.name), ['a', 'b']);
});

test('loading a directory: sorted *.yaml/*.yml; duplicates across files rejected; missing path named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-cfg-'));
  try {
    writeFileSync(join(dir, 'b.yml'), 'apiVersion: weft.dev/v1alpha1\nkind: Meshlet\nmetadata: {name: b}\n');
    writeFileSync(join(dir, 'a.yaml'), 'apiVersion: weft.dev/v1alpha1\nkind: Meshlet\nmetadata: {name: a}\n');
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const loaded = loadMeshlets([dir], [], defaults);
    assert.deepEqual(loaded.meshlets.map((m) => m.name), ['a', 'b']);
    writeFileSync(join(dir, 'c.yaml'), 'apiVersion: weft.dev/v1alpha1\nkind: Meshlet\nmetadata: {name: a}\n');
    assert.throws(() => loadMeshlets([dir], [], defaults), (e: unknown) => e instanceof WeftError && e.code === 'WEFT-A003' && /a\.yaml/.test(e.message) && /c\.yaml/.test(e.message));
    assert.throws(() => loadMeshlets([join(dir, 'nope')], [], defaults), (e: unknown) => e instanceof WeftError && e.code === 'WEFT-A002');
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('agent config: defaults, relative paths, modes, errors', () => {
  const c = parseAgentConfig({}, '/etc/weft/agent.yaml', '/etc/weft');
  assert.equal(c.socketRoot, '/etc/weft/.weft/sockets');
  assert.equal(c.sockets.mode, 0o660);
  assert.deepEqual(c.admin, { host: '127.0.0.1', port: 9901 });
  assert.equal(c.timeouts.handshakeMs, 5000);
  const d = parseAgentConfig({ sockets: { mode: '0600', owner: 0, group: 'root' }, meshlets: { paths: ['m'] }, admin: { port: 0 } }, 'x.yaml', '/srv');
  assert.equal(d.sockets.mode, 0o600);
  assert.equal(d.sockets.uid, 0);
  assert.equal(d.sockets.gid, 0);
  assert.deepEqual(d.meshlets.paths, ['/srv/m']);
  assert.throws(() => parseAgentConfig({ sockets: { mode: 660 } }, 'x.yaml', '/'), /sockets\.mode: expected an octal mode string/);
  assert.throws(() => parseAgentConfig({ admin: { port: 70000 } }, 'x.yaml', '/'), /admin\.port: expected an integer from 0 to 65535/);
  assert.throws(() => parseAgentConfig({ limits: { maxConections: 1 } }, 'x.yaml', '/'), /limits\.maxConections/);
  assert.throws(() => parseAgentConfig({ sockets: { owner: 'no-such-user-here' } }, 'x.yaml', '/'), /sockets\.owner/);
});

test('the embedded default config runs the demo echo meshlet under the working directory', () => {
  const c = defaultAgentConfig('/work/x');
  assert.equal(c.socketRoot, '/work/x/.weft/sockets');
  assert.deepEqual(c.meshlets.inline.map((m) => m.key), ['default/demo']);
  assert.deepEqual(c.demoEcho, ['echo.demo.default']);
});

test('redact hides secret-looking keys at any depth', () => {
  const out = redact({ cluster: { secret: 's3cr3t', name: 'c1' }, tokens: [{ token: 't' }], apiKey: 'k', admin: { port: 1 } });
  assert.deepEqual(out, { cluster: { secret: REDACTED, name: 'c1' }, tokens: REDACTED, apiKey: REDACTED, admin: { port: 1 } });
});
