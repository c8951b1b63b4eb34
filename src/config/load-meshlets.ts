// Loads Meshlet objects from files and directories (multi-document YAML allowed),
// all or nothing: any bad document fails the whole load, so a reload either
// applies a complete valid set or leaves the running meshlets untouched.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { WeftError } from '../errors.js';
import { FieldPath } from './fields.js';
import { parseMeshlet, type MeshletDefaults, type MeshletSpec } from './meshlet.js';

export interface LoadedMeshlets {
  meshlets: MeshletSpec[];
  /** Every file read (for the watcher). */
  files: string[];
}

const YAML_FILE = /\.ya?ml$/;

/** Files named by `paths`: a file as is; a directory's *.yaml / *.yml files, sorted, not recursive. */
export function meshletFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      throw new WeftError('WEFT-A002', `${p}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { file: p });
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) if (YAML_FILE.test(name) && !name.startsWith('.')) out.push(join(p, name));
    } else out.push(p);
  }
  return out;
}

/** Parses the YAML documents of one file's text into meshlets. */
export function parseMeshletYaml(text: string, file: string, defaults: MeshletDefaults): MeshletSpec[] {
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: MeshletSpec[] = [];
  const many = list.length > 1;
  list.forEach((doc, i) => {
    const where = many ? `${file} (document ${i + 1})` : file;
    if (doc.errors.length) {
      const err = doc.errors[0]!;
      const line = err.linePos?.[0];
      throw new WeftError('WEFT-A001', `${where}: not valid YAML: ${err.message.split('\n')[0]}`, {
        file,
        ...(line ? { line: line.line, column: line.col } : {}),
        expected: 'valid YAML',
      });
    }
    const value = doc.toJS();
    if (value === null || value === undefined) return; // an empty document (e.g. a trailing ---)
    out.push(parseMeshlet(value, new FieldPath(where, ''), defaults));
  });
  return out;
}

/** Loads every meshlet from `paths` plus `inline` ones; throws WeftError on the first problem. */
export function loadMeshlets(paths: readonly string[], inline: readonly MeshletSpec[], defaults: MeshletDefaults): LoadedMeshlets {
  const files = meshletFiles(paths);
  const meshlets: MeshletSpec[] = [...inline];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new WeftError('WEFT-A002', `${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { file });
    }
    meshlets.push(...parseMeshletYaml(text, file, defaults));
  }
  const seen = new Map<string, string>();
  for (const m of meshlets) {
    const first = seen.get(m.key);
    if (first !== undefined) {
      throw new WeftError('WEFT-A003', `meshlet ${m.key} is declared in ${first} and again in ${m.source}`, { meshlet: m.key, first, second: m.source });
    }
    seen.set(m.key, m.source);
  }
  return { meshlets, files };
}
