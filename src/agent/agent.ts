// The node agent on one host: owns the meshlets (their socket directories and
// client-socket listeners), the service routes and canary rollouts, the limits,
// hot reload and graceful drain. Client connections are handled by
// ClientSession; spliced streams by Splice; delivery by an Upstream.
import { createServer, type Server, type Socket } from 'node:net';
import type { AgentConfig } from '../config/agent-config.js';
import { formatDuration } from '../config/duration.js';
import { loadMeshlets, type LoadedMeshlets } from '../config/load-meshlets.js';
import { sameMeshlet, type InstanceSpec, type MeshletSpec } from '../config/meshlet.js';
import { WeftError } from '../errors.js';
import { AgentMetrics } from './agent-metrics.js';
import { CanaryRollout, type CanaryAction, type CanaryStatus } from './canary.js';
import { ClientSession, ParserPool, refuse, type ClientSource, type SessionContext, type StreamInfo } from './client-session.js';
import { createEchoServer } from './echo-service.js';
import { ReplyCode, parseServiceId } from './kernels.js';
import { Logger } from './log.js';
import { ReloadWatcher } from './reload-watcher.js';
import { ServiceRouter, instanceWeights } from './routing.js';
import { clientSocketPath, instanceDir, serverSocketPath, socketPathFits } from './socket-layout.js';
import type { Splice } from './splice.js';
import { ensureDir, listenUnix } from './unix-listen.js';
import { LocalSocketUpstream, type ClientIdentity, type Upstream } from './upstream.js';
import { AgentTunnels } from './tunnel-node.js';
import { UsesMatcher } from './uses-matcher.js';
import { createAgentProxy, type AgentProxyDeps } from '../proxy/agent-proxy.js';
import type { SidecarProxy } from '../proxy/sidecar-proxy.js';
import { AgentSync } from './sync-agent.js';
import { HealthMarks } from './health-marks.js';
import type { AgentSyncView } from './sync-objects.js';

export interface AgentOptions {
  config: AgentConfig;
  log?: Logger;
  /** Delivery to endpoints; local Unix sockets by default. */
  upstream?: Upstream;
  /** In-process gossip catalog, tunnels, shared values for the sidecar proxy (config `proxy:`). */
  proxy?: AgentProxyDeps;
}

/** A service endpoint this agent serves, as published to the cluster's service catalog. */
export interface LocalServiceEndpoint {
  readonly serviceId: string;
  readonly namespace: string;
  readonly meshlet: string;
  readonly instance: string;
  readonly version: string;
  /** Current effective weight (instance weight, or its canary share). */
  readonly weight: number;
  readonly socketPath: string;
  /** Sidecar mode with a --service-ports entry for the service: the app's TCP port on loopback (no server socket). */
  readonly tcpPort?: number;
}

/** What the admin API shows of the gossip layer when it runs (src/agent/gossip-agent.ts). */
export interface AgentGossipView {
  membersView(): unknown;
  catalogView(): unknown;
}

export interface ReloadResult {
  ok: boolean;
  trigger: string;
  generation: number;
  added: string[];
  changed: string[];
  removed: string[];
  error?: Record<string, unknown>;
}

/** Mode of the directories above instance directories (<root>, <root>/<ns>, <root>/<ns>/<meshlet>). */
const PARENT_DIR_MODE = 0o755;

class MeshletRuntime {
  uses: UsesMatcher;
  rollout: CanaryRollout | undefined;
  readonly instances = new Map<string, InstanceRuntime>();
  readonly labels: { readonly namespace: string; readonly meshlet: string };
  active = 0;
  constructor(public spec: MeshletSpec) {
    this.uses = new UsesMatcher(spec.uses);
    this.labels = { namespace: spec.namespace, meshlet: spec.name };
  }
}

