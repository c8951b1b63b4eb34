// Wire encoding of membership messages (SWIM + Lifeguard), see docs/gossip-membership.md.
//
// A datagram is a compound packet:
//   u8 version (1) | 8 B sender id | u8 count | count × (u16 length | message)
// and a reliable request/response (push-pull, reliable ping) is:
//   u8 version (1) | 8 B sender id | message
// Every message starts with a u8 type. Integers are big-endian. Strings are
// u8 length + UTF-8; metadata is u16 length + bytes. Member ids are 8 random
// bytes on the wire and 16 lowercase hex characters in memory.
//
// Decoders take bytes + offset, check every length against the end of the
// buffer and the limits below, and return an error result; they never throw
// on hostile bytes and never read past the end.

import type { MemberState } from './types.js';

export const WIRE_VERSION = 1;
export const ID_BYTES = 8;
/** A digest message: type, count u32, hash u32. */
export const DIGEST_BYTES = 9;
/** version + sender id + count. */
export const PACKET_HEADER_BYTES = 1 + ID_BYTES + 1;
/** version + sender id. */
export const REQUEST_HEADER_BYTES = 1 + ID_BYTES;
/** Per message in a compound packet: its u16 length. */
export const MESSAGE_FRAME_OVERHEAD = 2;
export const MAX_MESSAGES_PER_PACKET = 255;
export const MAX_STRING_BYTES = 255;
export const MAX_META_BYTES = 512;
/** Upper bound on members in one push-pull, whatever the byte limit allows. */
export const MAX_PUSH_PULL_MEMBERS = 1 << 20;

export enum MessageType {
  Ping = 1,
  PingReq = 2,
  Ack = 3,
  Nack = 4,
  Alive = 5,
  Suspect = 6,
  Dead = 7,
  User = 8,
  PushPull = 9,
  /** The sender's member set in 8 bytes: count and hash of the members it holds alive or suspect. */
  Digest = 10,
}

export interface PingMessage {
  type: MessageType.Ping;
  seq: number;
  /** The member the sender means to probe: a restarted process at the same address does not answer for its old self. */
  targetId: string;
}
export interface PingReqMessage {
  type: MessageType.PingReq;
  seq: number;
  targetId: string;
  targetAddress: string;
  /** The requester wants a nack when the target does not answer (Lifeguard). */
  wantNack: boolean;
}
export interface AckMessage {
  type: MessageType.Ack;
  seq: number;
}
export interface NackMessage {
  type: MessageType.Nack;
  seq: number;
}
/**
 * A summary of the sender's view: how many members it holds up (alive or
 * suspect, itself included) and the XOR of their id hashes (memberSetHash).
 * A receiver whose own view differs, twice in a row, pulls the full state.
 */
export interface DigestMessage {
  type: MessageType.Digest;
  count: number;
  hash: number;
}
export interface AliveMessage {
  type: MessageType.Alive;
  id: string;
  incarnation: number;
  name: string;
  address: string;
  meta: Uint8Array;
}
export interface SuspectMessage {
  type: MessageType.Suspect;
  id: string;
  incarnation: number;
  from: string;
}
/** `from === id` means the member left gracefully. */
export interface DeadMessage {
  type: MessageType.Dead;
  id: string;
  incarnation: number;
  from: string;
}
export interface UserMessage {
  type: MessageType.User;
  data: Uint8Array;
}
export interface PushPullState {
  id: string;
  name: string;
  address: string;
  incarnation: number;
  state: MemberState;
  meta: Uint8Array;
}
export interface PushPullMessage {
  type: MessageType.PushPull;
  join: boolean;
  members: PushPullState[];
  userState: Uint8Array;
}

export type MembershipMessage =
  | PingMessage
  | PingReqMessage
  | AckMessage
  | NackMessage
  | AliveMessage
  | SuspectMessage
  | DeadMessage
  | UserMessage
  | DigestMessage;

export type DecodeResult<T> = { ok: true; value: T } | { ok: false; error: string };

export interface DecodedPacket {
  senderId: string;
  messages: MembershipMessage[];
}
export interface DecodedRequest<T> {
  senderId: string;
  message: T;
}

// ---------------------------------------------------------------- ids and strings

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) HEX_VALUE['0123456789abcdef'.charCodeAt(i)] = i;

/** True for an id in its in-memory form: 16 lowercase hex characters. */
export function isValidId(id: string): boolean {
  if (id.length !== ID_BYTES * 2) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c >= 128 || HEX_VALUE[c] < 0) return false;
  }
  return true;
}

