// Where remote endpoints come from. A RemoteEndpointSource lists the service
// endpoints on other agents and the peers they live on (name, tunnel address,
// static key, relay route); the agent merges the endpoints into its routes and
// the peers into its tunnel connections. StaticEndpointSource reads them from
// the agent config (tunnel.peers, tunnel.routes); a gossip catalog source
// (ServiceCatalog entries + member metadata with the tunnel address and key)
// implements the same interface.
import type { TunnelConfig } from '../config/tunnel-config.js';
import type { PeerSpec } from '../tunnel/peers.js';
import type { RemoteServiceEndpoint } from './routing.js';

export interface RemoteEndpointSource {
  /** Every service endpoint on another agent known now. */
  endpoints(): readonly RemoteServiceEndpoint[];
  /** The agents those endpoints live on (and relays), for the tunnel connections. */
  peers(): readonly PeerSpec[];
  /** Calls `listener` after either list changed; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
  close(): void;
}

/** Peers, their services and relay routes from the agent config; never changes. */
export class StaticEndpointSource implements RemoteEndpointSource {
  readonly #endpoints: RemoteServiceEndpoint[];
  readonly #peers: PeerSpec[];

  constructor(config: TunnelConfig) {
    this.#peers = config.peers.map((p) => ({
      name: p.name,
      ...(p.address !== undefined ? { address: p.address } : {}),
      ...(p.publicKey !== undefined ? { publicKey: p.publicKey } : {}),
      ...(config.routes[p.name] !== undefined ? { via: config.routes[p.name]! } : {}),
    }));
    this.#endpoints = config.peers.flatMap((p) =>
      p.services.map((s) => ({ serviceId: s.id, peer: p.name, instance: p.name, version: s.version, weight: s.weight })),
    );
  }

  endpoints(): readonly RemoteServiceEndpoint[] {
    return this.#endpoints;
  }

  peers(): readonly PeerSpec[] {
    return this.#peers;
  }

  onChange(): () => void {
    return () => {};
  }

  close(): void {}
}

/** Several sources as one: endpoints concatenated; a peer named by several keeps the first source's entry. */
export class CombinedEndpointSource implements RemoteEndpointSource {
  constructor(readonly sources: readonly RemoteEndpointSource[]) {}

  endpoints(): readonly RemoteServiceEndpoint[] {
    return this.sources.flatMap((s) => s.endpoints());
  }

  peers(): readonly PeerSpec[] {
    const seen = new Set<string>();
    const out: PeerSpec[] = [];
    for (const s of this.sources) {
      for (const p of s.peers()) {
        if (seen.has(p.name)) continue;
        seen.add(p.name);
        out.push(p);
      }
    }
    return out;
  }

  onChange(listener: () => void): () => void {
    const offs = this.sources.map((s) => s.onChange(listener));
    return () => offs.forEach((off) => off());
  }

  close(): void {
    for (const s of this.sources) s.close();
  }
}
