// The agent's Prometheus metrics: what a mesh operator expects to graph
// (connections, bytes, handshakes by reply code, latencies, the canary split).
// Hot-path counts are plain numbers on the Splice; they are folded into the
// registry when a stream ends and before every scrape (a registry collector), so
// the data path does no label lookups per chunk.
import { MetricsRegistry } from '../admin/metrics.js';
import { ReplyCode } from './kernels.js';

const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function replyCodeName(code: number): string {
  return ReplyCode[code] ?? `CODE_${code}`;
}

export class AgentMetrics {
  readonly registry = new MetricsRegistry();
  readonly connections = this.registry.counter('weft_agent_connections_total', 'Client connections accepted on meshlet client sockets.', ['namespace', 'meshlet']);
  readonly connectionsActive = this.registry.gauge('weft_agent_connections_active', 'Client connections open now (handshaking or spliced).', ['namespace', 'meshlet']);
  readonly pendingHandshakes = this.registry.gauge('weft_agent_handshakes_pending', 'Client connections whose handshake is not finished.');
  readonly handshakes = this.registry.counter('weft_agent_handshakes_total', 'Client handshakes by reply code.', ['code']);
  readonly handshakeSeconds = this.registry.histogram('weft_agent_handshake_duration_seconds', 'From accept to reply sent.', ['code'], LATENCY_BUCKETS);
  readonly connectSeconds = this.registry.histogram('weft_agent_connect_duration_seconds', 'Opening the upstream (server socket) connection.', ['result'], LATENCY_BUCKETS);
  readonly streams = this.registry.counter('weft_agent_streams_total', 'Streams opened, by destination service and endpoint version (the canary split).', ['service', 'version']);
  readonly streamsActive = this.registry.gauge('weft_agent_streams_active', 'Streams open now, by destination service and version.', ['service', 'version']);
  readonly bytes = this.registry.counter('weft_agent_bytes_total', 'Bytes spliced; direction up = client to service, down = service to client.', ['service', 'version', 'direction']);
  readonly idleClosed = this.registry.counter('weft_agent_idle_timeouts_total', 'Streams closed because they were idle longer than the meshlet idleTimeout.', ['namespace', 'meshlet']);
  readonly streamsAborted = this.registry.counter('weft_agent_streams_aborted_total', 'Streams cut by an error on either side or by the drain deadline.', ['service']);
  readonly canaryPercent = this.registry.gauge('weft_agent_canary_percent', 'Percent of traffic to each version of a meshlet with a canary rollout.', ['namespace', 'meshlet', 'version']);
  readonly meshlets = this.registry.gauge('weft_agent_meshlets', 'Meshlets loaded.');
  readonly reloads = this.registry.counter('weft_agent_reloads_total', 'Meshlet reloads, by result.', ['result']);
  readonly draining = this.registry.gauge('weft_agent_draining', '1 while the agent drains after SIGTERM.');

  render(): string {
    return this.registry.render();
  }
}
