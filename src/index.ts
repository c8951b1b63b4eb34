// weft's library API. The SDK (what a meshlet app imports) is at the top
// level; the kernels are grouped under `kernel`.
export * from './sdk/index.js';
export * as kernel from './kernel/index.js';
export { MetricsRegistry, Counter, Gauge, Histogram, PROMETHEUS_CONTENT_TYPE, DEFAULT_BUCKETS } from './admin/metrics.js';
export { WeftError, ERRORS, explain, type ErrorCode, type ErrorSpec, type Severity } from './errors.js';
export { Agent, type AgentOptions, type ReloadResult } from './agent/agent.js';
export { LocalSocketUpstream, UpstreamError, type Upstream, type UpstreamFailure, type ClientIdentity } from './agent/upstream.js';
export { parseDuration, formatDuration, durationMs } from './config/duration.js';
export * as discovery from './discovery/index.js';
export * as tunnel from './tunnel/index.js';
export * as sync from './sync/index.js';
export { explainText, logError } from './errors-explain.js';
export * as proxy from './proxy/index.js';
export * as gossip from './gossip/index.js';
