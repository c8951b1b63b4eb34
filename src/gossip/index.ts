// The gossip layer as a library (docs/gossip.md, gossip-membership.md, gossip-state.md).
export type * from './types.js';
export { GossipNode, loadClusterSecrets } from './node.js';
export { Membership } from './membership.js';
export { UdpTransport } from './udp-transport.js';
export { SecureTransport } from './secure-transport.js';
export { Keyring, deriveGossipKey } from './keyring.js';
export { GossipMux, GossipChannel } from './gossiper.js';
export { LwwMap } from './crdt/lww-map.js';
export { OrSet } from './crdt/or-set.js';
export { SharedValues } from './shared-values.js';
export { ClusterRateLimiter } from './rate-limiter.js';
export { Topology } from './topology.js';
export { ServiceCatalog } from './catalog.js';
export { realClock, CryptoRandom } from './real-clock.js';
