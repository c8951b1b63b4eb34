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
  'WEFT-G002': {
    severity: 'fatal',
    title: 'gossip cluster secret missing or unsafe',
    cause: 'Gossip is configured but no cluster secret was found (gossip.secretFile or WEFT_CLUSTER_SECRET), the secret file cannot be read or holds no secret, or it is readable by group or others.',
    remediation: 'Write a secret of at least 16 bytes (e.g. `openssl rand -base64 32`) to the file named by gossip.secretFile and `chmod 600` it, or set WEFT_CLUSTER_SECRET; every agent of the cluster needs the same secret.',
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
