import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WeftError } from '../../src/errors.js';
import { createDiscovery, type DiscoveryConfig } from '../../src/discovery/config.js';
import { DnsDiscovery } from '../../src/discovery/dns.js';
import { FileDiscovery } from '../../src/discovery/file.js';
import { KubernetesDiscovery } from '../../src/discovery/kubernetes.js';
import { MemoryDiscovery } from '../../src/discovery/memory.js';
import { MergedDiscovery } from '../../src/discovery/merged.js';
import { StaticDiscovery } from '../../src/discovery/static.js';

const isCode = (code: string) => (e: unknown) => e instanceof WeftError && e.code === code;

describe('createDiscovery', () => {
  test('builds each provider from its key', async () => {
    const memory = new MemoryDiscovery(['10.0.0.5:1']);
    assert.ok(createDiscovery({ static: ['10.0.0.1:1'] }) instanceof StaticDiscovery);
    assert.ok(createDiscovery({ dns: { name: 'peers.example', type: 'A', port: 7946 } }) instanceof DnsDiscovery);
    assert.ok(createDiscovery({ dns: { name: '_g._udp.example', type: 'SRV', server: '127.0.0.1:5353' } }) instanceof DnsDiscovery);
    assert.ok(createDiscovery({ file: { path: '/tmp/peers' } }) instanceof FileDiscovery);
    assert.ok(createDiscovery({ kubernetes: { namespace: 'mesh', labelSelector: 'app=weft', port: 7946 } }) instanceof KubernetesDiscovery);
    assert.equal(createDiscovery({ memory }), memory);
    assert.equal(createDiscovery([{ memory }]), memory, 'a list of one is that provider');
    const merged = createDiscovery([{ static: ['10.0.0.1:1'] }, { memory }]);
    assert.ok(merged instanceof MergedDiscovery);
    assert.deepEqual(await merged.discover(), ['10.0.0.1:1', '10.0.0.5:1']);
  });

  test('rejects unknown, missing or several keys with WEFT-D002', () => {
    for (const bad of [{}, { consul: {} }, { static: [], dns: {} }, null, 'static', []] as unknown[]) {
      assert.throws(() => createDiscovery(bad as DiscoveryConfig), isCode('WEFT-D002'), JSON.stringify(bad));
    }
    assert.throws(() => createDiscovery({ memory: {} as MemoryDiscovery }), isCode('WEFT-D002'));
    assert.throws(() => createDiscovery([{ static: ['10.0.0.1:1'] }, { nope: 1 } as unknown as DiscoveryConfig]), /discovery\[1\]/);
  });

  test('validates provider options before any I/O', () => {
    const bad: [DiscoveryConfig, string][] = [
      [{ static: ['10.0.0.1'] }, 'WEFT-D001'],
      [{ dns: { name: 'x.example', type: 'A' } }, 'WEFT-D002'],
      [{ dns: { name: 'x.example', type: 'AAAA', port: 0 } }, 'WEFT-D002'],
      [{ dns: { name: 'x.example', type: 'SRV', port: 7946 } }, 'WEFT-D002'],
      [{ dns: { name: 'x.example', type: 'MX' as 'A', port: 1 } }, 'WEFT-D002'],
      [{ dns: { name: '', type: 'A', port: 1 } }, 'WEFT-D002'],
      [{ dns: { name: 'x.example', type: 'A', port: 1, server: 'dns.example:53' } }, 'WEFT-D002'],
      [{ dns: { name: 'x.example', type: 'A', port: 1, timeoutMs: 0 } }, 'WEFT-D002'],
      [{ dns: { name: 'x.example', type: 'A', port: 1, tries: 1.5 } }, 'WEFT-D002'],
      [{ file: { path: '' } }, 'WEFT-D002'],
      [{ file: { path: '/x', maxBytes: 0 } }, 'WEFT-D002'],
      [{ kubernetes: { labelSelector: 'app=weft' } }, 'WEFT-D002'],
      [{ kubernetes: { labelSelector: 'app=weft', port: 1, portName: 'gossip' } }, 'WEFT-D002'],
      [{ kubernetes: { labelSelector: 'app=weft', port: 70000 } }, 'WEFT-D002'],
      [{ kubernetes: { labelSelector: 'app=weft', portName: 'Gossip_Port' } }, 'WEFT-D002'],
      [{ kubernetes: { labelSelector: 'app=weft', port: 1, namespace: '../etc' } }, 'WEFT-D002'],
      [{ kubernetes: { labelSelector: 'app=weft', port: 1, apiServer: 'http://10.0.0.1' } }, 'WEFT-D002'],
      [{ kubernetes: { labelSelector: 'app=weft', port: 1, apiServer: 'not a url' } }, 'WEFT-D002'],
      [{ kubernetes: { labelSelector: 'app=weft', port: 1, pageSize: -1 } }, 'WEFT-D002'],
      [{ kubernetes: { port: 1 } as never }, 'WEFT-D002'],
    ];
    for (const [config, code] of bad) assert.throws(() => createDiscovery(config), isCode(code), JSON.stringify(config));
  });
});
