// `npm run bench [suite ...]`: runs the benchmark suites, each of which prints
// its table and writes bench/results/<suite>.json.
const suites: Record<string, () => Promise<{ run: () => Promise<void> }>> = {
  aead: () => import('./aead.js'),
  pool: () => import('./pool.js'),
  frame: () => import('./frame.js'),
  handshake: () => import('./handshake.js'),
  'service-table': () => import('./service-table.js'),
  agent: () => import('./agent.js'),
  sync: () => import('./sync.js'),
  proxy: () => import('./proxy.js'),
  'proxy-cpu': () => import('./proxy-cpu.js'),
  gossip: () => import('./gossip.js'),
  tunnel: () => import('./tunnel.js'),
};

const wanted = process.argv.slice(2);
const names = wanted.length ? wanted : Object.keys(suites);
for (const name of names) {
  const load = suites[name];
  if (!load) {
    console.error(`unknown suite ${name}; suites: ${Object.keys(suites).join(', ')}`);
    process.exit(2);
  }
  const started = Date.now();
  await (await load()).run();
  console.log(`suite ${name} took ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
