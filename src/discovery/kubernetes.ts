// Seeds from the Kubernetes API: the ready pods of a namespace that match a label
// selector. Lists them page by page (limit/continue), then optionally watches
// from the list's resourceVersion and re-lists when the server says 410 Gone.
// In-cluster configuration by default; every path and the server are overridable.
// The bearer token is re-read for each request because projected service-account
// tokens rotate (about hourly) under a running process.

import { readFile } from 'node:fs/promises';
import { isIPv6 } from 'node:net';
import type { Address } from '../gossip/types.js';
import { WeftError } from '../errors.js';
import { Backoff, delay } from './abort.js';
import { dedupeAddresses, sameAddressSet } from './address.js';
import { getBuffered, getLines, type BufferedResponse, type KubernetesRequest } from './kubernetes-http.js';
import { parsePodList, parseStatus, parseWatchEvent, type PodPort, type StatusInfo } from './kubernetes-pods.js';
import type { AddressListener, DiscoveryErrorListener, DiscoveryProvider, ProviderOptions } from './provider.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubernetesDiscoveryConfig {
  /** Namespace of the peer pods. Default: the pod's own, from namespacePath. */
  namespace?: string;
  /** Label selector, e.g. "app=weft,tier!=canary" (sent as is; "" selects every pod of the namespace). */
  labelSelector: string;
  /** Gossip port of every peer pod. Give this or portName. */
  port?: number;
  /** Name of a container port in the pod spec (spec.containers[].ports[].name). Give this or port. */
  portName?: string;
  /** API server base URL (https only). Default: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT. */
  apiServer?: string;
  /** Bearer token file, re-read on every request. Default: the service-account token. */
  tokenPath?: string;
  /** PEM CA bundle that signed the API server's certificate. Default: the service-account ca.crt. */
  caPath?: string;
  /** File holding the default namespace. Default: the service-account namespace file. */
  namespacePath?: string;
  /** Deadline of one list request, headers to last byte; also for the headers of a watch. Default 10 000 ms. */
  timeoutMs?: number;
  /** Pods per list page (the `limit` parameter). Default 500. */
  pageSize?: number;
  /** Cap on one list page's body. Default 16 MiB. */
  maxResponseBytes?: number;
  /** Cap on one watch event line. Default 2 MiB. */
  maxEventBytes?: number;
  /** Server-side duration of one watch request (the `timeoutSeconds` parameter). Default 300. */
  watchTimeoutSeconds?: number;
  /** First retry delay after a failure (doubles, jittered). Default 1000 ms. */
  retryDelayMs?: number;
  /** Cap of the retry delay. Default 30 000 ms. */
  maxRetryDelayMs?: number;
}

export interface KubernetesProviderOptions extends ProviderOptions {
  /** Environment for the in-cluster defaults. Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** RFC 1123 label: what Kubernetes allows as a namespace name. */
const NAMESPACE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Pages are bounded (limit) but a hostile or broken server could continue for ever. */
const MAX_PAGES = 10_000;

type Resolved = Required<Omit<KubernetesDiscoveryConfig, 'namespace' | 'port' | 'portName' | 'apiServer'>> & {
  namespace?: string;
  apiServer?: string;
};

function intOption(config: KubernetesDiscoveryConfig, key: keyof KubernetesDiscoveryConfig, fallback: number, min = 1): number {
  const v = config[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new WeftError('WEFT-D002', `kubernetes.${key} must be an integer ≥ ${min}`, { [key]: v });
  }
  return v;
}

/** Thrown inside a watch to say "the resourceVersion expired: list again". */
class WatchExpired extends Error {}

export class KubernetesDiscovery implements DiscoveryProvider {
  readonly name: string;
  private readonly config: Resolved;
  private readonly port: PodPort;
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly onError: DiscoveryErrorListener;
  private namespaceCache: string | undefined;

