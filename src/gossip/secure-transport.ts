// Authenticated encryption of every gossip packet and push-pull exchange:
// SecureTransport wraps any Transport (real UDP/TCP or the simulator's) and
// implements the same interface, so membership and the state layer above it
// never see a byte that did not open under a key in the keyring.
//
// Sealed message:
//   u8 version | u8 key id | 24-byte random nonce | XChaCha20-Poly1305(ciphertext ‖ 16-byte tag)
//   plaintext = u64 big-endian sender time in ms | payload
//   version 1: the payload as it is; version 2 (exchanges only): the payload
//   raw-deflated (exchange-compression.ts). A request is compressed when it is
//   large; a reply only when its request was (so a member that cannot read
//   version 2 never gets one), and a peer that closes on a compressed request
//   (an older weft) is asked again uncompressed and remembered for a while.
//   associated data = version ‖ key id, and for a response also the request's nonce
//   (so a response cannot be swapped for one from another exchange).
// Random 24-byte nonces need no per-peer counter state, which UDP cannot keep.
//
// Replay: a message whose sender time is further than `replayWindowMs` from
// ours is dropped, and a nonce already accepted within the window is dropped
// (bounded cache, oldest evicted first). Members' clocks must agree within
// the window. Failures are counted, never thrown at the network.

import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes as nobleRandomBytes } from '@noble/ciphers/utils.js';
import { WeftError } from '../errors.js';
import { DEFAULT_COMPRESS_MIN_BYTES, DEFAULT_MAX_INFLATED_BYTES, deflatePayload, inflatePayload } from './exchange-compression.js';
import type { Keyring } from './keyring.js';
import { ExchangeRefusedError, type Address, type Clock, type Transport } from './types.js';

export const SEAL_VERSION = 1;
/** The seal version of a message whose payload is raw-deflated. */
export const SEAL_VERSION_COMPRESSED = 2;
export const NONCE_BYTES = 24;
export const TAG_BYTES = 16;
const HEADER_BYTES = 2;
const TIME_BYTES = 8;
/** Bytes a sealed message adds to its payload. */
export const SEAL_OVERHEAD = HEADER_BYTES + NONCE_BYTES + TIME_BYTES + TAG_BYTES;
export const DEFAULT_REPLAY_WINDOW_MS = 60_000;
export const DEFAULT_NONCE_CACHE_SIZE = 65_536;
/** How long a peer that refused a compressed request is sent uncompressed ones (then tried again: it may have been upgraded). */
export const PLAIN_PEER_MEMORY_MS = 10 * 60_000;
const MAX_PLAIN_PEERS = 4096;

export type OpenFailure = 'malformed' | 'auth' | 'stale' | 'replay';
export type OpenResult =
  | { ok: true; payload: Uint8Array; nonce: Uint8Array; sentAt: number; compressed: boolean }
  | { ok: false; reason: OpenFailure };

export interface SecureTransportOptions {
  keyring: Keyring;
  clock: Pick<Clock, 'now'>;
  /** Accept messages whose sender time is within ± this of ours (default 60 s). */
  replayWindowMs?: number;
  /** Nonces remembered for replay detection (default 65536; size it to packets per window). */
  nonceCacheSize?: number;
  /** Nonce source (default: the platform CSPRNG). */
  randomBytes?: (n: number) => Uint8Array;
  /**
   * Compression of exchanges (push-pull). `false` sends everything
   * uncompressed (compressed exchanges are still read). Default on, for
   * requests of at least 512 bytes, inflating at most 8 MiB.
   */
  compression?: false | { minBytes?: number; maxInflatedBytes?: number };
}

export interface SecureTransportStats {
  sealed: number;
  opened: number;
  droppedMalformed: number;
  droppedAuth: number;
  droppedStale: number;
  droppedReplay: number;
  /** Exchanges (requests and replies) sent and received compressed. */
  compressedOut: number;
  compressedIn: number;
  /** Compressed exchanges refused: corrupt, or inflating past maxInflatedBytes. */
  droppedCompressed: number;
  /** Compressed requests a peer closed on, asked again uncompressed. */
  plainFallbacks: number;
}

/** Seal one message under the keyring's primary key. */
export function seal(
  keyring: Keyring,
  now: number,
  payload: Uint8Array,
  nonce: Uint8Array,
  boundTo?: Uint8Array,
  version: number = SEAL_VERSION,
): Uint8Array {
  const key = keyring.primary();
  const out = new Uint8Array(SEAL_OVERHEAD + payload.length);
  out[0] = version;
  out[1] = key.id;
  out.set(nonce, HEADER_BYTES);
  const plaintext = new Uint8Array(TIME_BYTES + payload.length);
  new DataView(plaintext.buffer).setBigUint64(0, BigInt(Math.max(0, Math.floor(now))));
  plaintext.set(payload, TIME_BYTES);
  const sealed = xchacha20poly1305(key.key, nonce, associatedData(out, boundTo)).encrypt(plaintext);
  out.set(sealed, HEADER_BYTES + NONCE_BYTES);
  return out;
}

