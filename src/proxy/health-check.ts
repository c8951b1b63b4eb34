// Local health checks: `rest` (GET a path, expect a status and optionally a
// body substring) and `tcp` (the connection opens) against each local instance
// of a service, every interval. After `unhealthyThreshold` failures in a row
// an instance is DOWN, after `healthyThreshold` passes UP again. A change goes
// to the proxy (DOWN endpoints are skipped) and to the HealthReporter — the
// gossip catalog, so other agents stop sending to it too.
import { request } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ClientIdentity } from '../agent/upstream.js';
import type { Logger } from '../agent/log.js';
import { WeftError } from '../errors.js';
import type { HealthCheckSpec } from './config.js';
import { connectTcp, type MeshUpstream } from './delivery.js';
import type { EndpointDirectory, Health, LocalHealth, ProxyEndpoint } from './endpoints.js';
import type { ProxyMetrics } from './proxy-metrics.js';

/** Where health marks go besides the proxy itself; ServiceCatalog implements it (setHealth). */
export interface HealthReporter {
  setHealth(serviceId: string, instance: string, health: Health): unknown;
}

const MAX_BODY = 64 * 1024;

interface InstanceState {
  fails: number;
  passes: number;
  health: Health;
  running: boolean;
}

export interface HealthCheckerOptions {
  specs: readonly HealthCheckSpec[];
  directory: EndpointDirectory;
  delivery: MeshUpstream;
  health: LocalHealth;
  reporter?: HealthReporter | undefined;
  metrics: ProxyMetrics;
  log: Logger;
  source: ClientIdentity;
}

export class HealthChecker {
  readonly #o: HealthCheckerOptions;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #state = new Map<string, InstanceState>();
  #closed = false;

  constructor(options: HealthCheckerOptions) {
    this.#o = options;
  }

  start(): void {
    for (const spec of this.#o.specs) {
      const tick = () => void this.runOnce(spec);
      tick();
      const t = setInterval(tick, spec.intervalMs);
      t.unref();
      this.#timers.push(t);
    }
  }

  /** Checks every matching local instance once (also what the timer does). */
  async runOnce(spec: HealthCheckSpec): Promise<void> {
    const targets = this.#o.directory.snapshot(spec.service).filter((e) => e.agent === 'local' && (spec.instance === undefined || e.instance === spec.instance));
    await Promise.all(targets.map((ep) => this.#checkInstance(spec, ep)));
  }

  async #checkInstance(spec: HealthCheckSpec, ep: ProxyEndpoint): Promise<void> {
    const key = `${spec.service}\u0000${ep.instance}\u0000${spec.type}`;
    let st = this.#state.get(key);
    if (!st) this.#state.set(key, (st = { fails: 0, passes: 0, health: 'UP', running: false }));
    if (st.running || this.#closed) return;
    st.running = true;
    let problem: string | undefined;
    try {
      problem = await this.#probe(spec, ep);
    } catch (e) {
      problem = e instanceof Error ? e.message : String(e);
    } finally {
      st.running = false;
    }
    if (this.#closed) return;
    const labels = { service: spec.service, instance: ep.instance };
    this.#o.metrics.healthChecks.inc({ ...labels, result: problem === undefined ? 'pass' : 'fail' });
    if (problem === undefined) {
      st.fails = 0;
      st.passes++;
      if (st.health === 'DOWN' && st.passes >= spec.healthyThreshold) this.#mark(spec, ep, st, 'UP', undefined);
    } else {
      st.passes = 0;
      st.fails++;
      if (st.health === 'UP' && st.fails >= spec.unhealthyThreshold) this.#mark(spec, ep, st, 'DOWN', problem);
    }
    this.#o.metrics.health.set(labels, st.health === 'UP' ? 1 : 0);
  }

  #mark(spec: HealthCheckSpec, ep: ProxyEndpoint, st: InstanceState, health: Health, problem: string | undefined): void {
    st.health = health;
    this.#o.health.set(spec.service, ep.instance, health);
    let reported: unknown = undefined;
    try {
      reported = this.#o.reporter?.setHealth(spec.service, ep.instance, health);
    } catch (e) {
      reported = e instanceof Error ? e.message : String(e);
    }
    const fields = { service: spec.service, instance: ep.instance, check: spec.type, health, reported };
    if (health === 'DOWN') this.#o.log.warn('instance marked DOWN', { ...fields, error: new WeftError('WEFT-P011', problem ?? 'failed', { reason: problem }) });
    else this.#o.log.info('instance marked UP', fields);
  }

  /** undefined when healthy, else why not. */
  async #probe(spec: HealthCheckSpec, ep: ProxyEndpoint): Promise<string | undefined> {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), spec.timeoutMs);
    let stream: Duplex | undefined;
    try {
      stream = spec.port !== undefined ? await connectTcp(spec.host, spec.port, ctl.signal) : await this.#o.delivery.open(ep.target, spec.service, this.#o.source, ctl.signal);
      if (spec.type === 'tcp') return undefined;
      return await this.#rest(spec, stream, ctl.signal);
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    } finally {
      clearTimeout(timer);
      stream?.destroy();
    }
  }

  #rest(spec: HealthCheckSpec, stream: Duplex, signal: AbortSignal): Promise<string | undefined> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve(`no answer within ${spec.timeoutMs}ms`);
      const req = request({ createConnection: () => stream as never, method: 'GET', path: spec.path, headers: { host: spec.service, connection: 'close', 'user-agent': 'weft-health-check' } }, (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_BODY) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          if (!spec.expectStatus.some((r) => status >= r.min && status <= r.max)) return resolve(`status ${status}`);
          if (spec.expectBody !== undefined && !Buffer.concat(chunks).toString('utf8').includes(spec.expectBody)) return resolve(`body does not contain ${JSON.stringify(spec.expectBody)}`);
          resolve(undefined);
        });
        res.on('error', (e) => resolve(e.message));
      });
      req.on('error', (e) => resolve(e.message));
      signal.addEventListener('abort', () => {
        req.destroy();
        resolve(`no answer within ${spec.timeoutMs}ms`);
      }, { once: true });
      req.end();
    });
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers.length = 0;
  }
}
