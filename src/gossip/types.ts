// Interfaces shared by the gossip layers: membership (SWIM + Lifeguard), the
// state layer (Gossiper, CRDTs, shared values, topology, catalog), the real
// UDP/TCP transport and the deterministic simulator. The same protocol code
// runs on either side of these interfaces.

/** "host:port" of a member's gossip endpoint (UDP probes and TCP push-pull share the port). */
export type Address = string;

/** Time and timers: the real clock, or the simulator's virtual one. Milliseconds. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}
export interface TimerHandle {
  /** Opaque to the protocol code. */
  readonly id: number;
}

/** A seeded random source (the simulator replays a run from its seed). */
export interface Random {
  /** Uniform float in [0, 1). */
  float(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
}

/**
 * Unreliable datagrams (UDP, or the simulator's lossy network) and reliable
 * request/response streams (TCP push-pull, or the simulator's reliable channel).
 * Payloads are already sealed/opened by the security layer below the protocol.
 */
export interface Transport {
  readonly localAddress: Address;
  sendPacket(to: Address, data: Uint8Array): void;
  onPacket(handler: (from: Address, data: Uint8Array) => void): void;
  /** One reliable exchange: send `data`, resolve with the peer's answer (rejects on timeout or error). */
  request(to: Address, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  onRequest(handler: (from: Address, data: Uint8Array) => Promise<Uint8Array> | Uint8Array): void;
  close(): Promise<void>;
}

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

export interface Member {
  /** Stable for the life of one process: a restarted member gets a new id (memberlist#311). */
  readonly id: string;
  /** A human name, e.g. the host name; may repeat across restarts. */
  readonly name: string;
  readonly address: Address;
  readonly incarnation: number;
  readonly state: MemberState;
  /** Small application metadata (e.g. the agent's tunnel address and public key). */
  readonly meta: Uint8Array;
}

export type MembershipEvent =
  | { type: 'join'; member: Member }
  | { type: 'update'; member: Member }
  | { type: 'suspect'; member: Member }
  | { type: 'alive'; member: Member }
  | { type: 'fail'; member: Member }
  | { type: 'leave'; member: Member }
  | { type: 'reap'; member: Member };

/**
 * What the state layer plugs into membership (like memberlist's Delegate):
 * piggybacked broadcasts, direct user messages and full-state push-pull.
 */
export interface GossipDelegate {
  /** Up to `limit` bytes of queued broadcasts to piggyback on a packet (each already framed). */
  takeBroadcasts(overhead: number, limit: number): Uint8Array[];
  /** A broadcast or unicast user message arrived. */
  onMessage(from: string, data: Uint8Array): void;
  /** Full local state for a push-pull exchange (join and periodic anti-entropy). */
  localState(join: boolean): Uint8Array;
  /** Merge a peer's full state. */
  mergeRemoteState(data: Uint8Array, join: boolean): void;
}

/**
 * A reliable exchange the peer accepted and then closed without a reply: it
 * refused the request (could not open or parse it), as opposed to a timeout
 * or an unreachable peer.
 */
export class ExchangeRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExchangeRefusedError';
  }
}
