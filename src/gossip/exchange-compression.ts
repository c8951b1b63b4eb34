// Compression of reliable exchanges (push-pull requests and replies) under
// the seal, as memberlist does for push-pull: a member table and catalog are
// very redundant (common name prefixes, one host in every address, the same
// catalog keys and member ids repeated), and deflate cuts the 100-agent
// push-pull from 17.7 KB to 3.9 KB. Ciphertext does not compress, so this
// runs before sealing and after opening; only a holder of the cluster key can
// hand us compressed bytes, and even then inflation stops at a hard limit
// (a decompression bomb is refused, never expanded without bound).
//
// Format: raw deflate (RFC 1951, no zlib/gzip header) of the whole payload;
// the seal's version byte says whether a message is compressed (it is
// authenticated, so it cannot be flipped in transit). Datagrams are never
// compressed: they are small and already bounded by the packet size.

import { deflateRawSync, inflateRawSync } from 'node:zlib';

/** Exchanges shorter than this are sent as they are (deflate gains little on a few hundred bytes). */
export const DEFAULT_COMPRESS_MIN_BYTES = 512;
/** Default bound on an inflated exchange: membership's default maxPushPullBytes (8 MiB). */
export const DEFAULT_MAX_INFLATED_BYTES = 8 * 1024 * 1024;

export type InflateResult =
  | { ok: true; payload: Uint8Array }
  | { ok: false; reason: 'too-large' | 'malformed'; error: string };

/** Raw deflate of `payload`, or null when that would not be smaller. */
export function deflatePayload(payload: Uint8Array): Uint8Array | null {
  const out = deflateRawSync(payload);
  if (out.length >= payload.length) return null;
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/**
 * Inflates a raw-deflate payload to at most `maxBytes`. Refuses (never
 * throws) a stream that would inflate past the limit, a truncated or corrupt
 * stream, and bytes after the end of the stream.
 */
export function inflatePayload(data: Uint8Array, maxBytes: number): InflateResult {
  if (data.length === 0) return { ok: false, reason: 'malformed', error: 'empty compressed payload' };
  let result: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    // maxOutputLength stops zlib once the output would pass the limit: a bomb costs at most maxBytes of memory.
    result = inflateRawSync(data, { maxOutputLength: Math.max(1, maxBytes), info: true }) as unknown as typeof result;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') return { ok: false, reason: 'too-large', error: `compressed payload inflates past the ${maxBytes}-byte limit` };
    return { ok: false, reason: 'malformed', error: `compressed payload is corrupt (${code ?? (e as Error).message})` };
  }
  if (result.engine.bytesWritten !== data.length) {
    return { ok: false, reason: 'malformed', error: `${data.length - result.engine.bytesWritten} bytes after the end of the compressed payload` };
  }
  const b = result.buffer;
  // A plain Uint8Array view: decoders' slice() must copy, as it does on any other payload (Buffer#slice would alias).
  return { ok: true, payload: new Uint8Array(b.buffer, b.byteOffset, b.length) };
}
