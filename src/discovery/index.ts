// Discovery: how an agent finds its first peers. See docs/discovery.md.

export type { AddressListener, DiscoveryErrorListener, DiscoveryProvider, ProviderOptions } from './provider.js';
export { parseAddress, formatAddress, dedupeAddresses, sameAddressSet, type AddressParseResult } from './address.js';
export { parseAddressFile, type AddressFileIssue, type AddressFileParse } from './address-file.js';
export { StaticDiscovery } from './static.js';
export { DnsDiscovery, type DnsDiscoveryConfig, type DnsRecordType } from './dns.js';
export { FileDiscovery, type FileDiscoveryConfig } from './file.js';
export { KubernetesDiscovery, SERVICE_ACCOUNT_DIR, type KubernetesDiscoveryConfig, type KubernetesProviderOptions } from './kubernetes.js';
export { podAddress, type PodPort } from './kubernetes-pods.js';
export { MemoryDiscovery } from './memory.js';
export { MergedDiscovery, type MergedDiscoveryOptions } from './merged.js';
export { createDiscovery, type DiscoveryConfig, type CreateDiscoveryOptions } from './config.js';
