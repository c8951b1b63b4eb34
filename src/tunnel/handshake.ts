// The tunnel handshake over a byte stream (docs/protocol.md §3):
//
//   initiator → responder   preamble (8 B) ‖ u16 len ‖ msg1      -> psk, e         payload: empty
//   responder → initiator   u16 len ‖ msg2                       <- e, ee, s, es   payload: responder settings
//   initiator → responder   u16 len ‖ msg3                       -> s, se          payload: initiator settings
//
// Noise_XXpsk0_25519_ChaChaPoly_BLAKE2s. The PSK enters before anything else,
// so the responder checks it on msg1 with hashing and one AEAD open — no DH —
// and a peer without the cluster secret gets nothing back but a closed socket.
//
// On any failure the socket is destroyed, the timer cleared, the listeners
// removed, and the cause counted (handshakeStats()).
import type { Duplex } from 'node:stream';
import { blake2s } from '@noble/hashes/blake2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { WeftError, type ErrorCode } from '../errors.js';
import { HandshakeState, NoiseError, XX_PSK0 } from './noise.js';
import { defaultX25519, type X25519, type X25519KeyPair } from './x25519.js';
import { formatPublicKey, parsePublicKey } from './identity.js';
import {
  FRAME_PROTOCOL_VERSION, MAX_HANDSHAKE_MESSAGE, MAX_WINDOW, PREAMBLE_LENGTH, PREAMBLE_MAGIC, TUNNEL_PROTOCOL_VERSION,
  type TunnelSettings,
} from './options.js';
import { trackResource } from './resources.js';

export type HandshakeFailureCause = 'auth' | 'timeout' | 'malformed' | 'version' | 'pinned' | 'closed';

const CAUSE_CODES: Record<HandshakeFailureCause, ErrorCode> = {
  auth: 'WEFT-T001',
  timeout: 'WEFT-T002',
  malformed: 'WEFT-T003',
  version: 'WEFT-T003',
  closed: 'WEFT-T003',
  pinned: 'WEFT-T004',
};

export interface HandshakeStats {
  started: number;
  completed: number;
  failed: Record<HandshakeFailureCause, number>;
}

const stats: HandshakeStats = { started: 0, completed: 0, failed: { auth: 0, timeout: 0, malformed: 0, version: 0, pinned: 0, closed: 0 } };

/** Handshakes of this process so far: started, completed, failed by cause. */
export function handshakeStats(): HandshakeStats {
  return { started: stats.started, completed: stats.completed, failed: { ...stats.failed } };
}

/** The preamble: "WEFT", tunnel version, frame version, 0, 0. */
export function preamble(): Uint8Array {
  const p = new Uint8Array(PREAMBLE_LENGTH);
  p.set(PREAMBLE_MAGIC);
  p[4] = TUNNEL_PROTOCOL_VERSION;
  p[5] = FRAME_PROTOCOL_VERSION;
  return p;
}

/** The Noise prologue: a label and the preamble, so both versions are authenticated. */
export function prologue(): Uint8Array {
  const label = new TextEncoder().encode('weft tunnel');
  const out = new Uint8Array(label.length + PREAMBLE_LENGTH);
  out.set(label);
  out.set(preamble(), label.length);
  return out;
}

/** The Noise PSK of a cluster secret: HMAC-BLAKE2s keyed with a fixed label (domain separation). */
export function tunnelPsk(secret: Uint8Array | string): Uint8Array {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  return hmac(blake2s, new TextEncoder().encode('weft tunnel psk v1'), bytes);
}

const SETTINGS_VERSION = 1;

export function encodeSettings(s: TunnelSettings): Uint8Array {
  const id = new TextEncoder().encode(s.agentId);
  if (id.length > 255) throw new RangeError('agentId longer than 255 bytes');
  const out = new Uint8Array(2 + id.length + 16);
  const v = new DataView(out.buffer);
  out[0] = SETTINGS_VERSION;
  out[1] = id.length;
  out.set(id, 2);
  let at = 2 + id.length;
  v.setUint32(at, s.maxFrameSize);
  v.setUint32(at + 4, s.initialStreamWindow);
  v.setUint32(at + 8, s.initialSessionWindow);
  v.setUint32(at + 12, s.features);
  return out;
}