/**
 * Open a sealed message with any matching key and check its age (not
 * replays: see ReplayGuard). A version-2 payload is returned still compressed
 * (`compressed: true`).
 */
export function open(
  keyring: Keyring,
  now: number,
  replayWindowMs: number,
  data: Uint8Array,
  boundTo?: Uint8Array,
): OpenResult {
  if (data.length < SEAL_OVERHEAD || (data[0] !== SEAL_VERSION && data[0] !== SEAL_VERSION_COMPRESSED)) return { ok: false, reason: 'malformed' };
  const nonce = data.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES);
  const ciphertext = data.subarray(HEADER_BYTES + NONCE_BYTES);
  const aad = associatedData(data, boundTo);
  for (const key of keyring.candidates(data[1]!)) {
    let plaintext: Uint8Array;
    try {
      plaintext = xchacha20poly1305(key.key, nonce, aad).decrypt(ciphertext);
    } catch {
      continue; // tag mismatch: try the next key with this id
    }
    const sentAt = Number(new DataView(plaintext.buffer, plaintext.byteOffset, TIME_BYTES).getBigUint64(0));
    if (Math.abs(now - sentAt) > replayWindowMs) return { ok: false, reason: 'stale' };
    return { ok: true, payload: plaintext.subarray(TIME_BYTES), nonce: nonce.slice(), sentAt, compressed: data[0] === SEAL_VERSION_COMPRESSED };
  }
  return { ok: false, reason: 'auth' };
}

function associatedData(message: Uint8Array, boundTo?: Uint8Array): Uint8Array {
  if (!boundTo) return message.subarray(0, HEADER_BYTES);
  const aad = new Uint8Array(HEADER_BYTES + boundTo.length);
  aad.set(message.subarray(0, HEADER_BYTES));
  aad.set(boundTo, HEADER_BYTES);
  return aad;
}

/** Nonces accepted within the replay window; bounded, oldest first out. */
export class ReplayGuard {
  /** nonce (hex) → sender time; insertion order ≈ arrival order. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly capacity: number,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  /** Record a nonce; false if it was already seen (a replay). */
  accept(nonce: Uint8Array, sentAt: number, now: number): boolean {
    const k = Buffer.from(nonce.buffer, nonce.byteOffset, nonce.byteLength).toString('hex');
    if (this.seen.has(k)) return false;
    this.seen.set(k, sentAt);
    // Drop what the age check already rejects, and anything over capacity.
    for (const [old, t] of this.seen) {
      if (this.seen.size <= this.capacity && now - t <= this.windowMs) break;
      this.seen.delete(old);
    }
    return true;
  }
}

export class SecureTransport implements Transport {
  readonly stats: SecureTransportStats = {
    sealed: 0,
    opened: 0,
    droppedMalformed: 0,
    droppedAuth: 0,
    droppedStale: 0,
    droppedReplay: 0,
    compressedOut: 0,
    compressedIn: 0,
    droppedCompressed: 0,
    plainFallbacks: 0,
  };
  private readonly keyring: Keyring;
  private readonly clock: Pick<Clock, 'now'>;
  private readonly windowMs: number;
  private readonly random: (n: number) => Uint8Array;
  private readonly replay: ReplayGuard;
  /** Smallest exchange sent compressed; Infinity when compression is off. */
  private readonly compressMinBytes: number;
  private readonly maxInflatedBytes: number;
  /** Peers that refused a compressed request → until when they get uncompressed ones (insertion order = age). */
  private readonly plainPeers = new Map<Address, number>();

  constructor(
    private readonly inner: Transport,
    options: SecureTransportOptions,
  ) {
    this.keyring = options.keyring;
    this.clock = options.clock;
    this.windowMs = options.replayWindowMs ?? DEFAULT_REPLAY_WINDOW_MS;
    this.random = options.randomBytes ?? nobleRandomBytes;
    this.replay = new ReplayGuard(this.windowMs, options.nonceCacheSize ?? DEFAULT_NONCE_CACHE_SIZE);
    const c = options.compression;
    this.compressMinBytes = c === false ? Infinity : Math.max(1, c?.minBytes ?? DEFAULT_COMPRESS_MIN_BYTES);
    this.maxInflatedBytes = (c === false ? undefined : c?.maxInflatedBytes) ?? DEFAULT_MAX_INFLATED_BYTES;
  }

  get localAddress(): Address {
    return this.inner.localAddress;
  }

