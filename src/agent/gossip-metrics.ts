// Gossip metrics for the agent's /metrics: members by state, wire bytes and
// datagrams each way, reliable exchanges, packets the sealing layer refused by
// cause, the local health score. The gossip stack keeps plain counters; they
// are copied into the registry before every scrape (a collector), so the
// packet path does no label lookups.
import type { MetricsRegistry } from '../admin/metrics.js';
import type { GossipNode } from '../gossip/node.js';

const STATES = ['alive', 'suspect', 'dead', 'left'] as const;
const REJECT_CAUSES = ['auth', 'stale', 'replay', 'malformed'] as const;

export class GossipMetrics {
  readonly members;
  readonly bytes;
  readonly packets;
  readonly exchanges;
  readonly rejected;
  readonly health;
  readonly refutes;
  readonly joinFailures;
  readonly catalogEndpoints;

  constructor(registry: MetricsRegistry, node: GossipNode) {
    this.members = registry.gauge('weft_gossip_members', 'Cluster members this agent knows, by state (self included; dead and left until reaped).', ['state']);
    this.bytes = registry.counter('weft_gossip_bytes_total', 'Gossip bytes on the wire (sealed), by direction and kind: datagram (probes, acks, piggybacked gossip) or exchange (TCP join, push-pull, reliable probe).', ['direction', 'kind']);
    this.packets = registry.counter('weft_gossip_packets_total', 'Gossip datagrams, by direction.', ['direction']);
    this.exchanges = registry.counter('weft_gossip_exchanges_total', 'Reliable gossip exchanges over TCP (join, push-pull, reliable probe), by direction (out = this agent asked).', ['direction']);
    this.rejected = registry.counter('weft_gossip_packets_rejected_total', 'Gossip datagrams and exchanges refused: auth (not sealed with an installed key), stale (outside the replay window), replay, malformed.', ['cause']);
    this.health = registry.gauge('weft_gossip_health_score', "Lifeguard's local health score: 0 is healthy; higher means this agent is slow and probes less aggressively.");
    this.refutes = registry.counter('weft_gossip_refutes_total', 'Times this agent refuted a suspicion or death rumour about itself.');
    this.joinFailures = registry.counter('weft_gossip_join_failures_total', 'Join attempts that reached no seed.');
    this.catalogEndpoints = registry.gauge('weft_gossip_catalog_endpoints', 'Service endpoints in the cluster catalog, by origin (local = published by this agent).', ['origin']);

    registry.addCollector(() => {
      const counts: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
      for (const m of node.allMembers()) counts[m.state]!++;
      for (const s of STATES) this.members.set({ state: s }, counts[s]!);
      const w = node.wire.stats;
      const exchangeIn = w.requestBytesIn + w.servedBytesIn;
      const exchangeOut = w.requestBytesOut + w.servedBytesOut;
      this.bytes.labels({ direction: 'in', kind: 'datagram' }).value = w.bytesIn - exchangeIn;
      this.bytes.labels({ direction: 'out', kind: 'datagram' }).value = w.bytesOut - exchangeOut;
      this.bytes.labels({ direction: 'in', kind: 'exchange' }).value = exchangeIn;
      this.bytes.labels({ direction: 'out', kind: 'exchange' }).value = exchangeOut;
      this.packets.labels({ direction: 'in' }).value = w.packetsIn;
      this.packets.labels({ direction: 'out' }).value = w.packetsOut;
      this.exchanges.labels({ direction: 'in' }).value = w.requestsIn;
      this.exchanges.labels({ direction: 'out' }).value = w.requestsOut;
      const r = node.rejectedPackets();
      for (const c of REJECT_CAUSES) this.rejected.labels({ cause: c }).value = r[c];
      this.health.set(node.membership.health);
      this.refutes.labels().value = node.membership.stats.refutes;
      this.joinFailures.labels().value = node.joinStatus.failures;
      let local = 0;
      let remote = 0;
      for (const e of node.catalog.entries()) e.agentId === node.id ? local++ : remote++;
      this.catalogEndpoints.set({ origin: 'local' }, local);
      this.catalogEndpoints.set({ origin: 'remote' }, remote);
    });
  }
}
