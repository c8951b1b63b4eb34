#!/usr/bin/env node
// Builds the WebAssembly kernels (assembly/*.ts -> build/<name>.wasm and
// build/<name>.simd.wasm) and the TypeScript (src, test, bench -> dist/).
// --if-needed skips a step whose outputs are newer than its inputs.
// --debug also builds build/debug/<name>[.simd].wasm with assertions on.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const ifNeeded = args.has('--if-needed');
const withDebug = args.has('--debug');

function newestMtime(dir, filter) {
  let newest = 0;
  if (!existsSync(dir)) return 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p, filter));
    else if (filter(p)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}
const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);

function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build: ${cmd} ${argv.join(' ')} failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}

// A kernel is a top-level assembly/*.ts file; assembly/lib/ holds shared code.
const kernels = (existsSync(join(root, 'assembly')) ? readdirSync(join(root, 'assembly')) : [])
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('_'))
  .map((f) => f.slice(0, -3));

const asc = join(root, 'node_modules', '.bin', 'asc');
const assemblyInputs = Math.max(newestMtime(join(root, 'assembly'), (p) => p.endsWith('.ts')), mtime(join(root, 'asconfig.json')));
mkdirSync(join(root, 'build'), { recursive: true });
for (const name of kernels) {
  const variants = [
    ['release', `build/${name}.wasm`],
    ['simd', `build/${name}.simd.wasm`],
  ];
  if (withDebug) variants.push(['debug', `build/debug/${name}.wasm`], ['debug-simd', `build/debug/${name}.simd.wasm`]);
  for (const [target, out] of variants) {
    if (ifNeeded && mtime(join(root, out)) > assemblyInputs) continue;
    mkdirSync(dirname(join(root, out)), { recursive: true });
    run(asc, [`assembly/${name}.ts`, '--config', 'asconfig.json', '--target', target, '--outFile', out]);
  }
}

const tsInputs = Math.max(
  ...['src', 'test', 'bench'].map((d) => newestMtime(join(root, d), (p) => p.endsWith('.ts'))),
  mtime(join(root, 'tsconfig.json')),
);
// Our own stamp, written only after tsc emitted: tsc's .tsbuildinfo is also
// written by `tsc --noEmit`, which would make a stale dist/ look fresh.
const tsStamp = join(root, 'dist', '.build-stamp');
if (!ifNeeded || mtime(tsStamp) <= tsInputs) {
  if (!ifNeeded) rmSync(join(root, 'dist'), { recursive: true, force: true });
  run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json']);
  // The bin runs by its shebang (npx, a global install, ./dist/src/cli.js): executable whoever links it.
  chmodSync(join(root, 'dist', 'src', 'cli.js'), 0o755);
  writeFileSync(tsStamp, `${new Date().toISOString()}\n`);
}