class InstanceRuntime implements ClientSource {
  readonly identity: ClientIdentity;
  server: Server | undefined;
  /** Services the agent serves itself here (demoEcho), by service name. */
  readonly echo = new Map<string, Server>();
  constructor(
    readonly meshlet: MeshletRuntime,
    public spec: InstanceSpec,
    readonly dir: string,
  ) {
    this.identity = { namespace: meshlet.spec.namespace, meshlet: meshlet.spec.name, instance: spec.name };
  }
  get uses(): UsesMatcher {
    return this.meshlet.uses;
  }
  get idleMs(): number {
    return this.meshlet.spec.idleTimeoutMs;
  }
  get clientPath(): string {
    return clientSocketPath(this.dir);
  }
}

export class Agent {
  readonly config: AgentConfig;
  readonly metrics = new AgentMetrics();
  readonly log: Logger;
  readonly #router: ServiceRouter;
  readonly #meshlets = new Map<string, MeshletRuntime>();
  /** Open client connections and the meshlet each came in on (one shared 'close' listener for all). */
  readonly #clients = new Map<Socket, MeshletRuntime>();
  readonly #streams = new Map<Splice, StreamInfo>();
  readonly #ctx: SessionContext;
  #pending = 0;
  #started = false;
  #draining: Promise<{ forced: number }> | undefined;
  #drainWaiter: (() => void) | undefined;
  #generation = 0;
  #reloadChain: Promise<unknown> = Promise.resolve();
  #watcher: ReloadWatcher | undefined;
  #lastReload: ReloadResult | undefined;
  /** Tunnels to other agents (config `tunnel:`), else undefined. */
  readonly tunnels: AgentTunnels | undefined;
  /** The sidecar HTTP proxy, when config.proxy is enabled. */
  readonly proxy: SidecarProxy | undefined;
  /** Catalog change events to files / NATS, when config.sync is set (src/agent/sync-agent.ts). */
  readonly sync: AgentSync | undefined;
  readonly #routeListeners: Array<() => void> = [];
  readonly #drainListeners: Array<() => void> = [];
  /** Set when gossip runs, for the admin API's /members and /services. */
  gossip: AgentGossipView | undefined;
  /** The proxy's health-check verdicts on this agent's instances (gossip publishes them). */
  readonly healthMarks = new HealthMarks();

