// A small checker for the subset of Kubernetes structural OpenAPI v3 schemas
// (plus the CEL rules) that deploy/crd-meshlet.yaml uses, applied the way the
// API server does with strict field validation: unknown fields are errors.
// Anything in a schema this checker does not understand is itself an error, so
// the CRD cannot grow a constraint the test silently ignores.

export interface Schema {
  type?: string;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
}

const KNOWN_KEYS = new Set([
  'type',
  'description',
  'properties',
  'required',
  'items',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-validations',
]);

/** A CEL rule evaluated in JavaScript; `self` is the value at the rule's node. */
export type CelRule = (self: any) => boolean;

/**
 * Checks the schema is structural (every node typed, only known keywords) and
 * every CEL rule has an implementation. Returns the problems.
 */
export function schemaProblems(schema: Schema, cel: Record<string, CelRule>, path = 'openAPIV3Schema'): string[] {
  const out: string[] = [];
  for (const k of Object.keys(schema)) if (!KNOWN_KEYS.has(k)) out.push(`${path}: keyword ${k} is not understood by the checker`);
  if (!schema.type) out.push(`${path}: no type (not structural)`);
  for (const v of schema['x-kubernetes-validations'] ?? []) if (!cel[v.rule]) out.push(`${path}: CEL rule without an implementation: ${v.rule}`);
  for (const [k, s] of Object.entries(schema.properties ?? {})) out.push(...schemaProblems(s, cel, `${path}.${k}`));
  if (schema.items) out.push(...schemaProblems(schema.items, cel, `${path}[]`));
  if (schema.type === 'array' && !schema.items) out.push(`${path}: array without items`);
  return out;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Validates `value`; returns the violations (empty: the API server would accept it). */
export function validate(value: unknown, schema: Schema, cel: Record<string, CelRule>, path = ''): string[] {
  const at = path || '(root)';
  const t = typeOf(value);
  if (schema.type && t !== schema.type && !(schema.type === 'number' && t === 'integer')) return [`${at}: expected ${schema.type}, got ${t}`];
  const out: string[] = [];
  if (typeof value === 'string') {
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) out.push(`${at}: does not match ${schema.pattern}`);
    // Kubernetes counts characters (code points), not UTF-16 units.
    const len = [...value].length;
    if (schema.maxLength !== undefined && len > schema.maxLength) out.push(`${at}: longer than ${schema.maxLength}`);
    if (schema.minLength !== undefined && len < schema.minLength) out.push(`${at}: shorter than ${schema.minLength}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) out.push(`${at}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) out.push(`${at}: above ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) out.push(`${at}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) out.push(`${at}: more than ${schema.maxItems} items`);
    const listType = schema['x-kubernetes-list-type'];
    if (listType === 'set') {
      const seen = new Set(value.map((v) => JSON.stringify(v)));
      if (seen.size !== value.length) out.push(`${at}: duplicate items in a set`);
    }
    if (listType === 'map') {
      const keys = schema['x-kubernetes-list-map-keys'] ?? [];
      const seen = new Set(value.map((v) => JSON.stringify(keys.map((k) => (v as Record<string, unknown>)?.[k]))));
      if (seen.size !== value.length) out.push(`${at}: duplicate map keys ${keys.join(',')}`);
    }
    value.forEach((v, i) => out.push(...validate(v, schema.items ?? {}, cel, `${path}[${i}]`)));
  }
  if (t === 'object' && schema.properties) {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in obj)) out.push(`${at}: ${r} is required`);
    for (const [k, v] of Object.entries(obj)) {
      const sub = schema.properties[k];
      if (!sub) out.push(`${path ? `${path}.` : ''}${k}: unknown field`);
      else out.push(...validate(v, sub, cel, path ? `${path}.${k}` : k));
    }
  }
  // The API server runs CEL rules only on values that passed the schema.
  if (out.length === 0) {
    for (const v of schema['x-kubernetes-validations'] ?? []) {
      let ok: boolean;
      try {
        ok = cel[v.rule]!(value);
      } catch {
        ok = false; // a runtime error (e.g. an unparsable duration) rejects the object
      }
      if (!ok) out.push(`${at}: ${v.message ?? v.rule}`);
    }
  }
  return out;
}
