// Secure tunnels between agents: an authenticated key exchange
// (Noise_XXpsk0_25519_ChaChaPoly_BLAKE2s, the cluster secret as PSK), records
// sealed by the WebAssembly AEAD kernel, many flow-controlled streams per
// connection. Wire format: docs/protocol.md §3–§6. Design: docs/tunnel.md.
//
// API
// ---
//   loadOrCreateIdentity(path: string): Promise<Identity>
//       The agent's static X25519 key, generated on first start and stored
//       with mode 0600; refuses a file group/others may read (WEFT-T011).
//       identity.id is the public key in base64 (`weft id`); formatPublicKey(key, 'hex').
//   loadIdentity(path), generateIdentity(), identityFromPrivateKey(key), parsePublicKey(text)
//
//   connectTunnel(socket: Duplex, options: TunnelOptions): Promise<TunnelSession>
//   acceptTunnel(socket: Duplex, options: TunnelOptions): Promise<TunnelSession>
//       Run the handshake as initiator / responder on a connected socket (any
//       Duplex; a net.Socket in practice). Reject with WEFT-T001 (auth: wrong
//       cluster secret), T002 (timeout), T003 (malformed / version / closed),
//       T004 (peer key not pinned) — the socket destroyed, nothing left behind.
//       TunnelOptions: { identity, psk, pinnedKeys?, agentId?, onStream?,
//       maxFrameSize?, initialStreamWindow?, initialSessionWindow?,
//       handshakeTimeoutMs?, keepaliveIntervalMs?, keepaliveTimeoutMs?,
//       rekeyAfterRecords?, rekeyAfterMs?, maxStreams?, … } (options.ts, DEFAULTS)
//
//   class TunnelSession extends EventEmitter
//       openStream(service: string, source: string, { early? }): Promise<TunnelStream>
//           Resolves when the peer accepts; rejects with TunnelStreamError
//           (rstName UNKNOWN_SERVICE / FORBIDDEN / UNAVAILABLE / STREAM_REFUSED …).
//       on('stream', (stream: TunnelStream, info: StreamInfo) => …)   unless options.onStream
//           The stream is accepted when the handler returns (or its promise
//           resolves, or it writes); stream.reject(code) refuses it with RST.
//       ping(): Promise<number>                 round trip in ms
//       close(): Promise<void>                  GOAWAY, drain open streams, end
//       destroy(err?): void                     every open stream errors (WEFT-T008)
//       rekeyNow(): void                        KEY_UPDATE on the next record
//       stats(): SessionStats                   bytes, records, rekeys, streams, windows, rtt
//       on('close', (err: WeftError | null) => …)
//       peerId (base64 static key), peerSettings, handshakeHash, error
//
//   class TunnelStream extends Duplex           id, service, source, accept(), reject(code)
//       end(): FIN (clean half-close); destroy(): RST CANCEL; a peer's RST
//       destroys it with TunnelStreamError { code: 'WEFT-T009', rstCode, rstName }.
//
//   handshakeStats(): { started, completed, failed: { auth, timeout, malformed, version, pinned, closed } }
//   tunnelResources(): { handshake, session }      in progress / open in this process
import type { Duplex } from 'node:stream';
import { runHandshake, type Role } from './handshake.js';
import { resolveOptions, type TunnelOptions, type TunnelSettings } from './options.js';
import { TunnelSession } from './session.js';
import { formatPublicKey } from './identity.js';

export { TunnelSession, type SessionStats, type OpenStreamOptions } from './session.js';
export { TunnelStream, TunnelStreamError, rstCodeName, type StreamInfo } from './stream.js';
export {
  loadOrCreateIdentity, loadIdentity, generateIdentity, identityFromPrivateKey, formatPublicKey, parsePublicKey,
  encodeIdentityFile, decodeIdentityFile, type Identity, type PublicKeyFormat,
} from './identity.js';
export { handshakeStats, tunnelPsk, type HandshakeStats, type HandshakeFailureCause, type Role } from './handshake.js';
export { tunnelResources } from './resources.js';
export { AEAD_ENGINE_CHOICES, NATIVE_MIN_PLAINTEXT, nativeAeadAvailable, type AeadEngineChoice } from './aead-engine.js';
export { nodeX25519, nobleX25519, defaultX25519, type X25519, type X25519KeyPair } from './x25519.js';
export {
  DEFAULTS as TUNNEL_DEFAULTS, TUNNEL_PROTOCOL_VERSION, FRAME_PROTOCOL_VERSION, MAX_RECORD_PLAINTEXT,
  type TunnelOptions, type TunnelSettings, type StreamHandler,
} from './options.js';
export { TunnelErrorCode } from '../kernel/frame.js';

async function open(socket: Duplex, role: Role, options: TunnelOptions): Promise<TunnelSession> {
  const o = resolveOptions(options);
  const settings: TunnelSettings = {
    agentId: o.agentId ?? formatPublicKey(o.identity.publicKey),
    maxFrameSize: o.maxFrameSize,
    initialStreamWindow: o.initialStreamWindow,
    initialSessionWindow: o.initialSessionWindow,
    features: o.features,
  };
  const hs = await runHandshake(socket, role, {
    identity: o.identity,
    psk: o.psk,
    settings,
    pinnedKeys: o.pinnedKeys,
    timeoutMs: o.handshakeTimeoutMs,
    x25519: o.x25519,
  });
  return new TunnelSession(socket, role, hs, settings, o);
}

/** Runs the handshake as initiator on a connected socket; resolves with the session. */
export function connectTunnel(socket: Duplex, options: TunnelOptions): Promise<TunnelSession> {
  return open(socket, 'initiator', options);
}

/** Runs the handshake as responder on an accepted socket; resolves with the session. */
export function acceptTunnel(socket: Duplex, options: TunnelOptions): Promise<TunnelSession> {
  return open(socket, 'responder', options);
}
