// Building providers from configuration: one object per source, with exactly one
// key naming the provider; an array of them is merged into one provider.

import { WeftError } from '../errors.js';
import { DnsDiscovery, type DnsDiscoveryConfig } from './dns.js';
import { FileDiscovery, type FileDiscoveryConfig } from './file.js';
import { KubernetesDiscovery, type KubernetesDiscoveryConfig, type KubernetesProviderOptions } from './kubernetes.js';
import { MemoryDiscovery } from './memory.js';
import { MergedDiscovery, type MergedDiscoveryOptions } from './merged.js';
import type { DiscoveryProvider } from './provider.js';
import { StaticDiscovery } from './static.js';

export type DiscoveryConfig =
  | { static: string[] }
  | { dns: DnsDiscoveryConfig }
  | { file: FileDiscoveryConfig }
  | { kubernetes: KubernetesDiscoveryConfig }
  | { memory: MemoryDiscovery };

export type CreateDiscoveryOptions = MergedDiscoveryOptions & Pick<KubernetesProviderOptions, 'env'>;

const KINDS = ['static', 'dns', 'file', 'kubernetes', 'memory'] as const;

function createOne(config: DiscoveryConfig, options: CreateDiscoveryOptions, where: string): DiscoveryProvider {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new WeftError('WEFT-D002', `${where} must be an object with one of the keys ${KINDS.join(', ')}`);
  }
  const keys = Object.keys(config);
  if (keys.length !== 1 || !(KINDS as readonly string[]).includes(keys[0]!)) {
    throw new WeftError('WEFT-D002', `${where} must have exactly one of the keys ${KINDS.join(', ')}; it has ${keys.join(', ') || 'none'}`);
  }
  const onError = options.onError;
  if ('static' in config) return new StaticDiscovery(config.static);
  if ('dns' in config) return new DnsDiscovery(config.dns, { onError });
  if ('file' in config) return new FileDiscovery(config.file, { onError });
  if ('kubernetes' in config) return new KubernetesDiscovery(config.kubernetes, { onError, env: options.env });
  if (!(config.memory instanceof MemoryDiscovery)) throw new WeftError('WEFT-D002', `${where}.memory must be a MemoryDiscovery`);
  return config.memory;
}

/**
 * A provider from its configuration; several configurations become one merged
 * provider (union, de-duplicated, tolerant of failing members). Throws WEFT-D002
 * or WEFT-D001 on invalid configuration, before any network or file access.
 */
export function createDiscovery(config: DiscoveryConfig | readonly DiscoveryConfig[], options: CreateDiscoveryOptions = {}): DiscoveryProvider {
  if (Array.isArray(config)) {
    const providers = config.map((c, i) => createOne(c, options, `discovery[${i}]`));
    return providers.length === 1 ? providers[0]! : new MergedDiscovery(providers, options);
  }
  return createOne(config as DiscoveryConfig, options, 'discovery');
}
