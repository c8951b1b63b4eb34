// The route-rule model every rules source compiles into: weft's own Route and
// Destination documents and imported Istio VirtualService / DestinationRule
// objects. Hosts stay as written; they are resolved to service IDs by the
// proxy's destination resolver when a request arrives, so a rule written for a
// short name follows the same rules as the requests that use it.

/** How a string is compared: exact, prefix, or a regular expression that must match the whole value (RE2-like, as Istio). */
export type StringMatch =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'regex'; readonly value: string; readonly re: RegExp };

export interface HeaderMatch {
  /** Lower-case header name. */
  readonly name: string;
  /** undefined: the header must be present (any value). */
  readonly match: StringMatch | undefined;
  /** Matches when the header is absent or does not match. */
  readonly invert: boolean;
}

/** One match block: every condition given must hold (AND). A route's list of blocks is an OR. */
export interface RequestMatch {
  readonly path?: StringMatch;
  readonly method?: StringMatch;
  readonly headers: readonly HeaderMatch[];
  /** The port named in the request's Host / authority. */
  readonly port?: number;
}

export interface WeightedDestination {
  /** Host as written (resolved per request); undefined = the host the request was for. */
  readonly host: string | undefined;
  /** Subset name from a Destination(Rule), or undefined for every endpoint. */
  readonly subset: string | undefined;
  /** A version label given directly (weft Route), without a subset definition. */
  readonly version: string | undefined;
  readonly weight: number;
}

/** Conditions an attempt is retried on. */
export interface RetryOn {
  /** Any 5xx response (includes gateway errors). */
  readonly fiveXx: boolean;
  /** 502, 503, 504. */
  readonly gatewayError: boolean;
  /** The connection to the endpoint could not be opened (nothing was sent). */
  readonly connectFailure: boolean;
  /** The endpoint closed or reset the connection before a whole response (also a per-try timeout). */
  readonly reset: boolean;
  /** HTTP/2 REFUSED_STREAM. */
  readonly refusedStream: boolean;
  /** Specific status codes (retriable-status-codes / retriable-4xx = 409). */
  readonly statusCodes: ReadonlySet<number>;
}

export interface RetryPolicy {
  /** Retries after the first attempt (Istio's `attempts`). 0 = no retries. */
  readonly attempts: number;
  /** Per attempt; 0 = only the route timeout. */
  readonly perTryTimeoutMs: number;
  readonly on: RetryOn;
}

export interface FaultPolicy {
  readonly delay?: { readonly fraction: number; readonly ms: number };
  readonly abort?: { readonly fraction: number; readonly status: number };
}

export type RateLimitKey = { readonly kind: 'route' } | { readonly kind: 'source' } | { readonly kind: 'header'; readonly name: string };

export interface RateLimitPolicy {
  /** Requests admitted per window, summed over the cluster. */
  readonly limit: number;
  readonly windowMs: number;
  readonly key: RateLimitKey;
}

export interface HeaderOps {
  readonly set: ReadonlyArray<readonly [string, string]>;
  readonly add: ReadonlyArray<readonly [string, string]>;
  readonly remove: readonly string[];
}

export interface HttpRoute {
  /** `<ns>/<document>/<name or index>`: the `route` label of metrics and logs. */
  readonly name: string;
  /** Empty: matches every request. */
  readonly match: readonly RequestMatch[];
  readonly destinations: readonly WeightedDestination[];
  /** Whole request including retries; undefined = the proxy default; 0 = none. */
  readonly timeoutMs: number | undefined;
  /** undefined = the proxy default. */
  readonly retries: RetryPolicy | undefined;
  readonly fault: FaultPolicy | undefined;
  readonly rateLimit: RateLimitPolicy | undefined;
  readonly requestHeaders: HeaderOps | undefined;
  readonly responseHeaders: HeaderOps | undefined;
  /** Replace the matched path prefix (or the whole path for exact/regex matches) with this. */
  readonly rewritePath: string | undefined;
}

export interface RouteSpec {
  readonly kind: 'route';
  /** `<ns>/<name>` of the document. */
  readonly key: string;
  readonly namespace: string;
  readonly hosts: readonly string[];
  readonly http: readonly HttpRoute[];
  readonly source: string;
}

export type LbPolicy =
  | { readonly kind: 'round-robin' }
  | { readonly kind: 'least-request' }
  | { readonly kind: 'random' }
  | { readonly kind: 'consistent-hash'; readonly on: { readonly kind: 'header'; readonly name: string } | { readonly kind: 'source' } };

export interface BreakerLimits {
  /** Upstream connections open at once. */
  readonly maxConnections: number;
  /** Requests waiting for a connection. */
  readonly maxPendingRequests: number;
  /** Requests in flight. */
  readonly maxRequests: number;
  /** Retries in flight. */
  readonly maxRetries: number;
}

export interface OutlierPolicy {
  /** Consecutive 5xx responses that eject an endpoint; 0 disables. */
  readonly consecutive5xx: number;
  /** Consecutive 502/503/504 or connect failures / resets; 0 disables. */
  readonly consecutiveGatewayErrors: number;
  /** How often an ejected-and-back endpoint's backoff multiplier decays by one. */
  readonly intervalMs: number;
  /** Ejection time = base × number of times ejected (backoff). */
  readonly baseEjectionMs: number;
  /** At most this percent of a service's endpoints ejected at once (at least one may always be). */
  readonly maxEjectionPercent: number;
}

/** Partial policies: a Destination sets some fields; the rest come from the proxy defaults. */
export interface TrafficPolicy {
  readonly lb?: LbPolicy;
  readonly breaker?: Partial<BreakerLimits>;
  readonly outlier?: Partial<OutlierPolicy>;
}

export interface SubsetSpec {
  readonly name: string;
  /** Endpoint labels that must all match: version, instance, meshlet, agent. */
  readonly labels: Readonly<Record<string, string>>;
  readonly policy: TrafficPolicy;
}

export interface DestinationSpec {
  readonly kind: 'destination';
  readonly key: string;
  readonly namespace: string;
  readonly host: string;
  readonly policy: TrafficPolicy;
  readonly subsets: readonly SubsetSpec[];
  readonly source: string;
}

/** Endpoint labels a subset may select on. */
export const SUBSET_LABELS = ['version', 'instance', 'meshlet', 'agent'] as const;

export const RETRY_ON_NAMES = ['5xx', 'gateway-error', 'connect-failure', 'reset', 'refused-stream', 'retriable-4xx'] as const;

export function retryOn(names: Iterable<string>, statusCodes: Iterable<number> = []): RetryOn {
  const set = new Set(names);
  const codes = new Set(statusCodes);
  if (set.has('retriable-4xx')) codes.add(409);
  return {
    fiveXx: set.has('5xx'),
    gatewayError: set.has('gateway-error'),
    connectFailure: set.has('connect-failure'),
    reset: set.has('reset'),
    refusedStream: set.has('refused-stream'),
    statusCodes: codes,
  };
}

export const NO_RETRIES: RetryPolicy = { attempts: 0, perTryTimeoutMs: 0, on: retryOn([]) };