  sendPacket(to: Address, data: Uint8Array): void {
    this.inner.sendPacket(to, this.seal(data));
  }

  onPacket(handler: (from: Address, data: Uint8Array) => void): void {
    this.inner.onPacket((from, data) => {
      // Datagrams are never compressed: a version-2 one is malformed.
      if (data[0] === SEAL_VERSION_COMPRESSED) return void this.stats.droppedMalformed++;
      const opened = this.open(data);
      if (opened) handler(from, opened.payload);
    });
  }

  async request(to: Address, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const compress = data.length >= this.compressMinBytes && !this.isPlainPeer(to);
    try {
      return await this.exchange(to, data, timeoutMs, compress);
    } catch (e) {
      // A peer that accepted the connection and closed it without a reply on a compressed
      // request is most likely an older weft that cannot read version 2: ask again plainly.
      if (!compress || !(e instanceof ExchangeRefusedError)) throw e;
      this.stats.plainFallbacks++;
      const reply = await this.exchange(to, data, timeoutMs, false);
      // Remembered only when the plain request worked (a busy or failing peer closes on both).
      this.rememberPlainPeer(to);
      return reply;
    }
  }

  onRequest(handler: (from: Address, data: Uint8Array) => Promise<Uint8Array> | Uint8Array): void {
    this.inner.onRequest(async (from, data) => {
      const opened = this.open(data);
      // Refuse the exchange: the peer's request() rejects and nothing reaches membership.
      if (!opened) throw new WeftError('WEFT-G101', `push-pull request from ${from} did not open`, { peer: from });
      const payload = this.inflate(opened, from, 'request');
      const reply = await handler(from, payload);
      // Compressed only for a requester that showed it reads compressed exchanges.
      return this.seal(reply, opened.nonce, opened.compressed && reply.length >= this.compressMinBytes);
    });
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async exchange(to: Address, data: Uint8Array, timeoutMs: number, compress: boolean): Promise<Uint8Array> {
    const sealed = this.seal(data, undefined, compress);
    const requestNonce = sealed.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES);
    const reply = await this.inner.request(to, sealed, timeoutMs);
    const opened = this.open(reply, requestNonce);
    if (!opened) throw new WeftError('WEFT-G101', `push-pull reply from ${to} did not open`, { peer: to });
    return this.inflate(opened, to, 'reply');
  }

  /** The payload of an opened exchange, inflated within the limit; refuses (throws WEFT-G103) a bad or oversized one. */
  private inflate(opened: { payload: Uint8Array; compressed: boolean }, peer: Address, what: 'request' | 'reply'): Uint8Array {
    if (!opened.compressed) return opened.payload;
    const r = inflatePayload(opened.payload, this.maxInflatedBytes);
    if (!r.ok) {
      this.stats.droppedCompressed++;
      throw new WeftError('WEFT-G103', `push-pull ${what} from ${peer}: ${r.error}`, { peer, reason: r.reason, compressedBytes: opened.payload.length, limit: this.maxInflatedBytes });
    }
    this.stats.compressedIn++;
    return r.payload;
  }

  private isPlainPeer(to: Address): boolean {
    const until = this.plainPeers.get(to);
    if (until === undefined) return false;
    if (this.clock.now() < until) return true;
    this.plainPeers.delete(to);
    return false;
  }

  private rememberPlainPeer(to: Address): void {
    this.plainPeers.delete(to);
    this.plainPeers.set(to, this.clock.now() + PLAIN_PEER_MEMORY_MS);
    if (this.plainPeers.size > MAX_PLAIN_PEERS) this.plainPeers.delete(this.plainPeers.keys().next().value!);
  }

  private seal(payload: Uint8Array, boundTo?: Uint8Array, compress = false): Uint8Array {
    this.stats.sealed++;
    const deflated = compress ? deflatePayload(payload) : null;
    if (deflated) this.stats.compressedOut++;
    const version = deflated ? SEAL_VERSION_COMPRESSED : SEAL_VERSION;
    return seal(this.keyring, this.clock.now(), deflated ?? payload, this.random(NONCE_BYTES), boundTo, version);
  }

  private open(data: Uint8Array, boundTo?: Uint8Array): { payload: Uint8Array; nonce: Uint8Array; compressed: boolean } | null {
    const now = this.clock.now();
    const r = open(this.keyring, now, this.windowMs, data, boundTo);
    if (!r.ok) {
      if (r.reason === 'malformed') this.stats.droppedMalformed++;
      else if (r.reason === 'auth') this.stats.droppedAuth++;
      else this.stats.droppedStale++;
      return null;
    }
    if (!this.replay.accept(r.nonce, r.sentAt, now)) {
      this.stats.droppedReplay++;
      return null;
    }
    this.stats.opened++;
    return r;
  }
}