function readId(b: Uint8Array, o: number): string {
  return HEX[b[o]] + HEX[b[o + 1]] + HEX[b[o + 2]] + HEX[b[o + 3]] + HEX[b[o + 4]] + HEX[b[o + 5]] + HEX[b[o + 6]] + HEX[b[o + 7]];
}

function writeId(b: Uint8Array, o: number, id: string): number {
  for (let i = 0; i < ID_BYTES; i++) {
    b[o + i] = (HEX_VALUE[id.charCodeAt(2 * i)] << 4) | HEX_VALUE[id.charCodeAt(2 * i + 1)];
  }
  return o + ID_BYTES;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

/** UTF-8 bytes of a short string, with an ASCII fast path. */
function utf8(s: string): Uint8Array {
  let ascii = true;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 128) { ascii = false; break; }
  if (!ascii) return utf8Encoder.encode(s);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** A flat string from short field bytes (ASCII fast path; concatenation would build a tree of cons strings). */
function readString(b: Uint8Array, o: number, n: number): string {
  const view = b.subarray(o, o + n);
  for (let i = 0; i < n; i++) if (view[i] >= 128) return utf8Decoder.decode(view);
  return String.fromCharCode.apply(null, view as unknown as number[]);
}

/** Empty metadata shares one array: most members carry none, and a cluster holds N² records. */
const NO_META = new Uint8Array(0);
function readMeta(b: Uint8Array, o: number, n: number): Uint8Array {
  return n === 0 ? NO_META : b.slice(o, o + n);
}

function stateCode(s: MemberState): number {
  return s === 'alive' ? 0 : s === 'suspect' ? 1 : s === 'dead' ? 2 : 3;
}
const STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left'];

function fail<T>(error: string): DecodeResult<T> {
  return { ok: false, error };
}

// ---------------------------------------------------------------- encoding

function u32(b: Uint8Array, o: number, v: number): number {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 255;
  b[o + 2] = (v >>> 8) & 255;
  b[o + 3] = v & 255;
  return o + 4;
}
function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Encodes one message (without its compound-packet length prefix). Throws only on programmer errors (oversized fields). */
export function encodeMessage(m: MembershipMessage): Uint8Array {
  switch (m.type) {
    case MessageType.Ping: {
      const b = new Uint8Array(1 + 4 + ID_BYTES);
      b[0] = m.type;
      writeId(b, u32(b, 1, m.seq), m.targetId);
      return b;
    }
    case MessageType.PingReq: {
      const addr = checkedString(m.targetAddress);
      const b = new Uint8Array(1 + 4 + ID_BYTES + 1 + addr.length + 1);
      b[0] = m.type;
      let o = writeId(b, u32(b, 1, m.seq), m.targetId);
      b[o++] = addr.length;
      b.set(addr, o);
      o += addr.length;
      b[o] = m.wantNack ? 1 : 0;
      return b;
    }
    case MessageType.Ack:
    case MessageType.Nack: {
      const b = new Uint8Array(5);
      b[0] = m.type;
      u32(b, 1, m.seq);
      return b;
    }
    case MessageType.Digest: {
      const b = new Uint8Array(DIGEST_BYTES);
      b[0] = m.type;
      u32(b, u32(b, 1, m.count), m.hash);
      return b;
    }
    case MessageType.Alive: {
      const name = checkedString(m.name);
      const addr = checkedString(m.address);
      if (m.meta.length > MAX_META_BYTES) throw new RangeError(`member metadata over ${MAX_META_BYTES} bytes`);
      const b = new Uint8Array(1 + ID_BYTES + 4 + 1 + name.length + 1 + addr.length + 2 + m.meta.length);
      b[0] = m.type;
      let o = u32(b, writeId(b, 1, m.id), m.incarnation);
      b[o++] = name.length;
      b.set(name, o);
      o += name.length;
      b[o++] = addr.length;
      b.set(addr, o);
      o += addr.length;
      b[o++] = m.meta.length >>> 8;
      b[o++] = m.meta.length & 255;
      b.set(m.meta, o);
      return b;
    }
    case MessageType.Suspect:
    case MessageType.Dead: {
      const b = new Uint8Array(1 + ID_BYTES + 4 + ID_BYTES);
      b[0] = m.type;
      writeId(b, u32(b, writeId(b, 1, m.id), m.incarnation), m.from);
      return b;
    }
    case MessageType.User: {
      const b = new Uint8Array(1 + m.data.length);
      b[0] = m.type;
      b.set(m.data, 1);
      return b;
    }
  }
}

function checkedString(s: string): Uint8Array {
  const b = utf8(s);
  if (b.length > MAX_STRING_BYTES) throw new RangeError(`string field over ${MAX_STRING_BYTES} bytes`);
  return b;
}

/** Bytes a packet holding these messages takes. */
export function packetSize(messages: readonly Uint8Array[]): number {
  let n = PACKET_HEADER_BYTES;
  for (const m of messages) n += MESSAGE_FRAME_OVERHEAD + m.length;
  return n;
}

/** Frames already-encoded messages into one compound packet. */
export function encodePacket(senderId: string, messages: readonly Uint8Array[]): Uint8Array {
  if (messages.length > MAX_MESSAGES_PER_PACKET) throw new RangeError('too many messages for one packet');
  const b = new Uint8Array(packetSize(messages));
  b[0] = WIRE_VERSION;
  let o = writeId(b, 1, senderId);
  b[o++] = messages.length;
  for (const m of messages) {
    if (m.length > 0xffff) throw new RangeError('message over 65535 bytes');
    b[o++] = m.length >>> 8;
    b[o++] = m.length & 255;
    copyInto(b, m, o);
    o += m.length;
  }
  return b;
}

/** b.set(src, o), with a plain loop for the shortest messages (acks, nacks), where set's fixed cost dominates. */
function copyInto(b: Uint8Array, src: Uint8Array, o: number): void {
  const n = src.length;
  if (n > 16) b.set(src, o);
  else for (let i = 0; i < n; i++) b[o + i] = src[i]!;
}

/** A reliable request or response: header + one encoded message. */
export function encodeRequest(senderId: string, message: Uint8Array): Uint8Array {
  const b = new Uint8Array(REQUEST_HEADER_BYTES + message.length);
  b[0] = WIRE_VERSION;
  writeId(b, 1, senderId);
  b.set(message, REQUEST_HEADER_BYTES);
  return b;
}

/** One member's entry in a push-pull: id | u32 incarnation | u8 state | name | address | meta. */
export function encodePushPullEntry(st: PushPullState): Uint8Array {
  const name = checkedString(st.name);
  const addr = checkedString(st.address);
  if (st.meta.length > MAX_META_BYTES) throw new RangeError(`member metadata over ${MAX_META_BYTES} bytes`);
  const b = new Uint8Array(ID_BYTES + 4 + 1 + 1 + name.length + 1 + addr.length + 2 + st.meta.length);
  let o = u32(b, writeId(b, 0, st.id), st.incarnation);
  b[o++] = stateCode(st.state);
  b[o++] = name.length;
  b.set(name, o);
  o += name.length;
  b[o++] = addr.length;
  b.set(addr, o);
  o += addr.length;
  b[o++] = st.meta.length >>> 8;
  b[o++] = st.meta.length & 255;
  b.set(st.meta, o);
  return b;
}

/** Push-pull body from encoded entries: u8 type | u8 flags(join) | u32 count | entries | u32 user length | user state. */
export function encodePushPullEntries(join: boolean, entries: readonly Uint8Array[], userState: Uint8Array): Uint8Array {
  return writePushPull(0, join, entries, userState);
}

/**
 * encodeRequest(senderId, encodePushPullEntries(...)) in one buffer: a
 * push-pull carries the whole member table, and the second copy of it was a
 * measurable part of a large simulated join.
 */
export function encodePushPullEntriesRequest(senderId: string, join: boolean, entries: readonly Uint8Array[], userState: Uint8Array): Uint8Array {
  const b = writePushPull(REQUEST_HEADER_BYTES, join, entries, userState);
  b[0] = WIRE_VERSION;
  writeId(b, 1, senderId);
  return b;
}

function writePushPull(at: number, join: boolean, entries: readonly Uint8Array[], userState: Uint8Array): Uint8Array {
  let size = at + 1 + 1 + 4 + 4 + userState.length;
  for (const e of entries) size += e.length;
  const b = new Uint8Array(size);
  b[at] = MessageType.PushPull;
  b[at + 1] = join ? 1 : 0;
  let o = u32(b, at + 2, entries.length);
  for (const e of entries) {
    copyInto(b, e, o);
    o += e.length;
  }
  o = u32(b, o, userState.length);
  b.set(userState, o);
  return b;
}

/** Bytes of a string's UTF-8 form, and whether it is ASCII (written byte per char). */
function utf8Length(str: string): number {
  for (let i = 0; i < str.length; i++) if (str.charCodeAt(i) >= 128) return utf8Encoder.encode(str).length;
  return str.length;
}

function writeString(b: Uint8Array, o: number, str: string, n: number): number {
  b[o++] = n;
  if (n === str.length) {
    for (let i = 0; i < n; i++) b[o + i] = str.charCodeAt(i);
  } else {
    utf8Encoder.encodeInto(str, b.subarray(o, o + n));
  }
  return o + n;
}

/**
 * A whole push-pull request/response (header + body) written in one buffer
 * straight from the member states, without per-entry arrays.
 */
export function encodePushPullRequest(senderId: string, join: boolean, members: Iterable<PushPullState>, userState: Uint8Array): Uint8Array {
  const list = Array.isArray(members) ? (members as PushPullState[]) : [...members];
  const lens = new Int32Array(list.length * 2);
  let size = REQUEST_HEADER_BYTES + 1 + 1 + 4 + 4 + userState.length;
  for (let i = 0; i < list.length; i++) {
    const st = list[i];
    const nl = utf8Length(st.name);
    const al = utf8Length(st.address);
    if (nl > MAX_STRING_BYTES || al > MAX_STRING_BYTES) throw new RangeError(`string field over ${MAX_STRING_BYTES} bytes`);
    if (st.meta.length > MAX_META_BYTES) throw new RangeError(`member metadata over ${MAX_META_BYTES} bytes`);
    lens[2 * i] = nl;
    lens[2 * i + 1] = al;
    size += ID_BYTES + 4 + 1 + 1 + nl + 1 + al + 2 + st.meta.length;
  }
  const b = new Uint8Array(size);
  b[0] = WIRE_VERSION;
  let o = writeId(b, 1, senderId);
  b[o++] = MessageType.PushPull;
  b[o++] = join ? 1 : 0;
  o = u32(b, o, list.length);
  for (let i = 0; i < list.length; i++) {
    const st = list[i];
    o = u32(b, writeId(b, o, st.id), st.incarnation);
    b[o++] = stateCode(st.state);
    o = writeString(b, o, st.name, lens[2 * i]);
    o = writeString(b, o, st.address, lens[2 * i + 1]);
    b[o++] = st.meta.length >>> 8;
    b[o++] = st.meta.length & 255;
    b.set(st.meta, o);
    o += st.meta.length;
  }
  o = u32(b, o, userState.length);
  b.set(userState, o);
  return b;
}

export function encodePushPull(m: Omit<PushPullMessage, 'type'>): Uint8Array {
  return encodePushPullEntries(m.join, m.members.map(encodePushPullEntry), m.userState);
}

// ---------------------------------------------------------------- decoding

/** Decodes one message occupying exactly b[o, end). */
export function decodeMessage(b: Uint8Array, o: number, end: number): DecodeResult<MembershipMessage> {
  if (end > b.length || o >= end) return fail('empty message');
  const type = b[o];
  const n = end - o;
  switch (type) {
    case MessageType.Ping:
      if (n !== 1 + 4 + ID_BYTES) return fail('ping: bad length');
      return { ok: true, value: { type, seq: readU32(b, o + 1), targetId: readId(b, o + 5) } };
    case MessageType.PingReq: {
      if (n < 1 + 4 + ID_BYTES + 1 + 1) return fail('ping-req: truncated');
      const alen = b[o + 13];
      if (n !== 1 + 4 + ID_BYTES + 1 + alen + 1) return fail('ping-req: bad length');
      if (alen === 0) return fail('ping-req: empty address');
      const flags = b[o + 14 + alen];
      if (flags > 1) return fail('ping-req: reserved flag bits set');
      return {
        ok: true,
        value: { type, seq: readU32(b, o + 1), targetId: readId(b, o + 5), targetAddress: readString(b, o + 14, alen), wantNack: flags === 1 },
      };
    }
    case MessageType.Ack:
    case MessageType.Nack:
      if (n !== 5) return fail('ack: bad length');
      return { ok: true, value: { type, seq: readU32(b, o + 1) } };
    case MessageType.Digest:
      if (n !== DIGEST_BYTES) return fail('digest: bad length');
      return { ok: true, value: { type, count: readU32(b, o + 1), hash: readU32(b, o + 5) } };
    case MessageType.Alive: {
      let p = o + 1 + ID_BYTES + 4;
      if (p + 1 > end) return fail('alive: truncated');
      const nlen = b[p++];
      if (p + nlen + 1 > end) return fail('alive: truncated name');
      const name = readString(b, p, nlen);
      p += nlen;
      const alen = b[p++];
      if (alen === 0) return fail('alive: empty address');
      if (p + alen + 2 > end) return fail('alive: truncated address');
      const address = readString(b, p, alen);
      p += alen;
      const mlen = (b[p] << 8) | b[p + 1];
      p += 2;
      if (mlen > MAX_META_BYTES) return fail('alive: metadata too long');
      if (p + mlen !== end) return fail('alive: bad length');
      return {
        ok: true,
        value: { type, id: readId(b, o + 1), incarnation: readU32(b, o + 1 + ID_BYTES), name, address, meta: readMeta(b, p, end - p) },
      };
    }
    case MessageType.Suspect:
    case MessageType.Dead:
      if (n !== 1 + ID_BYTES + 4 + ID_BYTES) return fail('suspect/dead: bad length');
      return { ok: true, value: { type, id: readId(b, o + 1), incarnation: readU32(b, o + 9), from: readId(b, o + 13) } };
    case MessageType.User:
      return { ok: true, value: { type, data: b.slice(o + 1, end) } };
    default:
      return fail(`unknown message type ${type}`);
  }
}

/**
 * Checks a compound packet's header and framing and returns its sender id and
 * the [start, end) of each message, without decoding the messages (a receiver
 * can skip news it already has without materialising it).
 */
export function splitPacket(b: Uint8Array): DecodeResult<{ senderId: string; frames: number[] }> {
  const frames: number[] = [];
  const error = splitPacketFrames(b, frames);
  if (error !== undefined) return fail(error);
  return { ok: true, value: { senderId: readId(b, 1), frames } };
}

/**
 * splitPacket without building the sender id (most packets never need it;
 * see packetSenderId): appends [start, end) of each frame to `frames` and
 * returns undefined, or returns what is wrong.
 */
export function splitPacketFrames(b: Uint8Array, frames: number[]): string | undefined {
  if (b.length < PACKET_HEADER_BYTES) return 'packet: truncated header';
  if (b[0] !== WIRE_VERSION) return `packet: unsupported version ${b[0]}`;
  const count = b[1 + ID_BYTES];
  if (count === 0) return 'packet: no messages';
  let o = PACKET_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    if (o + 2 > b.length) return 'packet: truncated frame length';
    const len = (b[o] << 8) | b[o + 1];
    o += 2;
    if (len === 0) return 'packet: empty frame';
    if (o + len > b.length) return 'packet: frame past end';
    frames.push(o, o + len);
    o += len;
  }
  if (o !== b.length) return 'packet: trailing bytes';
  return undefined;
}

