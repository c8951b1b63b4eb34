// Versions, wire limits and the defaults of every tunnel knob (docs/protocol.md
// §3–§6 define the wire values; docs/tunnel.md explains the defaults).
import { DEFAULT_MAX_FRAME_SIZE } from '../kernel/frame.js';
import type { AeadEngineChoice } from './aead-engine.js';
import type { Identity } from './identity.js';
import type { X25519KeyPair, X25519 } from './x25519.js';
import type { TunnelStream, StreamInfo } from './stream.js';

/** The tunnel protocol (handshake, records, streams) this code speaks. */
export const TUNNEL_PROTOCOL_VERSION = 1;
/** The frame format version (docs/protocol.md §1). */
export const FRAME_PROTOCOL_VERSION = 1;

/** First bytes an initiator sends: "WEFT", tunnel version, frame version, two reserved zero bytes. */
export const PREAMBLE_MAGIC = Uint8Array.of(0x57, 0x45, 0x46, 0x54);
export const PREAMBLE_LENGTH = 8;
/** Longest handshake message (after its u16 length) either side accepts before authentication. */
export const MAX_HANDSHAKE_MESSAGE = 1024;

/** Record: u16 sealed length, u8 flags, u8 reserved, then ciphertext ‖ tag. */
export const RECORD_HEADER_SIZE = 4;
/** Largest record plaintext: one full 16 KiB DATA frame with its header, plus room for control frames. */
export const MAX_RECORD_PLAINTEXT = 16384 + 512;
export const MAX_RECORD_SEALED = MAX_RECORD_PLAINTEXT + 16;
/** The sender's key changes after this record (authenticated: the header is the AAD). */
export const RECORD_FLAG_KEY_UPDATE = 0x01;

/** Extension frame: the acceptor took the stream (sent only to peers advertising FEATURE_ACCEPT). */
export const FRAME_ACCEPT = 0x80;
/** Feature bits advertised in the handshake settings. */
export const FEATURE_ACCEPT = 0x1;
export const SUPPORTED_FEATURES = FEATURE_ACCEPT;

/** Largest flow-control window (31 bits, as the WINDOW_UPDATE increment). */
export const MAX_WINDOW = 0x7fffffff;

export const DEFAULTS = {
  handshakeTimeoutMs: 10_000,
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  initialStreamWindow: 4 << 20,
  initialSessionWindow: 16 << 20,
  keepaliveIntervalMs: 15_000,
  keepaliveTimeoutMs: 10_000,
  rekeyAfterRecords: 1 << 20,
  rekeyAfterMs: 5 * 60_000,
  maxStreams: 16_384,
  /** Bytes of control frames that may wait to be sent before the peer is judged abusive. */
  maxQueuedControlBytes: 1 << 20,
  /** Stop framing DATA while the socket holds more than this unsent. */
  socketHighWater: 1 << 20,
  /** Close the session when the socket holds more than this unsent (a peer that never reads). */
  maxOutboundBuffered: 64 << 20,
  /** Most plaintext one flush seals before yielding to I/O. */
  maxFlushBytes: 256 << 10,
  streamHighWaterMark: 256 << 10,
  /** How long a graceful close may wait for the socket to flush before it is destroyed. */
  lingerMs: 1_000,
} as const;

/** What each side announces in the handshake (docs/protocol.md §3.4). */
export interface TunnelSettings {
  agentId: string;
  /** Largest frame payload this side accepts. */
  maxFrameSize: number;
  /** Credit the peer gets on each new stream, toward this side. */
  initialStreamWindow: number;
  /** Credit the peer gets on the whole session, toward this side. */
  initialSessionWindow: number;
  features: number;
}

export type StreamHandler = (stream: TunnelStream, info: StreamInfo) => void | Promise<void>;

export interface TunnelOptions {
  /** This agent's static key pair (loadOrCreateIdentity). */
  identity: X25519KeyPair | Identity;
  /** The cluster secret (any length; it is hashed to the Noise PSK, docs/protocol.md §3.2). */
  psk: Uint8Array | string;
  /** When given, only peers whose static public key (bytes, base64 or hex) is listed may complete the handshake. */
  pinnedKeys?: Iterable<Uint8Array | string>;
  /** Sent to the peer in the handshake (default: our public key in base64). */
  agentId?: string;
  maxFrameSize?: number;
  initialStreamWindow?: number;
  initialSessionWindow?: number;
  handshakeTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveTimeoutMs?: number;
  rekeyAfterRecords?: number;
  rekeyAfterMs?: number;
  maxStreams?: number;
  maxQueuedControlBytes?: number;
  socketHighWater?: number;
  maxOutboundBuffered?: number;
  maxFlushBytes?: number;
  streamHighWaterMark?: number;
  lingerMs?: number;
  /** Called for each stream the peer opens; without it the session emits 'stream'. */
  onStream?: StreamHandler;
  /** Features to advertise (default: all this code supports). */
  features?: number;
  /** X25519 implementation (default: node:crypto, @noble/curves where that is missing). */
  x25519?: X25519;
  /**
   * Which ChaCha20-Poly1305 seals and opens records (aead-engine.ts; the wire is the same):
   * the WASM kernel, node:crypto, or by record size. Default DEFAULT_AEAD_ENGINE.
   */
  aead?: AeadEngineChoice;
}

export type ResolvedOptions = Required<Omit<TunnelOptions, 'pinnedKeys' | 'onStream' | 'x25519' | 'agentId' | 'aead'>> &
  Pick<TunnelOptions, 'pinnedKeys' | 'onStream' | 'x25519' | 'agentId' | 'aead'>;

/**
 * The records' AEAD engine when none is configured: the WebAssembly kernel, as the
 * tunnel design asks (records sealed and opened by weft's own kernel). `auto` (node:crypto
 * for records of 8 KiB and up) is opt-in: measured in docs/tunnel.md, it cuts relay CPU per
 * GB by ≈ 20 % in an agent run with V8's incremental marking off, and loses with V8's
 * default GC (node:crypto's per-record Buffers feed the mark-compact cycle described there).
 */
export const DEFAULT_AEAD_ENGINE: AeadEngineChoice = 'wasm';

function positiveInt(name: string, v: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(v) || v < 1 || v > max) throw new RangeError(`tunnel option ${name} must be an integer in 1..${max}, got ${v}`);
  return v;
}

export function resolveOptions(o: TunnelOptions): ResolvedOptions {
  const r = { ...DEFAULTS, features: SUPPORTED_FEATURES, ...o } as ResolvedOptions;
  for (const k of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) positiveInt(k, r[k] as number);
  positiveInt('initialStreamWindow', r.initialStreamWindow, MAX_WINDOW);
  positiveInt('initialSessionWindow', r.initialSessionWindow, MAX_WINDOW);
  if (r.maxFrameSize < 512 || r.maxFrameSize > 0xffffff) throw new RangeError(`tunnel option maxFrameSize must be in 512..16777215`);
  if (o.aead !== undefined && o.aead !== 'auto' && o.aead !== 'wasm' && o.aead !== 'native') throw new RangeError(`tunnel option aead must be auto, wasm or native, got ${String(o.aead)}`);
  if (!o.identity?.privateKey || !o.identity?.publicKey) throw new TypeError('tunnel option identity is required');
  if (o.psk === undefined || (typeof o.psk === 'string' ? o.psk.length : o.psk.length) === 0) throw new TypeError('tunnel option psk is required');
  return r;
}