  constructor(options: AgentOptions) {
    this.config = options.config;
    this.log = options.log ?? new Logger();
    this.#router = new ServiceRouter(this.config.socketRoot);
    const local = options.upstream ?? new LocalSocketUpstream();
    this.tunnels = this.config.tunnel
      ? new AgentTunnels({ config: this.config.tunnel, router: this.#router, local, connectMs: this.config.timeouts.connectMs, log: this.log, registry: this.metrics.registry })
      : undefined;
    const upstream = this.tunnels?.upstream ?? local;
    this.#ctx = {
      handshakeMs: this.config.timeouts.handshakeMs,
      connectMs: this.config.timeouts.connectMs,
      router: this.#router,
      upstream,
      metrics: this.metrics,
      log: this.log,
      parsers: new ParserPool(),
      streamStarted: (splice, info) => {
        this.#streams.set(splice, info);
        this.metrics.streams.inc(info.labels);
        this.metrics.streamsActive.inc(info.labels);
      },
      streamEnded: (splice, info) => this.#streamEnded(splice, info),
      handshakeSettled: () => {
        this.#pending--;
      },
    };
    this.metrics.registry.addCollector(() => this.flushMetrics());
    this.sync = this.config.sync ? new AgentSync({ config: this.config, log: this.log, view: () => this.syncView(), registry: this.metrics.registry }) : undefined;
    const marked = this.healthMarks.proxyDeps(options.proxy);
    const proxyDeps = this.sync ? this.sync.proxyDeps(marked) : marked;
    this.proxy = this.config.proxy.enabled
      ? createAgentProxy({ config: this.config.proxy, router: this.#router, upstream, registry: this.metrics.registry, log: this.log, meshlets: () => [...this.#meshlets.values()].map((m) => m.spec), uses: (key) => this.#meshlets.get(key)?.uses, deps: this.tunnels ? { remote: this.tunnels.upstream, ...proxyDeps } : proxyDeps })
      : undefined;
  }

  get ready(): boolean {
    return this.#started && !this.#draining;
  }
  get draining(): boolean {
    return this.#draining !== undefined;
  }
  get generation(): number {
    return this.#generation;
  }
  get lastReload(): ReloadResult | undefined {
    return this.#lastReload;
  }

  /** Loads the meshlets (a bad file is fatal here), creates their sockets, starts watching. */
  async start(): Promise<void> {
    await ensureDir(this.config.socketRoot, PARENT_DIR_MODE, {});
    const loaded = this.#load();
    await this.sync?.open();
    try {
      await this.#apply(loaded);
    } catch (e) {
      await this.sync?.close(); // nothing was published; do not leave a NATS connection behind
      throw e;
    }
    await this.tunnels?.start();
    this.#generation = 1;
    this.sync?.changed('startup');
    await this.proxy?.start();
    this.#started = true;
    if (this.config.meshlets.watch && this.config.meshlets.paths.length) {
      this.#watcher = new ReloadWatcher(this.config.meshlets.paths, this.config.meshlets.debounceMs, () => void this.reload('file change'), this.log);
    }
  }

  #load(): LoadedMeshlets {
    return loadMeshlets(this.config.meshlets.paths, this.config.meshlets.inline, { idleTimeoutNs: this.config.timeouts.idleNs });
  }

  /** Re-reads the meshlet files and applies the differences; a bad file changes nothing. Serialized. */
  reload(trigger: string): Promise<ReloadResult> {
    const run = async (): Promise<ReloadResult> => {
      if (this.#draining) return { ok: false, trigger, generation: this.#generation, added: [], changed: [], removed: [], error: { message: 'draining' } };
      let loaded: LoadedMeshlets;
      try {
        loaded = this.#load();
      } catch (e) {
        const err = e instanceof WeftError ? e : new WeftError('WEFT-A001', String(e));
        this.metrics.reloads.inc({ result: 'error' });
        this.log.error('meshlet reload rejected; running meshlets unchanged', { trigger, error: err });
        return (this.#lastReload = { ok: false, trigger, generation: this.#generation, added: [], changed: [], removed: [], error: err.toJSON() });
      }
      const diff = await this.#apply(loaded);
      this.proxy?.topologyChanged();
      this.#generation++;
      this.sync?.changed('reload');
      this.metrics.reloads.inc({ result: 'ok' });
      const result: ReloadResult = { ok: true, trigger, generation: this.#generation, ...diff };
      this.log.info('meshlets reloaded', { trigger, generation: result.generation, added: diff.added, changed: diff.changed, removed: diff.removed });
      return (this.#lastReload = result);
    };
    const next = this.#reloadChain.then(run, run);
    this.#reloadChain = next;
    return next;
  }

  /** Makes the running set equal to `loaded`, touching only meshlets that changed. */
  async #apply(loaded: LoadedMeshlets): Promise<{ added: string[]; changed: string[]; removed: string[] }> {
    const wanted = new Map(loaded.meshlets.map((m) => [m.key, m]));
    const added: string[] = [];
    const changed: string[] = [];
    const removed: string[] = [];
    for (const [key, rt] of this.#meshlets) {
      if (!wanted.has(key)) {
        await this.#removeMeshlet(rt);
        removed.push(key);
      }
    }
    for (const spec of wanted.values()) {
      const rt = this.#meshlets.get(spec.key);
      if (!rt) {
        await this.#addMeshlet(spec);
        added.push(spec.key);
      } else if (!sameMeshlet(rt.spec, spec)) {
        await this.#changeMeshlet(rt, spec);
        changed.push(spec.key);
      } else rt.spec = spec; // same content; keep the newest source name
    }
    this.metrics.meshlets.set(this.#meshlets.size);
    this.#routesChanged();
    return { added, changed, removed };
  }

  async #addMeshlet(spec: MeshletSpec): Promise<void> {
    const rt = new MeshletRuntime(spec);
    this.#meshlets.set(spec.key, rt);
    this.#startRollout(rt);
    this.#router.setMeshlet(spec, rt.rollout?.canaryPercent);
    this.#publishCanary(rt);
    for (const inst of spec.instances) await this.#addInstance(rt, inst);
  }

  async #changeMeshlet(rt: MeshletRuntime, spec: MeshletSpec): Promise<void> {
    const previous = rt.spec;
    rt.spec = spec;
    rt.uses = new UsesMatcher(spec.uses);
    if (JSON.stringify(previous.canary) !== JSON.stringify(spec.canary) || JSON.stringify(previous.instances) !== JSON.stringify(spec.instances)) {
      rt.rollout?.stop();
      rt.rollout = undefined;
      this.#startRollout(rt);
    }
    this.#router.setMeshlet(spec, rt.rollout?.canaryPercent, previous);
    this.#publishCanary(rt);
    for (const [name, inst] of rt.instances) {
      const next = spec.instances.find((i) => i.name === name);
      if (!next) {
        await this.#closeInstance(inst);
        rt.instances.delete(name);
      } else {
        inst.spec = next;
        await this.#syncEcho(inst);
      }
    }
    for (const inst of spec.instances) if (!rt.instances.has(inst.name)) await this.#addInstance(rt, inst);
  }

  async #removeMeshlet(rt: MeshletRuntime): Promise<void> {
    this.#meshlets.delete(rt.spec.key);
    rt.rollout?.stop();
    this.#router.removeMeshlet(rt.spec);
    for (const inst of rt.instances.values()) await this.#closeInstance(inst);
  }

  #startRollout(rt: MeshletRuntime): void {
    if (!rt.spec.canary) return;
    rt.rollout = new CanaryRollout(rt.spec.canary, (rollout) => {
      if (this.#meshlets.get(rt.spec.key) !== rt || rt.rollout !== rollout) return;
      this.#router.setMeshlet(rt.spec, rollout.canaryPercent);
      this.#publishCanary(rt);
      this.sync?.changed('step', rt.spec.key);
      this.#routesChanged();
      this.log.info('canary changed', { meshlet: rt.spec.key, ...rollout.status() });
    });
  }

  #publishCanary(rt: MeshletRuntime): void {
    const c = rt.spec.canary;
    if (!c || !rt.rollout) return;
    const p = rt.rollout.canaryPercent;
    this.metrics.canaryPercent.set({ ...rt.labels, version: c.canary }, p);
    this.metrics.canaryPercent.set({ ...rt.labels, version: c.stable }, 100 - p);
  }

  /** Creates the instance directories and listens on its client socket. A failure is logged; other instances go on. */
  async #addInstance(rt: MeshletRuntime, spec: InstanceSpec): Promise<void> {
    const { socketRoot, sockets } = this.config;
    const dir = instanceDir(socketRoot, rt.spec.namespace, rt.spec.name, spec.name);
    const inst = new InstanceRuntime(rt, spec, dir);
    rt.instances.set(spec.name, inst);
    const own = { ...(sockets.uid !== undefined ? { uid: sockets.uid } : {}), ...(sockets.gid !== undefined ? { gid: sockets.gid } : {}) };
    try {
      await ensureDir(instanceDir(socketRoot, rt.spec.namespace, rt.spec.name, ''), PARENT_DIR_MODE, {});
      await ensureDir(dir, sockets.dirMode, own);
      await ensureDir(`${dir}/server`, sockets.dirMode, own);
      await ensureDir(`${dir}/client`, sockets.dirMode, own);
      for (const svc of rt.spec.provides) {
        const p = serverSocketPath(dir, svc);
        if (!socketPathFits(p)) this.log.warn('server socket path too long; this service cannot be reached here', { path: p });
      }
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => this.#onConnection(socket, inst));
      const { staleRemoved } = await listenUnix(server, inst.clientPath, sockets.mode, own);
      inst.server = server;
      if (staleRemoved) this.log.info('removed stale socket file', { path: inst.clientPath });
      await this.#syncEcho(inst);
    } catch (e) {
      // At startup a socket problem is fatal (e.g. another agent on this root); on reload it is logged.
      if (!this.#started) throw e;
      this.log.error('meshlet instance not listening', {
        meshlet: rt.spec.key,
        instance: spec.name,
        error: e instanceof WeftError ? e : new WeftError('WEFT-A005', String(e)),
      });
    }
  }

  /** Serves the demoEcho services of this instance (and stops ones no longer configured). */
  async #syncEcho(inst: InstanceRuntime): Promise<void> {
    const m = inst.meshlet.spec;
    const want = new Set(
      this.config.demoEcho
        .map((id) => parseServiceId(id))
        .filter((p) => p !== null && p.meshlet === m.name && p.namespace === m.namespace && m.provides.includes(p.service))
        .map((p) => p!.service),
    );
    for (const [svc, server] of inst.echo) {
      if (!want.has(svc)) {
        server.close();
        inst.echo.delete(svc);
      }
    }
    for (const svc of want) {
      if (inst.echo.has(svc)) continue;
      const server = createEchoServer();
      try {
        await listenUnix(server, serverSocketPath(inst.dir, svc), this.config.sockets.mode, {});
        inst.echo.set(svc, server);
      } catch (e) {
        this.log.error('demo echo service not listening', { service: `${svc}.${m.name}.${m.namespace}`, instance: inst.spec.name, error: e });
      }
    }
  }

  /** Stops accepting on the instance's client socket (open connections go on) and stops its echo services. */
  async #closeInstance(inst: InstanceRuntime): Promise<void> {
    const closing: Promise<void>[] = [];
    if (inst.server) closing.push(new Promise((r) => inst.server!.close(() => r())));
    for (const s of inst.echo.values()) s.close();
    inst.echo.clear();
    inst.server = undefined;
    // server.close() waits for open connections; only wait until the listener is gone.
    await Promise.race([Promise.all(closing), new Promise((r) => setImmediate(r))]);
  }