/** Settings from a handshake payload, or null when they break §3.4 (bytes after the known fields are ignored). */
export function decodeSettings(p: Uint8Array): TunnelSettings | null {
  if (p.length < 2 || p[0] !== SETTINGS_VERSION) return null;
  const n = p[1]!;
  if (p.length < 2 + n + 16) return null;
  let agentId: string;
  try {
    agentId = new TextDecoder('utf-8', { fatal: true }).decode(p.subarray(2, 2 + n));
  } catch {
    return null;
  }
  const v = new DataView(p.buffer, p.byteOffset + 2 + n, 16);
  const s: TunnelSettings = {
    agentId,
    maxFrameSize: v.getUint32(0),
    initialStreamWindow: v.getUint32(4),
    initialSessionWindow: v.getUint32(8),
    features: v.getUint32(12),
  };
  if (s.maxFrameSize < 512 || s.maxFrameSize > 0xffffff) return null;
  if (s.initialStreamWindow < 1 || s.initialStreamWindow > MAX_WINDOW) return null;
  if (s.initialSessionWindow < 1 || s.initialSessionWindow > MAX_WINDOW) return null;
  return s;
}

export interface HandshakeParams {
  identity: X25519KeyPair;
  psk: Uint8Array | string;
  settings: TunnelSettings;
  pinnedKeys?: Iterable<Uint8Array | string>;
  timeoutMs: number;
  x25519?: X25519;
}

export interface HandshakeResult {
  sendKey: Uint8Array;
  receiveKey: Uint8Array;
  handshakeHash: Uint8Array;
  remoteStatic: Uint8Array;
  remoteSettings: TunnelSettings;
  /** Bytes that arrived after the handshake (the first records): feed them to the record layer. */
  rest: Buffer;
}

export type Role = 'initiator' | 'responder';

function pinSet(keys: Iterable<Uint8Array | string> | undefined): Set<string> | null {
  if (!keys) return null;
  const set = new Set<string>();
  for (const k of keys) {
    const bytes = typeof k === 'string' ? parsePublicKey(k) : k;
    if (!bytes || bytes.length !== 32) throw new RangeError(`pinned key ${String(k)} is not a 32-byte X25519 public key`);
    set.add(formatPublicKey(bytes));
  }
  return set;
}

function frame(message: Uint8Array, prefix?: Uint8Array): Buffer {
  const pre = prefix?.length ?? 0;
  const out = Buffer.allocUnsafe(pre + 2 + message.length);
  if (prefix) out.set(prefix);
  out.writeUInt16BE(message.length, pre);
  out.set(message, pre + 2);
  return out;
}

/**
 * Runs the handshake on socket as initiator or responder. Resolves once the
 * session keys are known (the socket is then paused with no listeners of ours
 * left); rejects with a WeftError (T001–T004, details.cause) after destroying the socket.
 */
