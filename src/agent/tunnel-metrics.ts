// Tunnel metrics for /metrics, folded from live counters before each scrape
// (nothing on the data path touches the registry): handshakes and their
// failures by cause, sessions, streams, wire bytes, records, rekeys, relays,
// inbound refusals, and the process's memory (to watch buffering under load).
import type { MetricsRegistry } from '../admin/metrics.js';
import { handshakeStats, type HandshakeFailureCause } from '../tunnel/handshake.js';
import type { TunnelPeers } from '../tunnel/peers.js';
import type { InboundStreams } from './tunnel-inbound.js';
import type { TunnelUpstream } from './tunnel-upstream.js';

/** A counter fed from a running total: adds what grew since the last scrape. */
class Delta {
  #last = new Map<string, number>();
  step(key: string, total: number): number {
    const d = total - (this.#last.get(key) ?? 0);
    this.#last.set(key, total);
    return d > 0 ? d : 0;
  }
}

export function registerTunnelMetrics(registry: MetricsRegistry, source: () => { peers: TunnelPeers; inbound: InboundStreams; upstream: TunnelUpstream } | undefined): void {
  const handshakes = registry.counter('weft_tunnel_handshakes_total', 'Tunnel handshakes (both roles) by result.', ['result']);
  const failures = registry.counter('weft_tunnel_handshake_failures_total', 'Failed tunnel handshakes by cause (auth = wrong cluster secret or altered bytes).', ['cause']);
  const sessions = registry.counter('weft_tunnel_sessions_total', 'Tunnel sessions established (direct, inbound and relayed).');
  const sessionsActive = registry.gauge('weft_tunnel_sessions_active', 'Tunnel sessions open now, by path.', ['path']);
  const streams = registry.counter('weft_tunnel_streams_total', 'Streams over tunnels: out = opened to a peer for a local client, in = accepted from a peer.', ['direction']);
  const streamsActive = registry.gauge('weft_tunnel_streams_active', 'Streams open now on all tunnel sessions.');
  const refused = registry.counter('weft_tunnel_streams_refused_total', 'Streams from peers refused, by RST code.', ['code']);
  const bytes = registry.counter('weft_tunnel_bytes_total', 'Bytes on tunnel connections (records, after sealing), by direction.', ['direction']);
  const records = registry.counter('weft_tunnel_records_total', 'Sealed records, by direction.', ['direction']);
  const rekeys = registry.counter('weft_tunnel_rekeys_total', 'Key updates (either direction).');
  const relayActive = registry.gauge('weft_tunnel_relay_streams_active', 'Streams this agent relays between two other agents now.');
  const relayed = registry.counter('weft_tunnel_relay_streams_total', 'Streams relayed between two other agents.');
  const relayRefused = registry.counter('weft_tunnel_relay_refused_total', 'Relay requests refused (over the fan-in limits, unknown or unreachable target).');
  const rss = registry.gauge('weft_process_resident_memory_bytes', 'Resident set size of the agent process.');
  const heap = registry.gauge('weft_process_heap_used_bytes', 'V8 heap in use.');
  const buffers = registry.gauge('weft_process_array_buffers_bytes', 'Memory held by ArrayBuffers and Buffers (socket and stream data).');
  const d = new Delta();
  // Every cause is listed from the start, so a dashboard sees zeros rather than gaps.
  const causes: HandshakeFailureCause[] = ['auth', 'timeout', 'malformed', 'version', 'pinned', 'closed'];
  for (const c of causes) failures.inc({ cause: c }, 0);

  registry.addCollector(() => {
    const m = process.memoryUsage();
    rss.set(m.rss);
    heap.set(m.heapUsed);
    buffers.set(m.arrayBuffers);
    const src = source();
    if (!src) return;
    const hs = handshakeStats();
    handshakes.inc({ result: 'completed' }, d.step('hs.ok', hs.completed));
    handshakes.inc({ result: 'failed' }, d.step('hs.failed', Object.values(hs.failed).reduce((a, b) => a + b, 0)));
    for (const c of causes) failures.inc({ cause: c }, d.step(`hs.${c}`, hs.failed[c]));
    const t = src.peers.totals();
    sessions.inc(d.step('sessions', t.sessions));
    sessionsActive.set({ path: 'direct' }, t.active - t.activeRelayed);
    sessionsActive.set({ path: 'relayed' }, t.activeRelayed);
    streams.inc({ direction: 'out' }, d.step('streams.out', src.upstream.opened));
    streams.inc({ direction: 'in' }, d.step('streams.in', src.inbound.counters.accepted));
    streamsActive.set(t.streams);
    refused.inc({ code: 'UNKNOWN_SERVICE' }, d.step('ref.unknown', src.inbound.counters.refused.UNKNOWN_SERVICE));
    refused.inc({ code: 'UNAVAILABLE' }, d.step('ref.unavailable', src.inbound.counters.refused.UNAVAILABLE));
    bytes.inc({ direction: 'sent' }, d.step('bytes.sent', t.bytesSent));
    bytes.inc({ direction: 'received' }, d.step('bytes.received', t.bytesReceived));
    records.inc({ direction: 'sent' }, d.step('records.sent', t.recordsSent));
    records.inc({ direction: 'received' }, d.step('records.received', t.recordsReceived));
    rekeys.inc(d.step('rekeys', t.rekeys));
    relayActive.set(src.peers.relayActive);
    relayed.inc(d.step('relayed', src.peers.relayTotal));
    relayRefused.inc(d.step('relayRefused', src.peers.relayRefused));
  });
}