  #onConnection(socket: Socket, inst: InstanceRuntime): void {
    if (this.#draining) {
      socket.destroy();
      return;
    }
    const { maxConnections, maxPendingHandshakes } = this.config.limits;
    if (this.#clients.size >= maxConnections || this.#pending >= maxPendingHandshakes) {
      this.metrics.handshakes.inc({ code: 'OVERLOADED' });
      refuse(socket, ReplyCode.OVERLOADED, this.config.timeouts.handshakeMs);
      return;
    }
    const rt = inst.meshlet;
    this.#clients.set(socket, rt);
    this.#pending++;
    rt.active++;
    this.metrics.connections.inc(rt.labels);
    socket.on('close', this.#onClientClose);
    new ClientSession(this.#ctx, socket, inst);
  }

  /** Shared by every client socket (`this` is the socket): no closure per connection. */
  readonly #onClientClose = ((agent: Agent) =>
    function (this: Socket): void {
      const rt = agent.#clients.get(this);
      if (!rt) return;
      agent.#clients.delete(this);
      rt.active--;
      if (agent.#drainWaiter && agent.#clients.size === 0) agent.#drainWaiter();
    })(this);

  #streamEnded(splice: Splice, info: StreamInfo): void {
    this.#streams.delete(splice);
    this.#flushBytes(splice, info);
    this.metrics.streamsActive.dec(info.labels);
    if (splice.end === 'idle') this.metrics.idleClosed.inc({ namespace: info.source.identity.namespace, meshlet: info.source.identity.meshlet });
    else if (splice.end !== 'closed') this.metrics.streamsAborted.inc({ service: info.serviceId });
  }

