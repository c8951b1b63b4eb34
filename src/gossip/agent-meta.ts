// What an agent tells the cluster about itself in its membership metadata
// (Member.meta, at most 512 bytes, gossiped with every alive message): where
// its tunnel listens and the tunnel's static public key, plus its weft
// version. The tunnel layer reads these to dial a member; nothing here is
// secret.
//
// Encoding (forward compatible: unknown fields are skipped, so a newer agent
// can add fields an older one ignores):
//   u8 format version (1) | fields…
//   field = u8 tag | u8 length | length bytes
//   tag 1 tunnel address  UTF-8 "host:port" ("[v6]:port" for IPv6)
//   tag 2 tunnel key      32 bytes (X25519 public key)
//   tag 3 weft version    UTF-8
// A tag may appear once; a repeated known tag, a field running past the end
// or a bad format version make the whole metadata invalid (decode → null).

export const AGENT_META_VERSION = 1;
export const TAG_TUNNEL_ADDRESS = 1;
export const TAG_TUNNEL_KEY = 2;
export const TAG_WEFT_VERSION = 3;
export const TUNNEL_KEY_BYTES = 32;
/** Membership's limit on metadata (messages.ts MAX_META_BYTES). */
export const MAX_AGENT_META_BYTES = 512;

export interface AgentMeta {
  /** "host:port" where this agent's tunnel listener accepts other agents. */
  readonly tunnelAddress?: string;
  /** The tunnel's static X25519 public key (32 bytes). */
  readonly tunnelPublicKey?: Uint8Array;
  /** weft version of the agent (diagnostics: /members shows it). */
  readonly weftVersion?: string;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Encodes agent metadata; throws RangeError on a field too long or a key of the wrong size (programmer error). */
export function encodeAgentMeta(meta: AgentMeta): Uint8Array {
  const fields: [number, Uint8Array][] = [];
  if (meta.tunnelAddress !== undefined) fields.push([TAG_TUNNEL_ADDRESS, utf8.encode(meta.tunnelAddress)]);
  if (meta.tunnelPublicKey !== undefined) {
    if (meta.tunnelPublicKey.length !== TUNNEL_KEY_BYTES) throw new RangeError(`tunnel public key must be ${TUNNEL_KEY_BYTES} bytes`);
    fields.push([TAG_TUNNEL_KEY, meta.tunnelPublicKey]);
  }
  if (meta.weftVersion !== undefined) fields.push([TAG_WEFT_VERSION, utf8.encode(meta.weftVersion)]);
  let size = 1;
  for (const [, v] of fields) {
    if (v.length > 255) throw new RangeError('agent metadata field over 255 bytes');
    size += 2 + v.length;
  }
  if (size > MAX_AGENT_META_BYTES) throw new RangeError(`agent metadata over ${MAX_AGENT_META_BYTES} bytes`);
  const out = new Uint8Array(size);
  out[0] = AGENT_META_VERSION;
  let o = 1;
  for (const [tag, v] of fields) {
    out[o] = tag;
    out[o + 1] = v.length;
    out.set(v, o + 2);
    o += 2 + v.length;
  }
  return out;
}

/** Decodes agent metadata; null when it is not valid (never throws). Empty metadata is an empty AgentMeta. */
export function decodeAgentMeta(bytes: Uint8Array): AgentMeta | null {
  if (bytes.length === 0) return {};
  if (bytes.length > MAX_AGENT_META_BYTES || bytes[0] !== AGENT_META_VERSION) return null;
  const seen = new Set<number>();
  let tunnelAddress: string | undefined;
  let tunnelPublicKey: Uint8Array | undefined;
  let weftVersion: string | undefined;
  let o = 1;
  while (o < bytes.length) {
    if (o + 2 > bytes.length) return null;
    const tag = bytes[o]!;
    const len = bytes[o + 1]!;
    const start = o + 2;
    const end = start + len;
    if (end > bytes.length) return null;
    const value = bytes.subarray(start, end);
    o = end;
    if (tag !== TAG_TUNNEL_ADDRESS && tag !== TAG_TUNNEL_KEY && tag !== TAG_WEFT_VERSION) continue; // a newer field
    if (seen.has(tag)) return null;
    seen.add(tag);
    try {
      if (tag === TAG_TUNNEL_ADDRESS) tunnelAddress = fromUtf8.decode(value);
      else if (tag === TAG_WEFT_VERSION) weftVersion = fromUtf8.decode(value);
      else {
        if (len !== TUNNEL_KEY_BYTES) return null;
        tunnelPublicKey = value.slice();
      }
    } catch {
      return null; // invalid UTF-8
    }
  }
  return {
    ...(tunnelAddress !== undefined ? { tunnelAddress } : {}),
    ...(tunnelPublicKey !== undefined ? { tunnelPublicKey } : {}),
    ...(weftVersion !== undefined ? { weftVersion } : {}),
  };
}
