// Loads route-rule files: each path a file or a directory of *.yaml / *.yml
// (name order, not recursive), multi-document YAML, each document one of
//   weft.dev/v1alpha1          Route, Destination
//   networking.istio.io/v1alpha3 | v1beta1 | v1   VirtualService, DestinationRule
// Any error names the file, document and field (WEFT-P009); nothing is applied
// unless every file is good.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { FieldPath, isMapping } from '../../config/fields.js';
import { WeftError } from '../../errors.js';
import { ISTIO_API_VERSIONS, importDestinationRule, importVirtualService, type ImportNotes } from './istio.js';
import type { DestinationSpec, RouteSpec } from './model.js';
import { WEFT_RULES_API, parseDestinationDoc, parseRouteDoc } from './native.js';

export interface LoadedRules {
  readonly routes: readonly RouteSpec[];
  readonly destinations: readonly DestinationSpec[];
  readonly files: readonly string[];
  /** Istio fields present but not implemented, as `file: field path`. */
  readonly ignored: readonly string[];
}

export function ruleFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (e) {
      throw new WeftError('WEFT-P009', `${p}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { file: p });
    }
    if (!isDir) files.push(p);
    else for (const f of readdirSync(p).filter((n) => /\.ya?ml$/.test(n)).sort()) files.push(join(p, f));
  }
  return files;
}

/** Parses YAML text holding rule documents; `source` names it in errors. */
export function parseRulesText(text: string, source: string, defaultNamespace: string): LoadedRules {
  const routes: RouteSpec[] = [];
  const destinations: DestinationSpec[] = [];
  const ignored: string[] = [];
  const docs = parseAllDocuments(text);
  let n = 0;
  for (const d of Array.isArray(docs) ? docs : [docs]) {
    n++;
    const name = docs.length > 1 ? `${source} (document ${n})` : source;
    if (d.errors.length) throw new WeftError('WEFT-P009', `${name}: not valid YAML: ${d.errors[0]!.message.split('\n')[0]}`, { file: source });
    const doc: unknown = d.toJS();
    if (doc === null || doc === undefined) continue;
    const at = new FieldPath(name, '');
    const notes: ImportNotes = { ignored: [] };
    try {
      if (!isMapping(doc)) throw at.error('a mapping (a Route, Destination, VirtualService or DestinationRule)', doc);
      const api = doc.apiVersion;
      const kind = doc.kind;
      if (api === WEFT_RULES_API && kind === 'Route') routes.push(parseRouteDoc(doc, at, defaultNamespace));
      else if (api === WEFT_RULES_API && kind === 'Destination') destinations.push(parseDestinationDoc(doc, at, defaultNamespace));
      else if ((ISTIO_API_VERSIONS as readonly unknown[]).includes(api) && kind === 'VirtualService') routes.push(importVirtualService(doc, at, defaultNamespace, notes));
      else if ((ISTIO_API_VERSIONS as readonly unknown[]).includes(api) && kind === 'DestinationRule') destinations.push(importDestinationRule(doc, at, defaultNamespace, notes));
      else {
        throw at.key('kind').error(`${WEFT_RULES_API} Route or Destination, or ${ISTIO_API_VERSIONS.join(' / ')} VirtualService or DestinationRule`, `${String(api)} ${String(kind)}`);
      }
    } catch (e) {
      if (e instanceof WeftError && e.code !== 'WEFT-P009') throw new WeftError('WEFT-P009', e.message.replace(/^WEFT-\w+ [^:]+: /, ''), e.details);
      throw e;
    }
    for (const f of notes.ignored) ignored.push(`${name}: ${f}`);
  }
  return { routes, destinations, files: [source], ignored };
}

/** Reads every rule file; throws WEFT-P009 on the first problem. */
export function loadRules(paths: readonly string[], defaultNamespace: string): LoadedRules {
  const routes: RouteSpec[] = [];
  const destinations: DestinationSpec[] = [];
  const ignored: string[] = [];
  const files = ruleFiles(paths);
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new WeftError('WEFT-P009', `${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { file });
    }
    const r = parseRulesText(text, file, defaultNamespace);
    routes.push(...r.routes);
    destinations.push(...r.destinations);
    ignored.push(...r.ignored);
  }
  return { routes, destinations, files, ignored };
}
