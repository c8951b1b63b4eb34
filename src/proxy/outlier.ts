// Outlier detection (Envoy's consecutive-errors detectors): an endpoint that
// answers `consecutive5xx` 5xx in a row, or `consecutiveGatewayErrors` gateway
// errors in a row (502/503/504, or a connect failure, reset or timeout
// attributed to it), is ejected for baseEjectionTime × the number of times it
// has been ejected (backoff, capped), unless that would put more than
// maxEjectionPercent of the service's endpoints out at once (one may always be
// ejected). The multiplier drops by one per interval spent healthy.
import type { OutlierPolicy } from './rules/model.js';
import type { EndpointState } from './endpoint-state.js';

/** What an attempt's result says about the endpoint. */
export type Outcome = { readonly kind: 'status'; readonly status: number } | { readonly kind: 'local-failure' };

/** Longest ejection, as a multiple of the base (Envoy caps at max_ejection_time, default 300 s). */
export const MAX_EJECTION_MULTIPLIER = 10;

/** Applies one outcome; true when it ejected the endpoint. */
export function recordOutcome(state: EndpointState, outcome: Outcome, policy: OutlierPolicy, peers: Iterable<EndpointState>, now: number): boolean {
  let is5xx: boolean;
  let isGateway: boolean;
  if (outcome.kind === 'local-failure') {
    is5xx = true; // a locally seen failure counts as the 503 the client will get
    isGateway = true;
  } else {
    is5xx = outcome.status >= 500;
    isGateway = outcome.status === 502 || outcome.status === 503 || outcome.status === 504;
  }
  if (!is5xx) {
    state.consecutive5xx = 0;
    state.consecutiveGateway = 0;
    return false;
  }
  state.consecutive5xx++;
  state.consecutiveGateway = isGateway ? state.consecutiveGateway + 1 : 0;
  const trip =
    (policy.consecutive5xx > 0 && state.consecutive5xx >= policy.consecutive5xx) ||
    (policy.consecutiveGatewayErrors > 0 && state.consecutiveGateway >= policy.consecutiveGatewayErrors);
  if (!trip || state.ejected(now)) return false;
  let total = 0;
  let ejected = 0;
  for (const p of peers) {
    total++;
    if (p.ejected(now)) ejected++;
  }
  if (ejected > 0 && ((ejected + 1) * 100) / total > policy.maxEjectionPercent) return false;
  if (state.ejections > 0 && state.ejectedUntil > 0) {
    const healthyFor = now - state.ejectedUntil;
    state.ejections = Math.max(0, state.ejections - Math.floor(healthyFor / policy.intervalMs));
  }
  state.ejections = Math.min(MAX_EJECTION_MULTIPLIER, state.ejections + 1);
  state.ejectedUntil = now + policy.baseEjectionMs * state.ejections;
  state.lastEjectionAt = now;
  state.consecutive5xx = 0;
  state.consecutiveGateway = 0;
  return true;
}
