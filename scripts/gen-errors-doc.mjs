#!/usr/bin/env node
// Regenerates docs/errors.md from the error registry in src/errors.ts.
// `--check` only compares (exit 1 if the file is stale). The registry is
// TypeScript, so this builds first (scripts/build.mjs --if-needed) and imports
// the compiled renderer from dist/.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--if-needed'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const { renderErrorsDoc } = await import(pathToFileURL(join(root, 'dist', 'src', 'errors-doc.js')).href);
const target = join(root, 'docs', 'errors.md');
const text = renderErrorsDoc();
if (process.argv.includes('--check')) {
  const current = existsSync(target) ? readFileSync(target, 'utf8') : '';
  if (current !== text) {
    console.error('docs/errors.md is out of date: run `node scripts/gen-errors-doc.mjs`');
    process.exit(1);
  }
  console.log('docs/errors.md is up to date');
} else {
  writeFileSync(target, text);
  console.log(`wrote docs/errors.md (${text.length} bytes)`);
}
