// Every error weft raises is structured: a stable code, a severity, the probable
// cause and the remediation. The registry below is the single source of truth;
// docs/errors.md is generated from it.

export type Severity = 'fatal' | 'error' | 'warning' | 'info';

export interface ErrorSpec {
  readonly severity: Severity;
  readonly title: string;
  readonly cause: string;
  readonly remediation: string;
}

export const ERRORS = {
  'WEFT-K001': {
    severity: 'fatal',
    title: 'kernel could not be loaded',
    cause: 'A build/*.wasm file is missing or was built for another version of weft.',
    remediation: 'Run `npm run build` (or `npm install`) to rebuild the WebAssembly kernels.',
  },
  'WEFT-K002': {
    severity: 'error',
    title: 'record failed authentication',
    cause: 'The Poly1305 tag did not match: the record was altered, truncated, replayed under another key or nonce, or sealed with another key.',
    remediation: 'Drop the session that carried it; if it repeats, look for a peer with a different cluster secret or a middlebox altering traffic.',
  },
  'WEFT-K003': {
    severity: 'error',
    title: 'kernel input out of bounds',
    cause: 'A length, offset or count passed to a kernel lies outside its buffers or limits.',
    remediation: 'This is a bug in the caller: report it with the stack trace; the input was not processed.',
  },
  'WEFT-K004': {
    severity: 'error',
    title: 'malformed frame',
    cause: 'A tunnel frame had an unknown type, reserved bits set or a length over the negotiated maximum.',
    remediation: 'Close the session; check that both agents run compatible weft versions (docs/protocol.md).',
  },
  'WEFT-K005': {
    severity: 'error',
    title: 'service table full',
    cause: 'The service table has no free slot or endpoint space for another entry.',
    remediation: 'Raise the table capacity in the config or remove stale services.',
  },
  'WEFT-K006': {
    severity: 'error',
    title: 'worker pool task failed',
    cause: 'A kernel task on the Piscina worker pool threw or its worker exited.',
    remediation: 'Check the log for the worker error; the pool replaces dead workers, the batch can be retried inline.',
  },
  'WEFT-G101': {
    severity: 'warning',
    title: 'gossip message rejected',
    cause: 'A gossip packet or push-pull exchange failed authentication (sealed with a key this keyring does not hold, or altered), was older than the replay window, or was a replay of one already accepted.',
    remediation: 'Check that every agent holds the current cluster secret (during rotation: install the new key everywhere before making it primary) and that clocks agree within the replay window.',
  },
  'WEFT-G102': {
    severity: 'error',
    title: 'keyring operation refused',
    cause: 'A gossip key was too short, not installed, or was the primary key being removed.',
    remediation: 'Install a secret of at least 16 bytes; make another key primary (use) before removing the current one.',
  },
  'WEFT-A001': {
    severity: 'error',
    title: 'invalid configuration',
    cause: 'A config or meshlet file has a field that is missing, of the wrong type or out of range, or is not valid YAML.',
    remediation: 'Fix the field named in the message (file, field path, what was expected); the agent keeps running with the last good meshlets.',
  },
  'WEFT-A002': {
    severity: 'error',
    title: 'configuration file unreadable',
    cause: 'A config file or meshlet path does not exist or cannot be read.',
    remediation: 'Check the path (relative paths are resolved against the agent config file directory) and its permissions.',
  },
  'WEFT-A003': {
    severity: 'error',
    title: 'duplicate meshlet',
    cause: 'Two meshlet documents declare the same metadata.namespace and metadata.name, or one meshlet lists a service or instance twice.',
    remediation: 'Keep one declaration per meshlet; rename or remove the duplicate.',
  },
  'WEFT-A004': {
    severity: 'error',
    title: 'socket path in use',
    cause: 'Another process is listening on a socket path the agent needs (a second agent on the same socket root?).',
    remediation: 'Stop the other process or give this agent another socketRoot; a socket file nobody listens on is removed automatically.',
  },
  'WEFT-A005': {
    severity: 'error',
    title: 'socket setup failed',
    cause: 'Creating a meshlet socket directory, listening on its client socket or applying its owner, group or mode failed.',
    remediation: 'Check that the socket root is writable, that the path is under 108 bytes, and that owner/group exist (changing them needs root).',
  },
  'WEFT-A006': {
    severity: 'fatal',
    title: 'admin API could not listen',
    cause: 'The admin host/port is taken or not an address of this host.',
    remediation: 'Choose another admin.port (0 picks a free one) or stop the process holding it.',
  },
  'WEFT-A007': {
    severity: 'error',
    title: 'internal error on a client connection',
    cause: 'Connecting a client to its service failed in a way the agent does not classify (the client got reply INTERNAL).',
    remediation: 'Look at details.errno and details.path: usually a meshlet instance directory that was replaced or made unreachable.',
  },
  'WEFT-A008': {
    severity: 'warning',
    title: 'service connection failed',
    cause: 'The server socket of the chosen instance was missing, refused, or did not answer within the connect timeout.',
    remediation: 'Check that the meshlet instance is running and listening on server/<service> in its socket directory.',
  },
  'WEFT-A009': {
    severity: 'warning',
    title: 'admin request rejected',
    cause: 'The admin API got an unknown path, method, meshlet, or an action that does not apply.',
    remediation: 'See docs/agent.md for the admin routes; canary actions need a meshlet with spec.canary.',
  },
  'WEFT-A010': {
    severity: 'warning',
    title: 'drain deadline reached',
    cause: 'Streams were still open when the graceful-drain deadline passed, so the agent closed them.',
    remediation: 'Raise timeouts.drain if clients need longer to finish, or make them reconnect.',
  },
  'WEFT-A011': {
    severity: 'error',
    title: 'mesh connection refused',
    cause: 'The agent answered the client handshake with a non-OK reply code (named in the message).',
    remediation: 'UNKNOWN_SERVICE: check the ID; FORBIDDEN: add it to spec.uses; UNAVAILABLE/TUNNEL_FAILED: start the service; OVERLOADED: retry later.',
  },
  'WEFT-A012': {
    severity: 'error',
    title: 'agent socket unreachable',
    cause: 'The client socket of the meshlet is missing or nobody listens on it: the agent is not running or uses another socket root.',
    remediation: 'Start `weft agent` (with the same --config), or pass --socket / --socket-root.',
  },
  'WEFT-G001': {
    severity: 'error',
    title: 'could not join the gossip cluster',
    cause: 'None of the given addresses answered the join push-pull: wrong addresses or port, the peers are down, a firewall drops TCP to the gossip port, or the cluster secret differs.',
    remediation: 'Check the join addresses and that TCP and UDP reach the gossip port on at least one of them; the error details list each address and its failure.',
  },
  'WEFT-D001': {
    severity: 'error',
    title: 'invalid peer address',
    cause: 'A discovery source gave an address that is not "host:port" (host a DNS name, a dotted IPv4 address or an IPv6 address in brackets; port 1..65535).',
    remediation: 'Fix the address in the configuration or source; IPv6 addresses need brackets, e.g. "[fd00::1]:7946".',
  },
  'WEFT-D002': {
    severity: 'fatal',
    title: 'invalid discovery configuration',
    cause: 'The discovery configuration names no provider or an unknown one, or a provider option has the wrong type or range.',
    remediation: 'Use exactly one of static, dns, file, kubernetes or memory per entry (docs/discovery.md).',
  },
  'WEFT-D003': {
    severity: 'error',
    title: 'DNS discovery query failed',
    cause: 'The DNS server did not answer in time, answered SERVFAIL or REFUSED, or sent a truncated or malformed response.',
    remediation: 'Check the resolver address and that the DNS server is reachable; the query is retried on the next discovery round.',
  },
  'WEFT-D004': {
    severity: 'warning',
    title: 'DNS discovery name has no records',
    cause: 'The name does not exist (NXDOMAIN) or has no records of the requested type (A, AAAA or SRV).',
    remediation: 'Check the name and record type; for a headless Kubernetes service the name appears once at least one pod is ready.',
  },
  'WEFT-D005': {
    severity: 'error',
    title: 'address file could not be read',
    cause: 'The discovery file is missing, unreadable, larger than the configured limit, or a JSON array that does not parse.',
    remediation: 'Create the file or fix its permissions or content; the file provider keeps watching and re-reads it when it changes.',
  },
  'WEFT-D006': {
    severity: 'warning',
    title: 'address file line ignored',
    cause: 'A line (or JSON array element) of the discovery file is not a valid "host:port"; the other lines were used.',
    remediation: 'Fix the line named in the details; comments start with #.',
  },
  'WEFT-D007': {
    severity: 'error',
    title: 'Kubernetes in-cluster configuration missing',
    cause: 'KUBERNETES_SERVICE_HOST/PORT are not set, or the service-account token, CA certificate or namespace file could not be read.',
    remediation: 'Run inside a pod with a mounted service-account token, or set apiServer, tokenPath, caPath and namespace explicitly.',
  },
  'WEFT-D008': {
    severity: 'error',
    title: 'Kubernetes API refused the credentials',
    cause: 'The API server answered 401 (token invalid or expired) or 403 (the service account may not list or watch pods in the namespace).',
    remediation: 'Grant get, list and watch on pods in the namespace to the service account (docs/discovery.md has the RBAC manifest).',
  },
  'WEFT-D009': {
    severity: 'error',
    title: 'Kubernetes API request failed',
    cause: 'The API server could not be reached, did not answer within the timeout, closed the connection, or answered with an unexpected status.',
    remediation: 'Check network access to the API server and its health; discovery retries with backoff.',
  },
  'WEFT-D010': {
    severity: 'error',
    title: 'Kubernetes API response malformed',
    cause: 'A PodList or watch event was not valid JSON or did not have the expected shape.',
    remediation: 'Check that apiServer points at a Kubernetes API server (not a proxy page); the provider re-lists after a backoff.',
  },
  'WEFT-D011': {
    severity: 'error',
    title: 'Kubernetes API response too large',
    cause: 'A list page or a single watch event exceeded the configured size limit, so it was not read further.',
    remediation: 'Narrow the label selector, lower pageSize, or raise maxResponseBytes / maxEventBytes.',
  },
  'WEFT-D012': {
    severity: 'info',
    title: 'Kubernetes watch expired',
    cause: 'The API server no longer holds the resourceVersion the watch resumed from (410 Gone), as happens after a few minutes.',
    remediation: 'None needed: the provider lists the pods again and watches from the new resourceVersion.',
  },
  'WEFT-D013': {
    severity: 'error',
    title: 'every discovery provider failed',
    cause: 'None of the configured discovery providers returned addresses; the details list each failure.',
    remediation: 'Fix at least one provider (see the nested error codes); the agent retries discovery with backoff.',
  },
  'WEFT-T001': {
    severity: 'error',
    title: 'tunnel handshake failed authentication',
    cause: 'A handshake message did not decrypt: the peer has a different cluster secret, speaks another tunnel version, or the bytes were altered in transit.',
    remediation: 'Check that both agents use the same cluster secret and compatible weft versions (docs/protocol.md §3); repeated failures from one address may be a probe.',
  },
  'WEFT-T002': {
    severity: 'warning',
    title: 'tunnel handshake timed out',
    cause: 'The peer did not complete the handshake within the handshake timeout (slow, stalled or not a weft agent).',
    remediation: 'Check connectivity to the peer; raise handshakeTimeoutMs only if the link is very slow.',
  },
  'WEFT-T003': {
    severity: 'error',
    title: 'malformed tunnel handshake',
    cause: 'The peer sent bytes that are not a weft tunnel handshake: wrong magic, unsupported version, an oversized or truncated message, or bad settings.',
    remediation: 'Make sure the address belongs to a weft agent of a compatible version (docs/protocol.md §3).',
  },
  'WEFT-T004': {
    severity: 'error',
    title: 'tunnel peer key not allowed',
    cause: 'The peer proved the cluster secret but its static key is not among the pinned keys.',
    remediation: 'Add the peer\'s public key (`weft id` on that host) to the pinned keys, or investigate the host presenting this key.',
  },
  'WEFT-T005': {
    severity: 'error',
    title: 'tunnel record failed authentication',
    cause: 'A sealed record did not verify under the expected key and counter: it was altered, replayed, reordered, dropped or truncated in transit.',
    remediation: 'The session was closed and will be re-established; if it repeats, look for a middlebox altering traffic or an attack on the path.',
  },
  'WEFT-T006': {
    severity: 'error',
    title: 'malformed tunnel record',
    cause: 'A record header had reserved bits set or a length outside the limits of docs/protocol.md §4.',
    remediation: 'Check that both agents run compatible weft versions; the session was closed.',
  },
  'WEFT-T007': {
    severity: 'error',
    title: 'tunnel protocol violation',
    cause: 'The peer broke a frame or stream rule (bad frame, unknown stream, data beyond the flow-control window, bad stream id).',
    remediation: 'The session was closed with GOAWAY; check both agents\' versions and logs for the frame that was refused.',
  },
  'WEFT-T008': {
    severity: 'error',
    title: 'tunnel session closed',
    cause: 'The tunnel session ended (socket closed, peer went away, or the session was destroyed) while this stream was still open.',
    remediation: 'Treat the stream as reset: retry on a new session if the operation is idempotent.',
  },
  'WEFT-T009': {
    severity: 'warning',
    title: 'tunnel stream reset',
    cause: 'The peer aborted the stream with RST (its code is in details.rst: e.g. UNKNOWN_SERVICE, FORBIDDEN, UNAVAILABLE, CANCEL).',
    remediation: 'Act on the RST code: UNKNOWN_SERVICE/FORBIDDEN are final, UNAVAILABLE and STREAM_REFUSED may be retried elsewhere.',
  },
  'WEFT-T010': {
    severity: 'warning',
    title: 'tunnel keepalive timed out',
    cause: 'No PONG (or any record) came back from the peer within the keepalive timeout.',
    remediation: 'The peer or the path is down; the session was closed and will be re-established.',
  },
  'WEFT-T011': {
    severity: 'fatal',
    title: 'identity key file is not private',
    cause: 'The agent identity key file is readable or writable by group or others, so the private key may have leaked.',
    remediation: 'Run `chmod 600` on the file (and consider generating a new identity, since the key may have been exposed).',
  },
  'WEFT-T012': {
    severity: 'fatal',
    title: 'identity key file malformed',
    cause: 'The agent identity key file is not a weft identity (docs/tunnel.md: JSON with version 1, X25519 private and public keys in base64), or its public key does not match its private key.',
    remediation: 'Restore the file from backup, or move it away so that a new identity is generated (peers pinning the old key must be updated).',
  },
  'WEFT-T013': {
    severity: 'warning',
    title: 'tunnel stream refused',
    cause: 'The session is draining (GOAWAY sent or received) or at its stream limit, so no new stream can be opened on it.',
    remediation: 'Open the stream on a new session; STREAM_REFUSED streams were not processed and are safe to retry.',
  },
  'WEFT-T014': {
    severity: 'error',
    title: 'tunnel peer over a limit',
    cause: 'The peer made this side buffer more than a configured limit (queued control frames, unread outbound bytes) or opened too many streams.',
    remediation: 'The session was closed; check the peer for a bug or abuse, or raise the limit if the load is legitimate.',
  },
  'WEFT-S001': {
    severity: 'warning',
    title: 'sync events dropped',
    cause: 'A sync sink (NATS) could not deliver fast enough or was disconnected longer than its bounded buffer could hold, so the oldest queued events were dropped. The next delivered event carries a Weft-Gap header and a gap record names the first and last dropped versions.',
    remediation: 'Consumers should re-read the snapshot (weft sync --out, or the JetStream stream) to recover the missed state; raise the sink buffer (maxBuffered) or enable JetStream if outages are expected, and check NATS availability.',
  },
  'WEFT-S002': {
    severity: 'warning',
    title: 'NATS connection lost',
    cause: 'The NATS server closed the connection or became unreachable; the sink keeps events in its bounded buffer and reconnects in the background.',
    remediation: 'Check that nats-server is running and reachable at the configured URL; events are delivered once it is back, unless the buffer overflows (WEFT-S001).',
  },
  'WEFT-S003': {
    severity: 'error',
    title: 'JetStream stream could not be ensured',
    cause: 'Creating or updating the WEFT_<CLUSTER> stream failed: JetStream is not enabled on the server (-js), the account has no JetStream quota, or an existing stream with that name has an incompatible configuration.',
    remediation: 'Start nats-server with -js (and -sd DIR for storage), grant the account JetStream limits, or delete/rename the conflicting stream; the sink retries on every reconnect.',
  },
  'WEFT-S004': {
    severity: 'warning',
    title: 'JetStream publish not acknowledged',
    cause: 'A JetStream publish timed out or was refused (no responders while the server restarts, stream limits, storage full); the event stays queued and is retried in order with the same Nats-Msg-Id so a retry is never stored twice.',
    remediation: 'Usually transient during a server restart. If it persists, check the stream limits (max bytes, max messages) and the server storage.',
  },
  'WEFT-S005': {
    severity: 'error',
    title: 'sync snapshot unreadable',
    cause: 'The snapshot file in the sync output directory is not a valid weft snapshot (edited by hand, written by an incompatible version, or damaged on disk). Snapshots are written atomically, so a crash alone does not cause this.',
    remediation: 'The file was moved aside (snapshot.json.corrupt-<time>) and the sink started empty; the snapshot is rebuilt from the next events. Restore a backup if you need the old state.',
  },
  'WEFT-S006': {
    severity: 'error',
    title: 'sync file write failed',
    cause: 'Appending to the event log, rotating it or writing the snapshot failed: disk full, permissions, or the output directory was removed.',
    remediation: 'Check free space and permissions of the sync output directory (weft sync --out DIR); the sink retries the snapshot on the next change.',
  },
  'WEFT-S007': {
    severity: 'error',
    title: 'invalid sync event',
    cause: 'An event had an unknown kind or event name, an empty uid, or an object that is not plain JSON (functions, BigInt, cycles).',
    remediation: 'This is a bug in the code that feeds the sync engine: kinds and events are listed in docs/sync.md.',
  },
  'WEFT-S008': {
    severity: 'warning',
    title: 'invalid sync input line',
    cause: 'A line read by `weft sync` (stdin NDJSON or a NATS message) was not JSON or not a valid change or event; it was skipped.',
    remediation: 'Each line must be one JSON object: a change {kind, event, uid, object} or a full event as published by weft; see docs/sync.md.',
  },
  'WEFT-S009': {
    severity: 'fatal',
    title: 'invalid sync configuration',
    cause: 'A sync option is out of range or malformed: a cluster or agent name that is not a NATS subject token ([A-Za-z0-9_-]), a non-positive buffer or file size, or a missing output directory.',
    remediation: 'Fix the option named in the message; see docs/sync.md for the options and their defaults.',
  },
  'WEFT-P001': {
    severity: 'warning',
    title: 'malformed HTTP request',
    cause: 'The sidecar proxy got a request it cannot forward safely: a bad request line, headers over the size limit, ambiguous framing (Content-Length with Transfer-Encoding, several Content-Length or Host headers), obs-fold, or an unsupported HTTP version.',
    remediation: 'Fix the client; the request was answered with 400 and never reached a service.',
  },
  'WEFT-P002': {
    severity: 'warning',
    title: 'no mesh service for this host',
    cause: 'The Host (or CONNECT target, or :authority) does not name a mesh service: unknown, ambiguous, or not a mesh name.',
    remediation: 'Use <service>.<meshlet>.<ns>, or a short name that the --service-ports rules resolve (docs/proxy.md); put non-mesh hosts in no_proxy.',
  },
  'WEFT-P003': {
    severity: 'warning',
    title: 'no healthy upstream',
    cause: 'Every endpoint of the service (or of the route subset) is DOWN, ejected as an outlier, or has weight 0.',
    remediation: 'Check the service instances and their health checks (GET /services, weft_proxy_health); ejected endpoints come back after their ejection time.',
  },
  'WEFT-P004': {
    severity: 'warning',
    title: 'circuit open',
    cause: 'The upstream cluster is at a circuit-breaker limit (max connections with pending requests, max pending requests, max requests or max retries).',
    remediation: 'Retry later, or raise the limits in the Destination / DestinationRule connection pool settings.',
  },
  'WEFT-P005': {
    severity: 'warning',
    title: 'upstream failed',
    cause: 'Connecting to the chosen endpoint failed, or it reset the connection, and no retry succeeded.',
    remediation: 'Check that the service instance is running and listening; see the access log (endpoint, attempts).',
  },
  'WEFT-P006': {
    severity: 'warning',
    title: 'upstream timeout',
    cause: 'The route timeout (or the per-try timeout on the last attempt) passed before the upstream answered.',
    remediation: 'Raise the route timeout or make the service faster; retries count against the same overall timeout.',
  },
  'WEFT-P007': {
    severity: 'info',
    title: 'rate limited',
    cause: 'The route is over its cluster-wide rate limit (summed over every agent through gossip).',
    remediation: 'Retry after the window; raise the route rateLimit if the limit is too low.',
  },
  'WEFT-P008': {
    severity: 'info',
    title: 'fault injected',
    cause: 'A route fault rule aborted this request on purpose.',
    remediation: 'Remove or lower the fault percentage in the route rules.',
  },
  'WEFT-P009': {
    severity: 'error',
    title: 'route rules rejected',
    cause: 'A route rules file (weft Route/Destination or Istio VirtualService/DestinationRule) is invalid: the message names the file, the field and what was expected.',
    remediation: 'Fix the file; the proxy keeps the last good rules.',
  },
  'WEFT-P010': {
    severity: 'fatal',
    title: 'proxy could not listen',
    cause: 'The proxy host/port is taken or not an address of this host.',
    remediation: 'Choose another proxy.port (0 picks a free one) or stop the process holding it.',
  },
  'WEFT-P011': {
    severity: 'warning',
    title: 'health check failed',
    cause: 'A local instance failed its rest or tcp health check often enough to be marked DOWN (or recovered and was marked UP).',
    remediation: 'Check the instance; the reason (status, body, connect error, timeout) is in details.',
  },
  'WEFT-P012': {
    severity: 'warning',
    title: 'forbidden destination',
    cause: 'The sidecar meshlet did not declare that it uses this service (spec.uses).',
    remediation: 'Add the service ID (or a pattern) to spec.uses of the meshlet.',
  },
  'WEFT-G002': {
    severity: 'fatal',
    title: 'gossip cluster secret missing or unsafe',
    cause: 'Gossip is configured but no cluster secret was found (gossip.secretFile or WEFT_CLUSTER_SECRET), the secret file cannot be read or holds no secret, or it is readable by group or others.',
    remediation: 'Write a secret of at least 16 bytes (e.g. `openssl rand -base64 32`) to the file named by gossip.secretFile and `chmod 600` it, or set WEFT_CLUSTER_SECRET; every agent of the cluster needs the same secret.',
  },
  'WEFT-T015': {
    severity: 'warning',
    title: 'tunnel peer unreachable',
    cause: 'No session to the peer agent could be established: the dial failed or timed out, its handshake failed, no route (direct address or relay) is configured, or the peer is in reconnect backoff after recent failures.',
    remediation: 'Check the peer\'s tunnel address, that it runs with the same cluster secret, and the routes (tunnel.peers, tunnel.routes); /peers on the admin API shows each peer\'s state and last error.',
  },
  'WEFT-P013': {
    severity: 'fatal',
    title: 'access log cannot be opened',
    cause: 'proxy.accessLog names a file the agent cannot open for appending: its directory is missing, or the agent lacks permission.',
    remediation: 'Create the directory or fix its permissions, or set proxy.accessLog to stdout or off.',
  },
  'WEFT-G103': {
    severity: 'warning',
    title: 'compressed gossip exchange refused',
    cause: 'A push-pull request or reply opened under the cluster key but its compressed payload was corrupt, truncated, had bytes after the end of the stream, or would inflate past the push-pull size limit (maxPushPullBytes, 8 MiB by default): a decompression bomb, a bug, or a cluster far larger than the limit allows.',
    remediation: 'Nothing was merged and the exchange was dropped whole. If the cluster really is that large, raise maxPushPullBytes on every member; otherwise find the member named in the details (it holds the cluster secret) and check its version and integrity.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** An Error that carries its registry entry and optional details (never secrets). */
export class WeftError extends Error {
  readonly code: ErrorCode;
  readonly severity: Severity;
  readonly cause_: string;
  readonly remediation: string;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message?: string, details: Record<string, unknown> = {}) {
    const spec: ErrorSpec = ERRORS[code];
    super(message ? `${code} ${spec.title}: ${message}` : `${code} ${spec.title}`);
    this.name = 'WeftError';
    this.code = code;
    this.severity = spec.severity;
    this.cause_ = spec.cause;
    this.remediation = spec.remediation;
    this.details = details;
  }

  /** The shape logs and API replies carry. */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      severity: this.severity,
      message: this.message,
      cause: this.cause_,
      remediation: this.remediation,
      ...(Object.keys(this.details).length ? { details: this.details } : {}),
    };
  }
}

/** Looks up a code, for `weft explain`. */
export function explain(code: string): (ErrorSpec & { code: string }) | undefined {
  const spec = (ERRORS as Record<string, ErrorSpec>)[code];
  return spec ? { code, ...spec } : undefined;
}