  #flushBytes(splice: Splice, info: StreamInfo): void {
    const up = splice.bytesUp - splice.reportedUp;
    const down = splice.bytesDown - splice.reportedDown;
    if (up) this.metrics.bytes.inc({ ...info.labels, direction: 'up' }, up);
    if (down) this.metrics.bytes.inc({ ...info.labels, direction: 'down' }, down);
    splice.reportedUp = splice.bytesUp;
    splice.reportedDown = splice.bytesDown;
  }

  /** Folds live counts into the registry (runs before every render). */
  flushMetrics(): void {
    for (const [splice, info] of this.#streams) this.#flushBytes(splice, info);
    this.metrics.pendingHandshakes.set(this.#pending);
    for (const rt of this.#meshlets.values()) this.metrics.connectionsActive.set(rt.labels, rt.active);
  }

  /**
   * Graceful drain: stop accepting (client sockets closed and unlinked), let open
   * connections finish until timeouts.drain, then close what is left. Idempotent.
   */
  drain(): Promise<{ forced: number }> {
    this.#draining ??= (async () => {
      this.metrics.draining.set(1);
      this.#watcher?.close();
      for (const l of this.#drainListeners) l();
      const deadline = this.config.timeouts.drainMs;
      this.log.info('draining', { connections: this.#clients.size, streams: this.#streams.size, deadline: formatDuration(BigInt(deadline) * 1_000_000n) });
      const drainStarted = performance.now();
      // GOAWAY to every peer now: their open streams may finish, no new ones.
      const tunnelsClosed = this.tunnels?.close();
      const proxyClosed = this.proxy?.close(deadline);
      for (const rt of this.#meshlets.values()) {
        rt.rollout?.stop();
        for (const inst of rt.instances.values()) await this.#closeInstance(inst);
      }
      await proxyClosed;
      if (this.#clients.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline);
          this.#drainWaiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      if (tunnelsClosed) {
        // Peers' streams into this agent get the same deadline; what is left then is reset.
        let timer: NodeJS.Timeout | undefined;
        const left = Math.max(0, deadline - (performance.now() - drainStarted));
        await Promise.race([tunnelsClosed, new Promise<void>((r) => (timer = setTimeout(r, left)))]);
        clearTimeout(timer);
        this.tunnels!.destroy();
      }
      const forced = this.#clients.size;
      if (forced > 0) {
        this.log.warn('drain deadline reached; closing open connections', { error: new WeftError('WEFT-A010', `${forced} connection(s) still open`, { connections: forced }) });
        for (const [splice] of this.#streams) splice.abort('aborted');
        for (const s of this.#clients.keys()) s.destroy();
      }
      this.log.info('drained', { forced });
      await this.sync?.close();
      return { forced };
    })();
    return this.#draining;
  }

  // ---- hooks for the gossip layer ----------------------------------------------

  /** Runs after every change of the served routes (start, reload, canary step). */
  onRoutesChanged(listener: () => void): void {
    this.#routeListeners.push(listener);
  }

  /** Runs when the drain starts (the agent stops offering its services). */
  onDrain(listener: () => void): void {
    this.#drainListeners.push(listener);
  }

  #routesChanged(): void {
    for (const l of this.#routeListeners) l();
  }

  /** Every endpoint this agent serves now, with its effective weight. */
  localEndpoints(): LocalServiceEndpoint[] {
    const out: LocalServiceEndpoint[] = [];
    const proxy = this.config.proxy;
    const ports = proxy.enabled && proxy.mode === 'sidecar' ? proxy.servicePorts : undefined;
    for (const r of this.#router.routes()) {
      const tcpPort = ports?.get(r.service);
      // Only this agent's own instances: endpoints on other agents are theirs to publish.
      r.endpoints.forEach((e, i) => {
        if (e.kind === 'local') out.push({ serviceId: r.serviceId, namespace: e.namespace, meshlet: e.meshlet, instance: e.instance, version: e.version, weight: r.weights[i]!, socketPath: e.socketPath, ...(tcpPort !== undefined ? { tcpPort } : {}) });
      });
    }
    return out;
  }

  /** The catalog as the sync wiring reads it: meshlets with their rollout status, routes with current weights. */
  syncView(): AgentSyncView {
    return {
      meshlets: [...this.#meshlets.values()].map((rt) => ({ spec: rt.spec, canary: rt.rollout?.status() })),
      routes: [...this.#router.routes()],
    };
  }

  // ---- views for the admin API -------------------------------------------------

  meshletsView(): unknown[] {
    return [...this.#meshlets.values()].map((rt) => this.#meshletView(rt));
  }

  meshletView(namespace: string, name: string): unknown | undefined {
    const rt = this.#meshlets.get(`${namespace}/${name}`);
    return rt ? this.#meshletView(rt) : undefined;
  }

  #meshletView(rt: MeshletRuntime): Record<string, unknown> {
    const s = rt.spec;
    const weights = instanceWeights(s, rt.rollout?.canaryPercent);
    return {
      namespace: s.namespace,
      name: s.name,
      source: s.source,
      provides: s.provides.map((svc) => `${svc}.${s.name}.${s.namespace}`),
      uses: s.uses,
      idleTimeout: s.idleTimeout,
      activeConnections: rt.active,
      instances: s.instances.map((i, k) => {
        const inst = rt.instances.get(i.name);
        return {
          name: i.name,
          version: i.version,
          weight: i.weight,
          effectiveWeight: weights[k],
          directory: inst?.dir,
          clientSocket: inst?.clientPath,
          listening: inst?.server !== undefined,
        };
      }),
      ...(rt.rollout ? { canary: rt.rollout.status() } : {}),
    };
  }

  servicesView(): unknown[] {
    return [...this.#router.routes()].map((r) => ({
      id: r.serviceId,
      meshlet: r.provider?.key ?? `${r.endpoints[0]!.namespace}/${r.endpoints[0]!.meshlet}`,
      endpoints: r.endpoints.map((e, i) => ({
        kind: e.kind,
        instance: e.instance,
        version: e.version,
        weight: r.weights[i],
        ...(e.kind === 'local' ? { socket: e.socketPath } : { peer: e.agentId, health: e.health ?? 'UP' }),
      })),
    }));
  }

  /** The tunnel peers and counters for /peers (null when tunnels are off). */
  peersView(): unknown {
    return this.tunnels ? this.tunnels.view() : null;
  }

  /** Applies a canary action; throws WeftError WEFT-A009 (with details.status) when it cannot. */
  canary(namespace: string, name: string, action: CanaryAction): CanaryStatus {
    const rt = this.#meshlets.get(`${namespace}/${name}`);
    if (!rt) throw new WeftError('WEFT-A009', `no meshlet ${namespace}/${name}`, { status: 404 });
    if (!rt.rollout) throw new WeftError('WEFT-A009', `meshlet ${namespace}/${name} has no canary strategy`, { status: 409 });
    const refused = rt.rollout.apply(action);
    if (refused) throw new WeftError('WEFT-A009', refused, { status: 409 });
    this.sync?.changed(action, rt.spec.key);
    this.log.info('canary action', { meshlet: rt.spec.key, action, ...rt.rollout.status() });
    return rt.rollout.status();
  }

  /** For the banner. */
  summary(): { meshlets: Array<{ key: string; services: string[]; instances: Array<{ name: string; version: string; clientSocket: string }> }> } {
    return {
      meshlets: [...this.#meshlets.values()].map((rt) => ({
        key: rt.spec.key,
        services: rt.spec.provides.map((svc) => `${svc}.${rt.spec.name}.${rt.spec.namespace}`),
        instances: [...rt.instances.values()].map((i) => ({ name: i.spec.name, version: i.spec.version, clientSocket: i.clientPath })),
      })),
    };
  }
}