/** The sender id of a packet checked by splitPacketFrames. */
export function packetSenderId(b: Uint8Array): string {
  return readId(b, 1);
}

/**
 * The two 32-bit words of an id, for lookups that must not build the id
 * string: `idHighWord >>> 2` is a small integer (a fast Map key) and callers
 * compare both words to rule out collisions.
 */
export function idHighWordAt(b: Uint8Array, o: number): number {
  return readU32(b, o);
}
export function idLowWordAt(b: Uint8Array, o: number): number {
  return readU32(b, o + 4);
}
export function idHighWord(id: string): number {
  return parseInt(id.slice(0, 8), 16) >>> 0;
}
export function idLowWord(id: string): number {
  return parseInt(id.slice(8), 16) >>> 0;
}
/** One member's share of a digest hash (the hash of a set is the XOR of its members'). */
export function memberSetHash(high: number, low: number): number {
  let h = Math.imul(high ^ 0x9e3779b9, 0x85ebca6b) ^ low;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Offset of the subject id inside an alive/suspect/dead message, and of its incarnation. */
export const SUBJECT_ID_OFFSET = 1;
export const SUBJECT_INCARNATION_OFFSET = 1 + ID_BYTES;
export function readU32At(b: Uint8Array, o: number): number {
  return readU32(b, o);
}

/** Decodes a compound packet; any malformed part rejects the whole packet. */
export function decodePacket(b: Uint8Array): DecodeResult<DecodedPacket> {
  const split = splitPacket(b);
  if (!split.ok) return split;
  const messages: MembershipMessage[] = [];
  const f = split.value.frames;
  for (let i = 0; i < f.length; i += 2) {
    const r = decodeMessage(b, f[i], f[i + 1]);
    if (!r.ok) return r;
    messages.push(r.value);
  }
  return { ok: true, value: { senderId: split.value.senderId, messages } };
}

/** Splits a reliable request/response into its sender id and message bytes. */
export function decodeRequestHeader(b: Uint8Array): DecodeResult<{ senderId: string; body: Uint8Array }> {
  if (b.length < REQUEST_HEADER_BYTES + 1) return fail('request: truncated');
  if (b[0] !== WIRE_VERSION) return fail(`request: unsupported version ${b[0]}`);
  return { ok: true, value: { senderId: readId(b, 1), body: b.subarray(REQUEST_HEADER_BYTES) } };
}

/** A validated push-pull whose entries are decoded on demand (most of a peer's table is news we already hold). */
export interface SplitPushPull {
  join: boolean;
  /** Start offset of each entry in the body. */
  entries: number[];
  userState: Uint8Array;
}

/** Offsets inside a push-pull entry. */
export const ENTRY_INCARNATION_OFFSET = ID_BYTES;
export const ENTRY_STATE_OFFSET = ID_BYTES + 4;

/** Checks the whole body (every length against the end and the limits) and returns entry offsets. */
export function splitPushPull(b: Uint8Array, maxMembers = MAX_PUSH_PULL_MEMBERS): DecodeResult<SplitPushPull> {
  if (b.length < 10) return fail('push-pull: truncated');
  if (b[0] !== MessageType.PushPull) return fail('push-pull: wrong type');
  if (b[1] > 1) return fail('push-pull: reserved flag bits set');
  const count = readU32(b, 2);
  // Each entry takes at least 17 bytes: a count the bytes cannot hold is hostile.
  const minEntry = ID_BYTES + 4 + 1 + 1 + 1 + 1 + 2;
  if (count > maxMembers || count * minEntry > b.length) return fail('push-pull: member count too large');
  const entries: number[] = [];
  let o = 6;
  for (let i = 0; i < count; i++) {
    if (o + ID_BYTES + 4 + 2 > b.length) return fail('push-pull: truncated entry');
    const start = o;
    if (b[o + ENTRY_STATE_OFFSET] > 3) return fail('push-pull: bad member state');
    o += ID_BYTES + 5;
    const nlen = b[o++];
    if (o + nlen + 1 > b.length) return fail('push-pull: truncated name');
    o += nlen;
    const alen = b[o++];
    if (alen === 0) return fail('push-pull: empty address');
    if (o + alen + 2 > b.length) return fail('push-pull: truncated address');
    o += alen;
    const mlen = (b[o] << 8) | b[o + 1];
    o += 2;
    if (mlen > MAX_META_BYTES) return fail('push-pull: metadata too long');
    if (o + mlen > b.length) return fail('push-pull: truncated metadata');
    o += mlen;
    entries.push(start);
  }
  if (o + 4 > b.length) return fail('push-pull: truncated user state length');
  const ulen = readU32(b, o);
  o += 4;
  if (o + ulen !== b.length) return fail('push-pull: bad user state length');
  return { ok: true, value: { join: b[1] === 1, entries, userState: b.slice(o) } };
}

/** Member state of the entry at `o` (validated by splitPushPull). */
export function entryState(b: Uint8Array, o: number): MemberState {
  return STATES[b[o + ENTRY_STATE_OFFSET]];
}

/** Decodes the entry at `o` of a body validated by splitPushPull. */
export function readPushPullEntry(b: Uint8Array, o: number): PushPullState {
  const id = readId(b, o);
  const incarnation = readU32(b, o + ENTRY_INCARNATION_OFFSET);
  const state = STATES[b[o + ENTRY_STATE_OFFSET]];
  o += ID_BYTES + 5;
  const nlen = b[o++];
  const name = readString(b, o, nlen);
  o += nlen;
  const alen = b[o++];
  const address = readString(b, o, alen);
  o += alen;
  const mlen = (b[o] << 8) | b[o + 1];
  o += 2;
  return { id, incarnation, state, name, address, meta: readMeta(b, o, mlen) };
}

export function decodePushPull(b: Uint8Array, maxMembers = MAX_PUSH_PULL_MEMBERS): DecodeResult<PushPullMessage> {
  const split = splitPushPull(b, maxMembers);
  if (!split.ok) return split;
  const { join, entries, userState } = split.value;
  return { ok: true, value: { type: MessageType.PushPull, join, members: entries.map((o) => readPushPullEntry(b, o)), userState } };
}