  constructor(config: KubernetesDiscoveryConfig, options: KubernetesProviderOptions = {}) {
    if (!config || typeof config !== 'object') throw new WeftError('WEFT-D002', 'kubernetes must be an object');
    if (typeof config.labelSelector !== 'string') throw new WeftError('WEFT-D002', 'kubernetes.labelSelector must be a string');
    if ((config.port === undefined) === (config.portName === undefined)) {
      throw new WeftError('WEFT-D002', 'kubernetes needs exactly one of port and portName');
    }
    if (config.port !== undefined && (!Number.isInteger(config.port) || config.port < 1 || config.port > 65535)) {
      throw new WeftError('WEFT-D002', 'kubernetes.port must be 1..65535', { port: config.port });
    }
    if (config.portName !== undefined && (typeof config.portName !== 'string' || !/^[a-z0-9-]{1,15}$/.test(config.portName))) {
      throw new WeftError('WEFT-D002', 'kubernetes.portName must be a container port name (1..15 of a-z, 0-9, -)');
    }
    if (config.namespace !== undefined && (typeof config.namespace !== 'string' || !NAMESPACE.test(config.namespace))) {
      throw new WeftError('WEFT-D002', `kubernetes.namespace is not a valid namespace name: ${String(config.namespace)}`);
    }
    if (config.apiServer !== undefined) {
      let url: URL;
      try {
        url = new URL(config.apiServer);
      } catch {
        throw new WeftError('WEFT-D002', `kubernetes.apiServer is not a URL: ${config.apiServer}`);
      }
      if (url.protocol !== 'https:') throw new WeftError('WEFT-D002', 'kubernetes.apiServer must be an https URL (the token is a credential)');
    }
    this.port = config.port !== undefined ? { port: config.port } : { portName: config.portName! };
    this.config = {
      namespace: config.namespace,
      labelSelector: config.labelSelector,
      apiServer: config.apiServer?.replace(/\/+$/, ''),
      tokenPath: config.tokenPath ?? `${SERVICE_ACCOUNT_DIR}/token`,
      caPath: config.caPath ?? `${SERVICE_ACCOUNT_DIR}/ca.crt`,
      namespacePath: config.namespacePath ?? `${SERVICE_ACCOUNT_DIR}/namespace`,
      timeoutMs: intOption(config, 'timeoutMs', 10_000),
      pageSize: intOption(config, 'pageSize', 500),
      maxResponseBytes: intOption(config, 'maxResponseBytes', 16 * 1024 * 1024),
      maxEventBytes: intOption(config, 'maxEventBytes', 2 * 1024 * 1024),
      watchTimeoutSeconds: intOption(config, 'watchTimeoutSeconds', 300),
      retryDelayMs: intOption(config, 'retryDelayMs', 1000),
      maxRetryDelayMs: intOption(config, 'maxRetryDelayMs', 30_000),
    };
    this.env = options.env ?? process.env;
    this.onError = options.onError ?? (() => {});
    this.name = `kubernetes:${config.namespace ?? '(own namespace)'}/${config.labelSelector}`;
  }

  async discover(signal?: AbortSignal): Promise<Address[]> {
    const { peers } = await this.list(signal);
    return dedupeAddresses(peers.values());
  }

  /** List, then watch from the list's resourceVersion; re-list on 410 Gone or a corrupt stream. */
  async watch(onChange: AddressListener, signal: AbortSignal): Promise<void> {
    let peers = new Map<string, Address>();
    let resourceVersion: string | undefined;
    let last: Address[] | undefined;
    let needList = true;
    const backoff = new Backoff(this.config.retryDelayMs, this.config.maxRetryDelayMs);
    const emit = (): void => {
      const list = dedupeAddresses(peers.values());
      if (last && sameAddressSet(last, list)) return;
      last = list;
      onChange([...list]);
    };
    while (!signal.aborted) {
      try {
        if (needList) {
          const listed = await this.list(signal);
          peers = listed.peers;
          resourceVersion = listed.resourceVersion;
          needList = false;
          emit();
        }
        const started = Date.now();
        const events = await this.watchOnce(resourceVersion!, peers, signal, (rv) => (resourceVersion = rv), emit);
        // A server that ends watches at once, over and over, must not make us spin.
        if (events === 0 && Date.now() - started < 1000) await delay(backoff.next(), signal);
        else backoff.reset();
      } catch (e) {
        if (signal.aborted) break;
        if (e instanceof WatchExpired) {
          this.onError(new WeftError('WEFT-D012', `${this.name}: ${e.message}`, { resourceVersion }));
          needList = true;
          continue;
        }
        const error = e instanceof WeftError ? e : new WeftError('WEFT-D009', `${this.name}: ${(e as Error).message}`);
        this.onError(error);
        // After a corrupt or oversized event our view may be wrong: start again from a list.
        // After a transport failure the resourceVersion is still good: resume from it.
        if (error.code === 'WEFT-D010' || error.code === 'WEFT-D011') needList = true;
        await delay(backoff.next(), signal);
      }
    }
  }

  /** All qualifying pods, following continue tokens; restarts once if a token expired mid-way. */
  private async list(signal?: AbortSignal): Promise<{ peers: Map<string, Address>; resourceVersion: string }> {
    for (let attempt = 0; ; attempt++) {
      const peers = new Map<string, Address>();
      let token: string | undefined;
      let resourceVersion: string | undefined;
      let pages = 0;
      let expired = false;
      do {
        const query: Record<string, string> = { labelSelector: this.config.labelSelector, limit: String(this.config.pageSize) };
        if (token) query.continue = token;
        const res = await this.get(await this.url(query), signal);
        if (res.status === 410 && token !== undefined) {
          expired = true;
          break;
        }
        if (res.status !== 200) throw this.statusError(res.status, parseStatus(res.body), 'list');
        const page = parsePodList(res.body, this.port);
        if (!page.ok) throw new WeftError('WEFT-D010', `${this.name}: ${page.reason}`, { reason: page.reason });
        for (const [k, v] of page.value.peers) peers.set(k, v);
        resourceVersion = page.value.resourceVersion ?? resourceVersion;
        if (page.value.continueToken !== undefined && page.value.continueToken === token) {
          throw new WeftError('WEFT-D010', `${this.name}: the server repeated the same continue token`);
        }
        token = page.value.continueToken;
        if (++pages >= MAX_PAGES && token) throw new WeftError('WEFT-D010', `${this.name}: more than ${MAX_PAGES} list pages`);
      } while (token);
      if (expired) {
        // The continue token outlived the server's history: the list must start over (once).
        if (attempt >= 1) throw new WeftError('WEFT-D009', `${this.name}: list continue token expired twice`, { status: 410 });
        continue;
      }
      if (!resourceVersion) throw new WeftError('WEFT-D010', `${this.name}: PodList without metadata.resourceVersion`);
      return { peers, resourceVersion };
    }
  }

