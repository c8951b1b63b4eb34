import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile, symlink, unlink, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { WeftError } from '../../src/errors.js';
import { parseAddressFile } from '../../src/discovery/address-file.js';
import { FileDiscovery } from '../../src/discovery/file.js';

let dir: string;
let counter = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-discovery-file-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function fileWith(text: string | Buffer): Promise<string> {
  const path = join(dir, `peers-${counter++}.txt`);
  await writeFile(path, text);
  return path;
}

/** Collects watch() lists and lets a test await the n-th one. */
function collector() {
  const lists: string[][] = [];
  let wake: (() => void) | undefined;
  return {
    lists,
    listener: (l: string[]) => {
      lists.push(l);
      wake?.();
    },
    async waitFor(n: number): Promise<string[]> {
      while (lists.length < n) await new Promise<void>((r) => (wake = r));
      return lists[n - 1]!;
    },
  };
}

describe('parseAddressFile', () => {
  test('lines: comments, blank lines, CRLF, BOM; bad lines reported with their line number', () => {
    const text = '\ufeff# seeds\r\n10.0.0.1:7946\r\n\n  [fd00::1]:7946   # inline comment\nnot-an-address\n10.0.0.2:7946 10.0.0.3:7946\n[::1]:99999\n10.0.0.1:7946\n';
    const r = parseAddressFile(text);
    assert.ok(r.ok);
    assert.equal(r.format, 'lines');
    assert.deepEqual(r.addresses, ['10.0.0.1:7946', '[fd00::1]:7946']);
    assert.deepEqual(
      r.issues.map((i) => [i.line, i.text]),
      [
        [5, 'not-an-address'],
        [6, '10.0.0.2:7946 10.0.0.3:7946'],
        [7, '[::1]:99999'],
      ],
    );
    assert.equal(r.issues[1]!.reason, 'one address per line');
  });

  test('an IPv6 first line is not mistaken for JSON', () => {
    const r = parseAddressFile('[::1]:7946\n[fd00::2]:1\n');
    assert.ok(r.ok);
    assert.equal(r.format, 'lines');
    assert.deepEqual(r.addresses, ['[::1]:7946', '[fd00::2]:1']);
  });

  test('JSON array: good elements kept, bad ones reported with index and line', () => {
    const r = parseAddressFile('[\n  "10.0.0.1:7946",\n  42,\n  "[::1]:1",\n  "nope",\n  {"a": ["x"]},\n  " 10.0.0.3:1 "\n]\n');
    assert.ok(r.ok);
    assert.equal(r.format, 'json');
    assert.deepEqual(r.addresses, ['10.0.0.1:7946', '[::1]:1', '10.0.0.3:1']);
    assert.deepEqual(
      r.issues.map((i) => [i.index, i.line, i.reason]),
      [
        [1, 3, 'not a string'],
        [3, 5, 'missing port'],
        [4, 6, 'not a string'],
      ],
    );
    assert.deepEqual(parseAddressFile('[]'), { ok: true, format: 'json', addresses: [], issues: [] });
  });

  test('a broken JSON array or a JSON non-array fails the whole file', () => {
    assert.equal(parseAddressFile('["10.0.0.1:1",').ok, false);
    assert.equal(parseAddressFile('[ "a:1" ] trailing').ok, false);
    const r = parseAddressFile('["10.0.0.1:1", "10.0.0.2:1"');
    assert.ok(!r.ok && /not a valid JSON array/.test(r.reason));
  });

  test('never throws, whatever the bytes (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 400 }), fc.json(), fc.array(fc.oneof(fc.ipV4(), fc.string())).map((a) => JSON.stringify(a))), (text) => {
        const r = parseAddressFile(text);
        if (r.ok) for (const issue of r.issues) assert.ok(issue.line >= 1);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('FileDiscovery', () => {
  test('discover returns the good lines and reports each bad one as WEFT-D006', async () => {
    const path = await fileWith('10.0.0.1:7946\nbad line here\n# c\n10.0.0.2:7946\n10.0.0.9\n');
    const errors: WeftError[] = [];
    const p = new FileDiscovery({ path }, { onError: (e) => errors.push(e) });
    assert.deepEqual(await p.discover(), ['10.0.0.1:7946', '10.0.0.2:7946']);
    assert.deepEqual(
      errors.map((e) => [e.code, e.details.line]),
      [
        ['WEFT-D006', 2],
        ['WEFT-D006', 5],
      ],
    );
    assert.match(errors[1]!.message, /line 5: "10\.0\.0\.9": missing port/);
  });

  test('a missing file, a directory, a broken JSON array: WEFT-D005', async () => {
    const isD005 = (e: unknown) => e instanceof WeftError && e.code === 'WEFT-D005';
    await assert.rejects(new FileDiscovery({ path: join(dir, 'absent') }).discover(), (e: unknown) => isD005(e) && (e as WeftError).details.errno === 'ENOENT');
    await assert.rejects(new FileDiscovery({ path: dir }).discover(), isD005);
    await assert.rejects(new FileDiscovery({ path: await fileWith('["10.0.0.1:1"') }).discover(), isD005);
  });

  test('a file over maxBytes is refused without reading it all', async () => {
    const path = await fileWith(Buffer.alloc(64 * 1024, '10.0.0.1:7946\n'));
    await assert.rejects(new FileDiscovery({ path, maxBytes: 4096 }).discover(), (e: unknown) => {
      assert.ok(e instanceof WeftError && e.code === 'WEFT-D005');
      assert.match(e.message, /larger than 4096 bytes/);
      return true;
    });
    const exact = await fileWith(Buffer.alloc(4096, '10.0.0.1:7946\n'));
    assert.deepEqual(await new FileDiscovery({ path: exact, maxBytes: 4096 }).discover(), ['10.0.0.1:7946']);
  });

  test('watch: initial list, then rewrites, atomic renames and a missing file', async () => {
    const path = await fileWith('10.0.0.1:7946\n');
    const errors: WeftError[] = [];
    const p = new FileDiscovery({ path, debounceMs: 10 }, { onError: (e) => errors.push(e) });
    const c = collector();
    const ac = new AbortController();
    const done = p.watch(c.listener, ac.signal);
    assert.deepEqual(await c.waitFor(1), ['10.0.0.1:7946']);

    await writeFile(path, '10.0.0.1:7946\n10.0.0.2:7946\n');
    assert.deepEqual(await c.waitFor(2), ['10.0.0.1:7946', '10.0.0.2:7946']);

    // Editors and config tools replace the file: write elsewhere, rename over it.
    await writeFile(`${path}.tmp`, '["10.0.0.3:7946", "bad"]');
    await rename(`${path}.tmp`, path);
    assert.deepEqual(await c.waitFor(3), ['10.0.0.3:7946']);
    assert.ok(errors.some((e) => e.code === 'WEFT-D006' && e.details.index === 1));

    // Deleted: reported, the last list stays; recreated: followed again.
    await unlink(path);
    while (!errors.some((e) => e.code === 'WEFT-D005')) await new Promise((r) => setTimeout(r, 5));
    await writeFile(path, '10.0.0.4:7946\n');
    assert.deepEqual(await c.waitFor(4), ['10.0.0.4:7946']);

    ac.abort();
    await done;
    assert.equal(c.lists.length, 4);
  });

  test('watch: a burst of writes is read after the debounce, the same content is not reported again', async () => {
    const path = await fileWith('10.0.0.1:1\n');
    let reads = 0;
    const p = new FileDiscovery({ path, debounceMs: 150 });
    const original = p.discover.bind(p);
    p.discover = (signal?: AbortSignal) => {
      reads++;
      return original(signal);
    };
    const c = collector();
    const ac = new AbortController();
    const done = p.watch(c.listener, ac.signal);
    await c.waitFor(1);
    // In-place writes (truncate, then write) can be seen half done; the final content always wins.
    const t0 = performance.now();
    for (let i = 2; i <= 6; i++) await writeFile(path, `10.0.0.1:1\n10.0.0.${i}:1\n`);
    const burstMs = performance.now() - t0;
    const settled = async (expected: string[]) => {
      while (JSON.stringify(c.lists.at(-1)) !== JSON.stringify(expected)) await c.waitFor(c.lists.length + 1);
    };
    await settled(['10.0.0.1:1', '10.0.0.6:1']);
    // When the burst fit in the debounce window (not on a starved machine), it cost one read.
    if (burstMs < 100) assert.equal(reads, 2, `${reads} reads for a ${burstMs.toFixed(0)} ms burst`);
    const count = c.lists.length;
    await writeFile(`${path}.tmp`, '10.0.0.6:1\n10.0.0.1:1\n');
    await rename(`${path}.tmp`, path);
    await writeFile(`${path}.tmp`, '10.0.0.6:1\n10.0.0.7:1\n');
    await rename(`${path}.tmp`, path);
    await settled(['10.0.0.6:1', '10.0.0.7:1']);
    assert.ok(c.lists.slice(count).every((l) => l.includes('10.0.0.7:1')), 'the reordered, same set was not reported');
    ac.abort();
    await done;
  });

  test('watch: a Kubernetes ConfigMap mount (..data symlink swap) is followed', async () => {
    // ConfigMap volumes: peers -> ..data/peers, ..data -> ..<timestamp>; an update swaps ..data.
    const mount = join(dir, `configmap-${counter++}`);
    await mkdir(join(mount, '..v1'), { recursive: true });
    await writeFile(join(mount, '..v1', 'peers'), '10.0.0.1:1\n');
    await symlink('..v1', join(mount, '..data'));
    await symlink('..data/peers', join(mount, 'peers'));
    const p = new FileDiscovery({ path: join(mount, 'peers'), debounceMs: 10 });
    const c = collector();
    const ac = new AbortController();
    const done = p.watch(c.listener, ac.signal);
    assert.deepEqual(await c.waitFor(1), ['10.0.0.1:1']);
    await mkdir(join(mount, '..v2'));
    await writeFile(join(mount, '..v2', 'peers'), '10.0.0.2:1\n');
    await symlink('..v2', join(mount, '..data_tmp'));
    await rename(join(mount, '..data_tmp'), join(mount, '..data'));
    assert.deepEqual(await c.waitFor(2), ['10.0.0.2:1']);
    ac.abort();
    await done;
  });

  test('watch on a file in a missing directory reports WEFT-D005 and ends on abort', async () => {
    const errors: WeftError[] = [];
    const p = new FileDiscovery({ path: join(dir, 'no-such-dir', 'peers') }, { onError: (e) => errors.push(e) });
    const ac = new AbortController();
    const done = p.watch(() => assert.fail('no list expected'), ac.signal);
    while (errors.length < 2) await new Promise((r) => setTimeout(r, 5));
    assert.ok(errors.every((e) => e.code === 'WEFT-D005'));
    ac.abort();
    await done;
  });
});
