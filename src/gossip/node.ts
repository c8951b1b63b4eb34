// GossipNode: the whole gossip stack of one agent, composed.
//
//   UdpTransport (UDP probes + TCP push-pull on one port)
//     └ WireTransport   counts wire bytes; advertises an address other than the bound one
//       └ SecureTransport (Keyring from the cluster secret: every byte sealed and authenticated)
//         └ Membership (SWIM + Lifeguard), delegate = GossipMux over a MembershipHost
//               channels: topology · shared values · service catalog
//
// Joining goes through a seed source (a static list or a discovery provider)
// and is retried with exponential backoff until it succeeds or the node shuts
// down. See docs/gossip.md for the operator's view.

import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { WeftError } from '../errors.js';
import { encodeAgentMeta, type AgentMeta } from './agent-meta.js';
import { ServiceCatalog } from './catalog.js';
import { GossipMux } from './gossiper.js';
import { MembershipHost } from './host-adapter.js';
import { Keyring } from './keyring.js';
import { Membership, type MembershipListener } from './membership.js';
import { WEFT_DEFAULTS, type MembershipConfig } from './membership-config.js';
import { WireTransport } from './node-transport.js';
import { CryptoRandom, realClock } from './real-clock.js';
import { SEAL_OVERHEAD, SecureTransport } from './secure-transport.js';
import { SharedValues } from './shared-values.js';
import { Topology } from './topology.js';
import type { Address, Clock, Member, Random } from './types.js';
import { UdpTransport, formatAddress, parseAddress } from './udp-transport.js';

/** Where the first peers come from: a fixed list or a discovery provider, asked again at each attempt. */
export type SeedSource = readonly Address[] | (() => Promise<readonly Address[]>);

export interface JoinRetry {
  /** First retry delay (default 1 s). */
  initialMs: number;
  /** Delay ceiling (default 30 s). */
  maxMs: number;
}

export const DEFAULT_JOIN_RETRY: JoinRetry = { initialMs: 1000, maxMs: 30_000 };
export const DEFAULT_GOSSIP_PORT = 7946;
export const DEFAULT_MAX_PACKET_BYTES = 1400;

/** What GossipNode writes to a log; the agent's Logger fits. */
export interface NodeLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface GossipNodeOptions {
  /** Human name of this member (host name by default in the agent). */
  name: string;
  /** Address to bind (default 127.0.0.1) and port (default 7946; 0 picks a free one). */
  bindHost?: string;
  bindPort?: number;
  /** Host (and port; default the bound port) other members use to reach this one. Required when bindHost is 0.0.0.0 or ::. */
  advertiseHost?: string;
  advertisePort?: number;
  /** Cluster secrets: the first seals, all open (see loadClusterSecrets). */
  secrets: readonly (string | Uint8Array)[];
  /** First peers; none = start a new cluster. */
  seeds?: SeedSource;
  joinRetry?: Partial<JoinRetry>;
  /** Membership timing overrides (a profile already resolved). */
  membership?: Partial<Omit<MembershipConfig, 'name' | 'id' | 'meta'>>;
  meta?: AgentMeta;
  log?: NodeLog;
  /** Compress push-pull exchanges (default true; compressed ones are read either way). */
  compressExchanges?: boolean;
  /** For tests: the member id (16 hex characters); random otherwise. */
  id?: string;
  /** For tests: the timer clock (monotonic) and the randomness. */
  clock?: Clock;
  random?: Random;
}

export interface KeyringView {
  /** Fingerprint of the key that seals. */
  primary: string;
  /** All installed, primary first. */
  fingerprints: string[];
}

/**
 * Wall-clock time for what must agree across processes: the sealing layer's
 * replay window and the HLC timestamps and time slots of the state layer.
 * (Membership's timers use the monotonic clock.)
 */
export const wallClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => realClock.setTimeout(fn, ms),
  clearTimeout: (h) => realClock.clearTimeout(h),
};

/**
 * Membership's clock: monotonic within the process (performance.now) but on
 * the Unix epoch (performance.timeOrigin), so the 'aligned' probe schedule's
 * slots line up across processes and hosts (as far as their clocks agree).
 */
export const membershipClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (fn, ms) => realClock.setTimeout(fn, ms),
  clearTimeout: (h) => realClock.clearTimeout(h),
};

