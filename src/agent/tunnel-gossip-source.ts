// Remote endpoints from gossip: the service catalog's entries on other agents
// (alive or suspect members) become routes — a DOWN one with weight 0, so it
// takes no traffic but the service stays known (a request for it is answered
// "unavailable", not "unknown service") — and each member whose
// metadata carries a tunnel address and key (src/gossip/agent-meta.ts) becomes
// a tunnel peer, named by its member id; the gossip topology's next hop, when
// it is another member, is the peer's relay route. This agent advertises its
// own tunnel address and key in its member metadata.
import type { AgentGossip } from './gossip-agent.js';
import { decodeAgentMeta } from '../gossip/agent-meta.js';
import { formatPublicKey } from '../tunnel/identity.js';
import type { PeerSpec } from '../tunnel/peers.js';
import type { RemoteServiceEndpoint } from './routing.js';
import type { RemoteEndpointSource } from './tunnel-endpoints.js';

export class GossipEndpointSource implements RemoteEndpointSource {
  readonly #gossip: AgentGossip;
  readonly #listeners = new Set<() => void>();
  #scheduled = false;
  #closed = false;

  constructor(gossip: AgentGossip) {
    this.#gossip = gossip;
    const changed = () => this.#changed();
    gossip.node.catalog.onChange(changed);
    gossip.node.onEvent(changed);
  }

  /** Coalesces a burst of catalog and membership events into one update. */
  #changed(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#closed) for (const l of this.#listeners) l();
    });
  }

  #reachable(id: string): boolean {
    const m = this.#gossip.node.membership.member(id);
    return !!m && (m.state === 'alive' || m.state === 'suspect');
  }

  endpoints(): readonly RemoteServiceEndpoint[] {
    const node = this.#gossip.node;
    const out: RemoteServiceEndpoint[] = [];
    for (const e of node.catalog.entries()) {
      if (e.agentId === node.id || !this.#reachable(e.agentId)) continue;
      const up = e.health === 'UP';
      out.push({ serviceId: e.serviceId, peer: e.agentId, instance: e.instance, version: e.version, weight: up ? e.weight : 0, ...(up ? {} : { health: 'DOWN' as const }) });
    }
    return out;
  }

  peers(): readonly PeerSpec[] {
    const node = this.#gossip.node;
    const out: PeerSpec[] = [];
    for (const m of node.allMembers()) {
      if (m.id === node.id || !this.#reachable(m.id)) continue;
      const meta = decodeAgentMeta(m.meta);
      if (!meta?.tunnelPublicKey) continue;
      const hop = node.route(m.id);
      out.push({
        name: m.id,
        ...(meta.tunnelAddress !== undefined ? { address: meta.tunnelAddress } : {}),
        publicKey: formatPublicKey(meta.tunnelPublicKey),
        ...(hop && hop !== m.id ? { via: hop } : {}),
      });
    }
    return out;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#closed = true;
    this.#listeners.clear();
  }
}
