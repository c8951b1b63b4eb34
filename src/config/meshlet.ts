// The Meshlet object (kind: Meshlet): validation from parsed YAML into a typed,
// frozen spec. Every error names the file, the field path and what was expected.
import { WeftError } from '../errors.js';
import { FieldPath, dnsLabel, duration, integer, isDnsLabel, isMapping, list, mapping, optionalMapping } from './fields.js';
import { durationMs } from './duration.js';

export const MESHLET_API_VERSION = 'weft.dev/v1alpha1';
export const MESHLET_KIND = 'Meshlet';
export const MAX_INSTANCE_WEIGHT = 10_000;
/** Instance name, version and weight when spec.instances is omitted. */
export const DEFAULT_INSTANCE = { name: 'main', version: 'main', weight: 100 } as const;

export interface InstanceSpec {
  /** DNS label; the instance's socket directory is <root>/<ns>/<meshlet>/<name>. */
  readonly name: string;
  /** Version label (v1, v2, ...) used by canary strategies and per-version metrics. */
  readonly version: string;
  /** Relative weight 0..10000 among instances of the same version (0 = never picked). */
  readonly weight: number;
}

export interface CanarySpec {
  readonly stable: string;
  readonly canary: string;
  /** Percent of traffic to the canary version at each step, strictly increasing, 1..100. */
  readonly steps: readonly number[];
  readonly intervalMs: number;
}

export interface MeshletSpec {
  readonly name: string;
  readonly namespace: string;
  /** "<namespace>/<name>", the meshlet's key. */
  readonly key: string;
  /** Service names (DNS labels); the IDs are <service>.<name>.<namespace>. */
  readonly provides: readonly string[];
  /** Service IDs or wildcard patterns this meshlet may reach (see uses-matcher.ts). */
  readonly uses: readonly string[];
  /** Idle timeout in ms; 0 = none. */
  readonly idleTimeoutMs: number;
  /** The idleTimeout as written (for display). */
  readonly idleTimeout: string;
  readonly instances: readonly InstanceSpec[];
  readonly canary?: CanarySpec;
  /** Where it was declared: "file" or "file#document". */
  readonly source: string;
}

export interface MeshletDefaults {
  /** Used when spec.idleTimeout is omitted. */
  idleTimeoutNs: bigint;
}

/** A wildcard `*` may replace a whole part: "*.payments.prod", "*.*.prod", "http.*.prod", "*.*.*". */
export function isUsePattern(id: string): boolean {
  const parts = id.split('.');
  return parts.length === 3 && parts.every((p) => p === '*' || isDnsLabel(p)) && id.length <= 255;
}

