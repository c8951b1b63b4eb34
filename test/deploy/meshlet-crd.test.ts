// deploy/crd-meshlet.yaml against the agent's own Meshlet validator
// (src/config/meshlet.ts): the examples pass both, every bad object fails
// both, and the few documented differences are asserted as such.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { schemaProblems, validate, type CelRule, type Schema } from './crd-schema-check.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const here = dirname(fileURLToPath(import.meta.url));

// The agent's validator, loaded at run time: it lives in the agent's files (src/config).
interface AgentConfigModules {
  parseMeshlet: (doc: unknown, at: unknown, defaults: { idleTimeoutNs: bigint }) => unknown;
  FieldPath: new (file: string, path: string) => unknown;
  parseDuration: (s: string) => bigint;
}
async function loadAgentValidator(): Promise<AgentConfigModules> {
  const dist = join(here, '..', '..', 'src', 'config');
  const meshlet = join(dist, 'meshlet.js');
  if (!existsSync(meshlet)) {
    throw new Error(`the agent's Meshlet validator is not built (${meshlet} missing): this test needs src/config/meshlet.ts from the agent branch`);
  }
  const m = (await import(pathToFileURL(meshlet).href)) as Pick<AgentConfigModules, 'parseMeshlet'>;
  const f = (await import(pathToFileURL(join(dist, 'fields.js')).href)) as Pick<AgentConfigModules, 'FieldPath'>;
  const d = (await import(pathToFileURL(join(dist, 'duration.js')).href)) as Pick<AgentConfigModules, 'parseDuration'>;
  return { parseMeshlet: m.parseMeshlet, FieldPath: f.FieldPath, parseDuration: d.parseDuration };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const versionOf = (i: { version?: string }): string => i.version ?? 'main';

/** JavaScript for each CEL rule of the CRD (CEL's duration() parses Go durations: the agent's Go-exact parser). */
function celRules(parseDuration: (s: string) => bigint): Record<string, CelRule> {
  const MAX = parseDuration('596h31m23.647s');
  return {
    "self.metadata.name.matches('^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')": (self) => typeof self.metadata?.name === 'string' && DNS_LABEL.test(self.metadata.name),
    '!has(self.canary) || self.canary.stable != self.canary.canary': (self) => self.canary === undefined || self.canary.stable !== self.canary.canary,
    "!has(self.canary) || (has(self.instances) && self.instances.exists(i, (has(i.version) ? i.version : 'main') == self.canary.stable) && self.instances.exists(i, (has(i.version) ? i.version : 'main') == self.canary.canary))":
      (self) =>
        self.canary === undefined ||
        (self.instances !== undefined &&
          self.instances.some((i: { version?: string }) => versionOf(i) === self.canary.stable) &&
          self.instances.some((i: { version?: string }) => versionOf(i) === self.canary.canary)),
    "!has(self.canary) || !has(self.instances) || self.instances.all(i, (has(i.version) ? i.version : 'main') in [self.canary.stable, self.canary.canary])":
      (self) => self.canary === undefined || self.instances === undefined || self.instances.every((i: { version?: string }) => [self.canary.stable, self.canary.canary].includes(versionOf(i))),
    "duration(self) <= duration('596h31m23.647s')": (self) => parseDuration(self) <= MAX,
    'self.isSorted()': (self: number[]) => self.every((v, i) => i === 0 || self[i - 1]! <= v),
    "duration(self) > duration('0s') && duration(self) <= duration('596h31m23.647s')": (self) => {
      const ns = parseDuration(self);
      return ns > 0n && ns <= MAX;
    },
  };
}

function base(): Record<string, any> {
  return {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'Meshlet',
    metadata: { name: 'payments', namespace: 'shop' },
    spec: {
      provides: ['charge', 'refund'],
      uses: ['*.ledger.shop'],
      idleTimeout: '90s',
      instances: [
        { name: 'v1-a', version: 'v1', weight: 100 },
        { name: 'v2-a', version: 'v2', weight: 100 },
      ],
      canary: { stable: 'v1', canary: 'v2', steps: [5, 25, 50, 100], interval: '10m' },
    },
  };
}

/** Bad objects: each a small change to a good one, with what is wrong. */
const BAD: [string, (m: Record<string, any>) => void][] = [
  ['wrong apiVersion', (m) => (m.apiVersion = 'weft.dev/v1')],
  ['metadata.name with a dot', (m) => (m.metadata.name = 'pay.ments')],
  ['metadata.name upper case', (m) => (m.metadata.name = 'Payments')],
  ['metadata.name of 64 characters', (m) => (m.metadata.name = 'a'.repeat(64))],
  ['spec not a mapping', (m) => (m.spec = ['provides'])],
  ['unknown spec field (typo)', (m) => (m.spec.provide = ['x'])],
  ['provides not a list', (m) => (m.spec.provides = 'charge')],
  ['provides item not a DNS label', (m) => (m.spec.provides = ['Charge'])],
  ['provides item with underscore', (m) => (m.spec.provides = ['char_ge'])],
  ['provides listed twice', (m) => (m.spec.provides = ['charge', 'charge'])],
  ['uses with two parts', (m) => (m.spec.uses = ['ledger.shop'])],
  ['uses with a partial wildcard', (m) => (m.spec.uses = ['led*.ledger.shop'])],
  ['uses not a string', (m) => (m.spec.uses = [42])],
  ['idleTimeout negative', (m) => (m.spec.idleTimeout = '-1m')],
  ['idleTimeout with a d unit', (m) => (m.spec.idleTimeout = '1d')],
  ['idleTimeout with a space', (m) => (m.spec.idleTimeout = '1h 30m')],
  ['idleTimeout without a unit', (m) => (m.spec.idleTimeout = '90')],
  ['idleTimeout over the longest timer', (m) => (m.spec.idleTimeout = '600h')],
  ['idleTimeout overflowing int64', (m) => (m.spec.idleTimeout = '9999999999999999999h')],
  ['instance without a name', (m) => delete m.spec.instances[0].name],
  ['instance name listed twice', (m) => (m.spec.instances[1].name = 'v1-a')],
  ['instance weight over 10000', (m) => (m.spec.instances[0].weight = 10001)],
  ['instance weight negative', (m) => (m.spec.instances[0].weight = -1)],
  ['instance weight fractional', (m) => (m.spec.instances[0].weight = 1.5)],
  ['instance unknown field', (m) => (m.spec.instances[0].port = 80)],
  ['instance version not a DNS label', (m) => (m.spec.instances[0].version = 'V1')],
  ['canary without stable', (m) => delete m.spec.canary.stable],
  ['canary equal to stable', (m) => (m.spec.canary.canary = 'v1')],
  ['canary version not among instances', (m) => (m.spec.canary.canary = 'v3')],
  ['canary with a stray instance version', (m) => m.spec.instances.push({ name: 'v3-a', version: 'v3' })],
  ['canary without instances (only the default main)', (m) => delete m.spec.instances],
  ['canary steps not increasing', (m) => (m.spec.canary.steps = [50, 25])],
  ['canary steps repeating', (m) => (m.spec.canary.steps = [25, 25, 50])],
  ['canary steps empty', (m) => (m.spec.canary.steps = [])],
  ['canary step 0', (m) => (m.spec.canary.steps = [0, 50])],
  ['canary step over 100', (m) => (m.spec.canary.steps = [50, 101])],
  ['canary interval zero', (m) => (m.spec.canary.interval = '0s')],
  ['canary interval bare 0', (m) => (m.spec.canary.interval = '0')],
  ['canary unknown field', (m) => (m.spec.canary.pause = true)],
];

/** Good variants beyond the examples: edge values both must accept. */
const GOOD: [string, (m: Record<string, any>) => void][] = [
  ['no spec at all', (m) => delete m.spec],
  ['idleTimeout "0" disables', (m) => (m.spec.idleTimeout = '0')],
  ['idleTimeout with fractions and µs', (m) => (m.spec.idleTimeout = '1.5h2m.5s5.s10µs3ns')],
  ['idleTimeout with a plus sign', (m) => (m.spec.idleTimeout = '+5m')],
  ['idleTimeout at the longest timer', (m) => (m.spec.idleTimeout = '596h31m23.647s')],
  ['uses *.*.*', (m) => (m.spec.uses = ['*.*.*', 'a.b.c', 'a.b.c'])],
  ['instance weight 0 and 10000, version defaulted', (m) => (m.spec.instances = [{ name: 'v1-a', version: 'v1', weight: 0 }, { name: 'v2-a', version: 'v2', weight: 10000 }])],
  ['canary steps default', (m) => delete m.spec.canary.steps],
  ['canary with the default version main', (m) => (m.spec.instances = [{ name: 'a' }, { name: 'b', version: 'next' }], (m.spec.canary = { stable: 'main', canary: 'next' }))],
  ['single step of 100', (m) => (m.spec.canary.steps = [100])],
  ['labels and annotations', (m) => (m.metadata.labels = { app: 'pay' }, (m.metadata.annotations = { note: 'x' }))],
  ['63-character names', (m) => ((m.metadata.name = 'a'.repeat(63)), (m.spec.provides = ['b'.repeat(63)]))],
];

describe('Meshlet CRD (deploy/crd-meshlet.yaml) and the agent validator agree', () => {
  let agent: AgentConfigModules;
  let schema: Schema;
  let cel: Record<string, CelRule>;
  const crd = parse(readFileSync(join(root, 'deploy', 'crd-meshlet.yaml'), 'utf8')) as any;

  before(async () => {
    agent = await loadAgentValidator();
    cel = celRules(agent.parseDuration);
    schema = crd.spec.versions[0].schema.openAPIV3Schema as Schema;
  });

  const agentAccepts = (obj: unknown): string | undefined => {
    try {
      agent.parseMeshlet(obj, new agent.FieldPath('test.yaml', ''), { idleTimeoutNs: 3_600_000_000_000n });
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  };
  const crdAccepts = (obj: Record<string, any>): string | undefined => {
    const problems = validate(obj, schema, cel);
    // The API server checks apiVersion and kind against the CRD before the schema.
    if (obj.apiVersion !== `${crd.spec.group}/${crd.spec.versions[0].name}`) problems.push(`apiVersion ${obj.apiVersion} is not served`);
    if (obj.kind !== crd.spec.names.kind) problems.push(`kind ${obj.kind}`);
    return problems.length ? problems.join('; ') : undefined;
  };

  test('the CRD is a v1 CRD for weft.dev/v1alpha1 Meshlet with a structural schema the checker fully understands', () => {
    assert.equal(crd.apiVersion, 'apiextensions.k8s.io/v1');
    assert.equal(crd.kind, 'CustomResourceDefinition');
    assert.equal(crd.metadata.name, `${crd.spec.names.plural}.${crd.spec.group}`);
    assert.equal(crd.spec.group, 'weft.dev');
    assert.equal(crd.spec.scope, 'Namespaced');
    assert.deepEqual(crd.spec.versions.map((v: any) => [v.name, v.served, v.storage]), [['v1alpha1', true, true]]);
    assert.deepEqual(schemaProblems(schema, cel), []);
  });

  test('every example in deploy/examples passes both', () => {
    const docs = parseAllDocuments(readFileSync(join(root, 'deploy', 'examples', 'meshlets.yaml'), 'utf8')).map((d) => d.toJS());
    assert.ok(docs.length >= 3);
    for (const doc of docs) {
      assert.equal(agentAccepts(doc), undefined, `agent rejects example ${doc.metadata.name}`);
      assert.equal(crdAccepts(doc), undefined, `CRD rejects example ${doc.metadata.name}`);
    }
  });

  test('the DaemonSet ConfigMap holds an agent config and meshlets the agent accepts', async () => {
    const cm = parseAllDocuments(readFileSync(join(root, 'deploy', 'daemonset.yaml'), 'utf8')).map((d) => d.toJS()).find((d) => d.kind === 'ConfigMap');
    const { parseAgentConfig } = (await import(pathToFileURL(join(here, '..', '..', 'src', 'config', 'agent-config.js')).href)) as {
      parseAgentConfig: (doc: unknown, source: string, baseDir: string) => { socketRoot: string; admin: { host: string; port: number } };
    };
    const config = parseAgentConfig(parse(cm.data['agent.yaml']), 'configmap/agent.yaml', '/');
    assert.equal(config.socketRoot, '/var/run/weft/sockets');
    assert.deepEqual(config.admin, { host: '127.0.0.1', port: 9901 });
    for (const doc of parseAllDocuments(cm.data['meshlets.yaml']).map((d) => d.toJS())) {
      assert.equal(agentAccepts(doc), undefined);
      assert.equal(crdAccepts(doc), undefined);
    }
  });

  test('good edge cases pass both', () => {
    assert.equal(agentAccepts(base()), undefined);
    assert.equal(crdAccepts(base()), undefined);
    for (const [what, change] of GOOD) {
      const m = base();
      change(m);
      assert.equal(agentAccepts(m), undefined, `agent: ${what}`);
      assert.equal(crdAccepts(m), undefined, `CRD: ${what}`);
    }
  });

  test('every bad object fails both', () => {
    for (const [what, change] of BAD) {
      const m = base();
      change(m);
      assert.notEqual(agentAccepts(m), undefined, `agent accepts: ${what}`);
      assert.notEqual(crdAccepts(m), undefined, `CRD accepts: ${what}`);
    }
  });

  test('documented differences (docs/kubernetes.md): the CRD is stricter on the {name} form; the API server owns metadata', () => {
    const named = base();
    named.spec.provides = [{ name: 'charge' }];
    assert.equal(agentAccepts(named), undefined, 'agent files accept {name} items');
    assert.notEqual(crdAccepts(named), undefined, 'the CRD takes plain names only');
    const zero = base();
    zero.spec.idleTimeout = 0;
    assert.equal(agentAccepts(zero), undefined, 'agent files accept the number 0');
    assert.notEqual(crdAccepts(zero), undefined, 'the CRD takes the string "0"');
    const served = base();
    served.metadata.uid = '6b0c…';
    assert.equal(crdAccepts(served), undefined, 'server-set metadata is the API server’s business');
    assert.notEqual(agentAccepts(served), undefined, 'the agent reads files, where metadata.uid is a typo');
  });
});
