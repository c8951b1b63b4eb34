// The sidecar HTTP proxy's public API.
export { SidecarProxy, type SidecarProxyOptions, type RequestContext, type Decision } from './sidecar-proxy.js';
export { parseProxyConfig, parseServicePorts, applyProxyFlags, DEFAULT_PROXY_PORT, type ProxyConfig, type ProxyMode, type HealthCheckSpec, type ProxyFlags } from './config.js';
export { MeshHostResolver, splitHostPort, type DestinationResolver, type Resolution, type ServiceDirectory, type ProxyProtocol } from './resolver.js';
export { ProxyDelivery, ServicePortsUpstream, connectTcp, type MeshUpstream, type DeliveryHint } from './delivery.js';
export { EndpointDirectory, LocalHealth, type ProxyEndpoint, type RemoteEndpoint, type MeshEndpoint, type CatalogView, type Health } from './endpoints.js';
export { HealthChecker, type HealthReporter } from './health-check.js';
export { loadRules, parseRulesText, type LoadedRules } from './rules/load.js';
export { RuleSet, matchRequest, selectRoute, type RequestView } from './rules/rule-set.js';
export type * from './rules/model.js';
export { nextTrace, parseTraceparent, requestId, type TraceContext } from './trace.js';
export { RoundRobinBalancer, LeastRequestBalancer, RandomBalancer, MaglevBalancer, flowHash, type Balancer } from './balancer.js';
export { PeakEwma, EndpointState } from './endpoint-state.js';
export { recordOutcome, type Outcome } from './outlier.js';