export function runHandshake(socket: Duplex, role: Role, params: HandshakeParams): Promise<HandshakeResult> {
  stats.started++;
  const pins = pinSet(params.pinnedKeys);
  const hs = new HandshakeState({
    pattern: XX_PSK0,
    initiator: role === 'initiator',
    prologue: prologue(),
    s: params.identity,
    psk: tunnelPsk(params.psk),
    dh: params.x25519 ?? defaultX25519(),
  });
  const ownSettings = encodeSettings(params.settings);

  return new Promise<HandshakeResult>((resolve, reject) => {
    // Unauthenticated input is bounded: the preamble and at most two messages.
    const limit = PREAMBLE_LENGTH + 2 * (2 + MAX_HANDSHAKE_MESSAGE);
    let buf: Buffer = Buffer.alloc(0);
    let step = role === 'responder' ? 'preamble' : 'msg2';
    let remoteSettings: TunnelSettings | null = null;
    let finished = false;
    const release = trackResource('handshake');
    const timer = setTimeout(() => fail('timeout', `no complete handshake within ${params.timeoutMs} ms`), params.timeoutMs);

    const cleanup = () => {
      finished = true;
      clearTimeout(timer);
      release();
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
    };
    function fail(cause: HandshakeFailureCause, message: string, details: Record<string, unknown> = {}): void {
      if (finished) return;
      cleanup();
      stats.failed[cause]++;
      // Swallow late errors from the destroyed socket: the failure is reported here.
      socket.on('error', () => {});
      socket.destroy();
      reject(new WeftError(CAUSE_CODES[cause], message, { cause, role, ...details }));
    }
    const onEnd = () => fail('closed', 'peer closed the connection during the handshake (different cluster secret, unsupported version or key not pinned on its side?)');
    const onError = (err: Error) => fail('closed', `socket error during the handshake: ${err.message}`);

    /** The next length-prefixed message in buf, undefined if incomplete, null if too long. */
    const nextMessage = (): Uint8Array | undefined | null => {
      if (buf.length < 2) return undefined;
      const n = buf.readUInt16BE(0);
      if (n > MAX_HANDSHAKE_MESSAGE) return null;
      if (buf.length < 2 + n) return undefined;
      const m = new Uint8Array(buf.subarray(2, 2 + n));
      buf = buf.subarray(2 + n);
      return m;
    };

    const checkPeer = (): boolean => {
      const rs = hs.remoteStatic();
      if (pins && (!rs || !pins.has(formatPublicKey(rs)))) {
        fail('pinned', `peer key ${rs ? formatPublicKey(rs) : '?'} is not pinned`, { peerKey: rs ? formatPublicKey(rs) : null });
        return false;
      }
      return true;
    };

    const done = () => {
      const out = hs.finish();
      const rest = Buffer.from(buf);
      cleanup();
      socket.pause();
      stats.completed++;
      resolve({
        sendKey: role === 'initiator' ? out.initiatorToResponder : out.responderToInitiator,
        receiveKey: role === 'initiator' ? out.responderToInitiator : out.initiatorToResponder,
        handshakeHash: out.handshakeHash,
        remoteStatic: out.remoteStatic!,
        remoteSettings: remoteSettings!,
        rest,
      });
    };

    const readPayload = (m: Uint8Array): Uint8Array | null => {
      try {
        return hs.readMessage(m);
      } catch (e) {
        if (e instanceof NoiseError) {
          fail(e.reason === 'decrypt' ? 'auth' : 'malformed', e.message);
          return null;
        }
        throw e;
      }
    };

    function progress(): void {
      for (;;) {
        if (finished) return;
        if (step === 'preamble') {
          if (buf.length < PREAMBLE_LENGTH) return;
          for (let i = 0; i < 4; i++) if (buf[i] !== PREAMBLE_MAGIC[i]) return fail('malformed', 'not a weft tunnel (bad magic)');
          if (buf[4] !== TUNNEL_PROTOCOL_VERSION || buf[5] !== FRAME_PROTOCOL_VERSION || buf[6] !== 0 || buf[7] !== 0) {
            return fail('version', `unsupported tunnel version ${buf[4]} / frame version ${buf[5]}`, { tunnelVersion: buf[4], frameVersion: buf[5] });
          }
          buf = buf.subarray(PREAMBLE_LENGTH);
          step = 'msg1';
          continue;
        }
        const m = nextMessage();
        if (m === undefined) return;
        if (m === null) return fail('malformed', `handshake message over ${MAX_HANDSHAKE_MESSAGE} bytes`);
        if (step === 'msg1') {
          if (readPayload(m) === null) return;
          socket.write(frame(hs.writeMessage(ownSettings)));
          step = 'msg3';
        } else if (step === 'msg2') {
          const p = readPayload(m);
          if (p === null) return;
          remoteSettings = decodeSettings(p);
          if (!remoteSettings) return fail('malformed', 'bad settings in handshake message 2');
          if (!checkPeer()) return;
          socket.write(frame(hs.writeMessage(ownSettings)));
          return done();
        } else {
          const p = readPayload(m);
          if (p === null) return;
          remoteSettings = decodeSettings(p);
          if (!remoteSettings) return fail('malformed', 'bad settings in handshake message 3');
          if (!checkPeer()) return;
          return done();
        }
      }
    }

    function onData(chunk: Buffer): void {
      if (finished) return;
      // After the final message the initiator may already send records: only bytes
      // before authentication are bounded here.
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      if (buf.length > limit && step !== 'msg3') return fail('malformed', `more than ${limit} bytes before the handshake completed`);
      if (step === 'msg3' && buf.length >= 2 && buf.readUInt16BE(0) > MAX_HANDSHAKE_MESSAGE) {
        return fail('malformed', `handshake message over ${MAX_HANDSHAKE_MESSAGE} bytes`);
      }
      progress();
    }

    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
    if (role === 'initiator') socket.write(frame(hs.writeMessage(new Uint8Array(0)), preamble()));
    socket.resume();
  });
}