  /** One watch request; resolves with the number of events when the server ends it. */
  private async watchOnce(
    resourceVersion: string,
    peers: Map<string, Address>,
    signal: AbortSignal,
    setResourceVersion: (rv: string) => void,
    emit: () => void,
  ): Promise<number> {
    const url = await this.url({
      labelSelector: this.config.labelSelector,
      watch: 'true',
      resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(this.config.watchTimeoutSeconds),
    });
    let events = 0;
    let failure: Error | undefined;
    await getLines(
      { ...(await this.credentials()), url, signal },
      {
        connectTimeoutMs: this.config.timeoutMs,
        // The server ends the watch after timeoutSeconds; silence well past that means a hung server.
        idleTimeoutMs: this.config.watchTimeoutSeconds * 1000 + this.config.timeoutMs,
        maxLineBytes: this.config.maxEventBytes,
      },
      {
        onStatus: (res) => {
          if (res.status === 410) throw new WatchExpired('watch resourceVersion expired (410 Gone)');
          failure = this.statusError(res.status, parseStatus(res.body), 'watch');
        },
        onLine: (line) => {
          if (line.length === 0 || (line.length === 1 && line[0] === 0x0d)) return;
          const parsed = parseWatchEvent(line, this.port);
          if (!parsed.ok) throw new WeftError('WEFT-D010', `${this.name}: ${parsed.reason}`, { reason: parsed.reason });
          const ev = parsed.value;
          events++;
          if (ev.type === 'ERROR') {
            if (ev.status.code === 410) throw new WatchExpired(`watch expired: ${ev.status.message ?? ev.status.reason ?? '410'}`);
            throw this.statusError(ev.status.code ?? 0, ev.status, 'watch event');
          }
          if (ev.resourceVersion) setResourceVersion(ev.resourceVersion);
          if (ev.type === 'BOOKMARK') return;
          if (ev.address === undefined) peers.delete(ev.key);
          else peers.set(ev.key, ev.address);
        },
        onChunkEnd: emit,
      },
    );
    if (failure) throw failure;
    return events;
  }

  private statusError(status: number, info: StatusInfo, what: string): WeftError {
    const details = { status, reason: info.reason, message: info.message };
    const text = `${this.name}: ${what} answered ${status}${info.reason ? ` ${info.reason}` : ''}${info.message ? `: ${info.message}` : ''}`;
    if (status === 401 || status === 403) return new WeftError('WEFT-D008', text, details);
    return new WeftError('WEFT-D009', text, details);
  }

  private async get(url: URL, signal?: AbortSignal): Promise<BufferedResponse> {
    const request: KubernetesRequest = { ...(await this.credentials()), url, signal };
    return getBuffered(request, this.config.maxResponseBytes, this.config.timeoutMs);
  }

  private async url(query: Record<string, string>): Promise<URL> {
    const namespace = await this.namespace();
    const url = new URL(`${this.apiServer()}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url;
  }

  private apiServer(): string {
    if (this.config.apiServer) return this.config.apiServer;
    const host = this.env.KUBERNETES_SERVICE_HOST;
    const port = this.env.KUBERNETES_SERVICE_PORT;
    if (!host || !port) {
      throw new WeftError('WEFT-D007', 'KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set and no apiServer was configured');
    }
    return `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  }

  private async namespace(): Promise<string> {
    if (this.config.namespace) return this.config.namespace;
    if (this.namespaceCache) return this.namespaceCache;
    const ns = (await this.readSecret(this.config.namespacePath, 'namespace')).trim();
    if (!NAMESPACE.test(ns)) throw new WeftError('WEFT-D007', `${this.config.namespacePath} does not hold a namespace name`);
    this.namespaceCache = ns;
    return ns;
  }

  /** Token and CA, read on every request: both can be rotated while we run. */
  private async credentials(): Promise<{ token: string; ca: string }> {
    const [token, ca] = await Promise.all([this.readSecret(this.config.tokenPath, 'token'), this.readSecret(this.config.caPath, 'CA')]);
    const t = token.trim();
    if (t.length === 0 || /[\r\n]/.test(t)) throw new WeftError('WEFT-D007', `${this.config.tokenPath} holds no usable token`);
    return { token: t, ca };
  }

  private async readSecret(path: string, what: string): Promise<string> {
    try {
      return await readFile(path, 'utf8');
    } catch (e) {
      throw new WeftError('WEFT-D007', `cannot read the ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
        path,
      });
    }
  }
}