const NO_LOG: NodeLog = { info() {}, warn() {} };

/**
 * Reads the cluster secrets: `secretFile` (one secret per line, the first is
 * primary; the file must not be readable by group or others) or else the
 * WEFT_CLUSTER_SECRET environment variable (comma-separated, first primary).
 * Throws WEFT-G002 when there is none or the file is unsafe. Secrets are never
 * put in error messages.
 */
export function loadClusterSecrets(opts: { secretFile?: string; env?: NodeJS.ProcessEnv }): string[] {
  const env = opts.env ?? process.env;
  if (opts.secretFile !== undefined) {
    let mode: number;
    try {
      mode = statSync(opts.secretFile).mode;
    } catch (e) {
      throw new WeftError('WEFT-G002', `cannot read gossip.secretFile ${opts.secretFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { file: opts.secretFile });
    }
    if ((mode & 0o077) !== 0) {
      throw new WeftError('WEFT-G002', `gossip.secretFile ${opts.secretFile} is readable or writable by group or others (mode 0${(mode & 0o777).toString(8)}); chmod 600 it`, {
        file: opts.secretFile,
        mode: `0${(mode & 0o777).toString(8)}`,
      });
    }
    const lines = readFileSync(opts.secretFile, 'utf8')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    if (lines.length === 0) throw new WeftError('WEFT-G002', `gossip.secretFile ${opts.secretFile} holds no secret`, { file: opts.secretFile });
    return lines;
  }
  const fromEnv = (env.WEFT_CLUSTER_SECRET ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (fromEnv.length === 0) throw new WeftError('WEFT-G002', 'no cluster secret: set gossip.secretFile or WEFT_CLUSTER_SECRET');
  return fromEnv;
}

function randomMemberId(): string {
  return randomBytes(8).toString('hex');
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

export class GossipNode {
  readonly id: string;
  readonly membership: Membership;
  readonly mux: GossipMux;
  readonly topology: Topology;
  readonly shared: SharedValues;
  readonly catalog: ServiceCatalog;
  readonly keyring: Keyring;
  readonly host: MembershipHost;
  readonly secure: SecureTransport;
  readonly wire: WireTransport;
  readonly udp: UdpTransport;
  /** Wall clock for state-layer users (ClusterRateLimiter needs absolute time slots). */
  readonly clock: Clock = wallClock;

  readonly #seeds: SeedSource;
  readonly #retry: JoinRetry;
  readonly #log: NodeLog;
  readonly #random: Random;
  readonly #timerClock: Clock;
  /** Members reached over a direct link, as the tunnel layer reports them; null = every live member (no tunnel layer). */
  #directLinks: Set<string> | null = null;
  #joinTimer: ReturnType<typeof setTimeout> | undefined;
  #joined = false;
  #joining: Promise<void> | undefined;
  #stopped = false;
  #joinAttempts = 0;
  #joinFailures = 0;
  #lastJoinError: WeftError | undefined;
  readonly #joinWaiters: (() => void)[] = [];

  private constructor(udp: UdpTransport, options: GossipNodeOptions) {
    this.udp = udp;
    this.#log = options.log ?? NO_LOG;
    this.#random = options.random ?? new CryptoRandom();
    this.#timerClock = options.clock ?? membershipClock;
    this.#seeds = options.seeds ?? [];
    this.#retry = { ...DEFAULT_JOIN_RETRY, ...options.joinRetry };
    this.keyring = new Keyring(options.secrets);
    const bound = udp.localAddress;
    let advertise: Address | undefined;
    if (options.advertiseHost !== undefined || options.advertisePort !== undefined) {
      advertise = formatAddress(options.advertiseHost ?? parseAddress(bound)!.host, options.advertisePort ?? udp.port);
    }
    this.wire = new WireTransport(udp, advertise);
    // Push-pulls are compressed under the seal; a compressed one may inflate to no more than membership accepts.
    this.secure = new SecureTransport(this.wire, {
      keyring: this.keyring,
      clock: wallClock,
      compression: options.compressExchanges === false ? false : { maxInflatedBytes: options.membership?.maxPushPullBytes ?? WEFT_DEFAULTS.maxPushPullBytes },
    });
    this.id = options.id ?? randomMemberId();
    this.host = new MembershipHost(this.id);
    const membershipOptions = { ...options.membership };
    this.mux = new GossipMux({ host: this.host, ...(membershipOptions.retransmitMult !== undefined ? { retransmitMult: membershipOptions.retransmitMult } : {}) });
    this.topology = new Topology({ mux: this.mux, clock: wallClock, installRoute: false });
    this.shared = new SharedValues({ mux: this.mux, clock: wallClock });
    this.catalog = new ServiceCatalog({ mux: this.mux, clock: wallClock });
    this.membership = new Membership(
      { transport: this.secure, clock: this.#timerClock, random: this.#random, delegate: this.mux },
      {
        ...membershipOptions,
        name: options.name,
        id: this.id,
        ...(options.meta ? { meta: encodeAgentMeta(options.meta) } : {}),
      },
    );
    this.host.attach(this.membership);
    this.mux.setRoute((to) => this.route(to));
    this.membership.onEvent((e) => this.mux.handleMembershipEvent(e));
  }

  /** Binds the socket and builds the stack (not started: call start()). */
  static async create(options: GossipNodeOptions): Promise<GossipNode> {
    const bindHost = options.bindHost ?? '127.0.0.1';
    if (isWildcard(bindHost) && options.advertiseHost === undefined) {
      throw new WeftError('WEFT-A001', `gossip binds ${bindHost || '(any)'}; set gossip.advertise.host to the address other agents reach this one at`);
    }
    // Fail on a bad secret before binding anything.
    new Keyring(options.secrets);
    const maxPacket = options.membership?.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
    const udp = await UdpTransport.create({ host: bindHost, port: options.bindPort ?? DEFAULT_GOSSIP_PORT, maxPacketBytes: maxPacket + SEAL_OVERHEAD });
    try {
      return new GossipNode(udp, { ...options, membership: { maxPacketBytes: maxPacket, ...options.membership } });
    } catch (e) {
      await udp.close();
      throw e;
    }
  }

  /** The address other members reach this one at. */
  get address(): Address {
    return this.membership.localMember.address;
  }

  /** The bound socket address (differs from `address` when advertising another). */
  get boundAddress(): Address {
    return this.udp.localAddress;
  }

  get joined(): boolean {
    return this.#joined;
  }

  get joinStatus(): { joined: boolean; attempts: number; failures: number; lastError: Record<string, unknown> | null } {
    return { joined: this.#joined, attempts: this.#joinAttempts, failures: this.#joinFailures, lastError: this.#lastJoinError?.toJSON() ?? null };
  }

  /**
   * Starts membership and joins through the seeds. Resolves after the first
   * attempt (joined, alone, or failed and retrying in the background); use
   * whenJoined() to wait for success.
   */
  async start(): Promise<void> {
    this.membership.start();
    await this.#attemptJoin();
  }

  /** Resolves once a join succeeded (or there was nobody to join), or the node shut down. */
  whenJoined(): Promise<void> {
    if (this.#joined || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#joinWaiters.push(resolve));
  }

  #settleJoinWaiters(): void {
    for (const w of this.#joinWaiters.splice(0)) w();
  }

  async #resolveSeeds(): Promise<Address[]> {
    const list = typeof this.#seeds === 'function' ? await this.#seeds() : this.#seeds;
    const own = new Set([this.address, this.boundAddress]);
    return [...new Set(list)].filter((a) => !own.has(a));
  }

  #attemptJoin(): Promise<void> {
    this.#joining ??= (async () => {
      if (this.#stopped || this.#joined) return;
      this.#joinAttempts++;
      let seeds: Address[];
      try {
        seeds = await this.#resolveSeeds();
      } catch (e) {
        this.#joinFailed(new WeftError('WEFT-G001', `discovery failed: ${(e as Error).message}`), []);
        return;
      }
      if (this.#stopped) return;
      if (seeds.length === 0) {
        // Nobody else known (the first member, or discovery lists only us): this member starts the cluster.
        this.#joined = true;
        this.#settleJoinWaiters();
        this.#log.info('gossip started a new cluster (no other seed)', { id: this.id, address: this.address });
        return;
      }
      try {
        const answered = await this.membership.join(seeds);
        this.#joined = true;
        this.#settleJoinWaiters();
        this.#log.info('gossip joined', { id: this.id, address: this.address, seeds, answered, members: this.membership.size, attempts: this.#joinAttempts });
      } catch (e) {
        this.#joinFailed(e instanceof WeftError ? e : new WeftError('WEFT-G001', String(e)), seeds);
      }
    })().finally(() => {
      this.#joining = undefined;
    });
    return this.#joining;
  }

  #joinFailed(err: WeftError, seeds: Address[]): void {
    this.#joinFailures++;
    this.#lastJoinError = err;
    if (this.#stopped) return;
    const base = Math.min(this.#retry.maxMs, this.#retry.initialMs * 2 ** Math.min(20, this.#joinFailures - 1));
    const delay = Math.round(base * (0.8 + 0.4 * this.#random.float()));
    this.#log.warn('gossip join failed; retrying', { error: err, seeds, attempt: this.#joinAttempts, retryInMs: delay, rejected: this.rejectedPackets() });
    this.#joinTimer = setTimeout(() => {
      this.#joinTimer = undefined;
      void this.#attemptJoin();
    }, delay);
    this.#joinTimer.unref();
  }

  /** Graceful leave: broadcast 'left' and wait (up to the leave timeout) for it to spread. */
  async leave(): Promise<void> {
    if (this.#joinTimer) clearTimeout(this.#joinTimer);
    await this.membership.leave();
  }

  /** Stops timers and closes the socket. */
  async shutdown(): Promise<void> {
    this.#stopped = true;
    this.#settleJoinWaiters();
    if (this.#joinTimer) clearTimeout(this.#joinTimer);
    await this.membership.shutdown();
  }

  onEvent(listener: MembershipListener): () => void {
    return this.membership.onEvent(listener);
  }

  /** Live members (alive and suspect), self included. */
  members(): Member[] {
    return this.membership.members();
  }

  /** Every member still known, dead and left ones included until reaped. */
  allMembers(): Member[] {
    return this.membership.allMembers();
  }

  /** Changes this member's advertised metadata (e.g. the tunnel layer sets its address and key). */
  setMeta(meta: AgentMeta): void {
    this.membership.updateMeta(encodeAgentMeta(meta));
  }

  /**
   * The members this one has a direct link to (the tunnel layer reports its
   * connections). Until it is called every live member counts as direct — the
   * gossip socket itself reaches them all — and nothing is gossiped: a
   * full-mesh topology would cost O(N²) bytes and tell nobody anything.
   */
  setConnections(memberIds: Iterable<string>): void {
    this.#directLinks = new Set(memberIds);
    this.topology.setConnections(this.#directLinks);
  }

  /** Next hop towards a member: itself when directly linked, else the topology's shortest path; null = unreachable. */
  route(to: string): string | null {
    if (to === this.id) return to;
    if (this.#directLinks === null) {
      const m = this.membership.member(to);
      return m && (m.state === 'alive' || m.state === 'suspect') ? to : null;
    }
    if (this.#directLinks.has(to)) return to;
    return this.topology.route(to);
  }

  // ---- keyring rotation (the admin API calls these; secrets are never logged or returned) ----

  installKey(secret: string): string {
    return this.keyring.install(secret);
  }

  /** Makes a key primary by secret or fingerprint; returns its fingerprint. */
  useKey(secretOrFingerprint: string): string {
    this.keyring.use(secretOrFingerprint);
    return this.keyring.primary().fingerprint;
  }

  /** Removes a key by secret or fingerprint (never the primary: WEFT-G102); returns its fingerprint. */
  removeKey(secretOrFingerprint: string): string {
    const before = new Set(this.keyring.fingerprints());
    this.keyring.remove(secretOrFingerprint);
    const after = new Set(this.keyring.fingerprints());
    return [...before].find((f) => !after.has(f))!;
  }

  keys(): KeyringView {
    const fingerprints = this.keyring.fingerprints();
    return { primary: fingerprints[0]!, fingerprints };
  }

  /** Datagrams and exchanges refused by the sealing layer, by cause. */
  rejectedPackets(): { auth: number; stale: number; replay: number; malformed: number } {
    const s = this.secure.stats;
    return { auth: s.droppedAuth, stale: s.droppedStale, replay: s.droppedReplay, malformed: s.droppedMalformed + s.droppedCompressed + this.membership.stats.malformed };
  }
}