/** Validates one parsed YAML document as a Meshlet. */
export function parseMeshlet(doc: unknown, at: FieldPath, defaults: MeshletDefaults): MeshletSpec {
  const top = mapping(doc, at, ['apiVersion', 'kind', 'metadata', 'spec']);
  if (top.apiVersion !== MESHLET_API_VERSION) throw at.key('apiVersion').error(JSON.stringify(MESHLET_API_VERSION), top.apiVersion);
  if (top.kind !== MESHLET_KIND) throw at.key('kind').error(JSON.stringify(MESHLET_KIND), top.kind);
  const metaAt = at.key('metadata');
  const meta = mapping(top.metadata, metaAt, ['name', 'namespace', 'labels', 'annotations']);
  const name = dnsLabel(meta.name, metaAt.key('name'));
  const namespace = dnsLabel(meta.namespace, metaAt.key('namespace'), 'default');

  const specAt = at.key('spec');
  const spec = optionalMapping(top.spec, specAt, ['provides', 'uses', 'idleTimeout', 'instances', 'canary']);

  const provides: string[] = [];
  list(spec.provides, specAt.key('provides')).forEach((p, i) => {
    const pAt = specAt.key('provides').index(i);
    // A service is a name, or { name } for room to grow (ports, protocols).
    if (typeof p !== 'string' && !isMapping(p)) throw pAt.error('a service name (a DNS label) or a mapping { name: <DNS label> }', p);
    const svc = typeof p === 'string' ? dnsLabel(p, pAt) : dnsLabel(mapping(p, pAt, ['name']).name, pAt.key('name'));
    if (provides.includes(svc)) throw new WeftError('WEFT-A003', `${at.file}: ${pAt.path}: service ${svc} is listed twice`, { file: at.file, field: pAt.path });
    provides.push(svc);
  });

  const uses: string[] = [];
  list(spec.uses, specAt.key('uses')).forEach((u, i) => {
    const uAt = specAt.key('uses').index(i);
    if (typeof u !== 'string' || !isUsePattern(u)) {
      throw uAt.error('a service ID <service>.<meshlet>.<namespace> of DNS labels, where a whole part may be "*" (e.g. "*.payments.prod")', u);
    }
    if (!uses.includes(u)) uses.push(u);
  });

  const idleNs = duration(spec.idleTimeout, specAt.key('idleTimeout'), defaults.idleTimeoutNs, { allowZero: true });
  const idleTimeout = typeof spec.idleTimeout === 'string' ? spec.idleTimeout : spec.idleTimeout === 0 ? '0' : `${idleNs / 1_000_000n}ms`;

  const instances: InstanceSpec[] = [];
  const instAt = specAt.key('instances');
  list(spec.instances, instAt).forEach((raw, i) => {
    const iAt = instAt.index(i);
    const inst = mapping(raw, iAt, ['name', 'version', 'weight']);
    const spec_: InstanceSpec = {
      name: dnsLabel(inst.name, iAt.key('name')),
      version: dnsLabel(inst.version, iAt.key('version'), DEFAULT_INSTANCE.version),
      weight: integer(inst.weight, iAt.key('weight'), 0, MAX_INSTANCE_WEIGHT, DEFAULT_INSTANCE.weight),
    };
    if (instances.some((x) => x.name === spec_.name)) {
      throw new WeftError('WEFT-A003', `${at.file}: ${iAt.path}.name: instance ${spec_.name} is listed twice`, { file: at.file, field: `${iAt.path}.name` });
    }
    instances.push(spec_);
  });
  if (instances.length === 0) instances.push({ ...DEFAULT_INSTANCE });

  let canary: CanarySpec | undefined;
  if (spec.canary !== undefined && spec.canary !== null) {
    const cAt = specAt.key('canary');
    const c = mapping(spec.canary, cAt, ['stable', 'canary', 'steps', 'interval']);
    const stable = dnsLabel(c.stable, cAt.key('stable'));
    const canaryVersion = dnsLabel(c.canary, cAt.key('canary'));
    if (canaryVersion === stable) throw cAt.key('canary').error(`a version other than stable (${stable})`, canaryVersion);
    const versions = new Set(instances.map((x) => x.version));
    for (const [field, v] of [['stable', stable], ['canary', canaryVersion]] as const) {
      if (!versions.has(v)) throw cAt.key(field).error(`a version of one of spec.instances (${[...versions].join(', ')})`, v);
    }
    const strays = instances.filter((x) => x.version !== stable && x.version !== canaryVersion);
    if (strays.length) {
      throw instAt.index(instances.indexOf(strays[0]!)).key('version').error(`the stable (${stable}) or canary (${canaryVersion}) version, since spec.canary is set`, strays[0]!.version);
    }
    const stepsAt = cAt.key('steps');
    const stepsRaw = list(c.steps ?? [5, 25, 50, 100], stepsAt, false);
    const steps: number[] = [];
    stepsRaw.forEach((s, i) => {
      const min = i === 0 ? 1 : steps[i - 1]! + 1;
      steps.push(integer(s, stepsAt.index(i), min, 100));
    });
    if (steps.length === 0) throw stepsAt.error('at least one step (percent of traffic to the canary)', c.steps);
    const interval = duration(c.interval, cAt.key('interval'), 60_000_000_000n, { allowZero: false });
    canary = { stable, canary: canaryVersion, steps, intervalMs: durationMs(interval) };
  }

  return {
    name,
    namespace,
    key: `${namespace}/${name}`,
    provides,
    uses,
    idleTimeoutMs: durationMs(idleNs),
    idleTimeout,
    instances,
    ...(canary ? { canary } : {}),
    source: at.path ? `${at.file}#${at.path}` : at.file,
  };
}

/** Two specs equal in everything that matters to the data path (source excluded). */
export function sameMeshlet(a: MeshletSpec, b: MeshletSpec): boolean {
  const { source: _a, ...ra } = a;
  const { source: _b, ...rb } = b;
  return JSON.stringify(ra) === JSON.stringify(rb);
}
