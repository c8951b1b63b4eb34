// Plain-TypeScript client handshake: the reference the kernel is tested against and the
// "plain TS" rows of bench/handshake.ts. Written from ARCHITECTURE.md: it splits the ID
// at its dots and checks each label, where the kernel classifies bytes in one pass.
import { WeftError } from '../errors.js';
import {
  HANDSHAKE_VERSION,
  HandshakeBatchStatus,
  MAX_SERVICE_ID_LENGTH,
  NEED_MORE,
  ReplyCode,
  type HandshakeBatchResult,
  type HandshakeTable,
} from './handshake.js';

const DOT = 0x2e;
const HYPHEN = 0x2d;
const MAX_LABEL = 63;

/** Per byte: ALNUM for [a-z0-9], HYPHEN_OK for '-', 0 for anything else. A table, not
 *  range tests: on random IDs the branches of range tests mispredict (3x slower here). */
const ALNUM = 1;
const HYPHEN_OK = 2;
const LABEL_BYTE = new Uint8Array(256);
for (let c = 0x61; c <= 0x7a; c++) LABEL_BYTE[c] = ALNUM;
for (let c = 0x30; c <= 0x39; c++) LABEL_BYTE[c] = ALNUM;
LABEL_BYTE[HYPHEN] = HYPHEN_OK;

/** An RFC 1123 label: 1..63 of [a-z0-9-], alphanumeric at both ends. */
function isLabel(bytes: Uint8Array, start: number, end: number): boolean {
  const len = end - start;
  if (len < 1 || len > MAX_LABEL) return false;
  if (LABEL_BYTE[bytes[start]!] !== ALNUM || LABEL_BYTE[bytes[end - 1]!] !== ALNUM) return false;
  let bad = 0;
  for (let i = start + 1; i < end - 1; i++) bad |= LABEL_BYTE[bytes[i]!]! - 1; // -1 only for 0
  return bad >= 0;
}

function dotIn(bytes: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; i++) if (bytes[i] === DOT) return i;
  return -1;
}

/** OK when bytes[offset..offset+length) is `<service>.<meshlet>.<ns>` of labels, else MALFORMED. */
export function validateServiceIdReference(bytes: Uint8Array, offset: number, length: number): ReplyCode.OK | ReplyCode.MALFORMED {
  if (length < 1 || length > MAX_SERVICE_ID_LENGTH) return ReplyCode.MALFORMED;
  const end = offset + length;
  const first = dotIn(bytes, offset, end);
  if (first < 0) return ReplyCode.MALFORMED;
  const second = dotIn(bytes, first + 1, end);
  if (second < 0) return ReplyCode.MALFORMED;
  if (!isLabel(bytes, offset, first) || !isLabel(bytes, first + 1, second) || !isLabel(bytes, second + 1, end)) return ReplyCode.MALFORMED;
  return ReplyCode.OK; // a third dot would have failed the last label
}

function asciiString(bytes: Uint8Array, start: number, end: number): string {
  return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
}

const EMPTY = new Uint8Array(0);

/** Same contract as HandshakeParser, without the kernel. */
export class ReferenceHandshakeParser {
  /** Bytes of the request seen so far (at most 2 + 255). */
  private readonly seen = new Uint8Array(2 + MAX_SERVICE_ID_LENGTH);
  private count = 0;
  private code: number = NEED_MORE;
  private id = '';
  private tail: Uint8Array = EMPTY;

  push(chunk: Uint8Array): number {
    if (this.code !== NEED_MORE) return this.code;
    if (this.count === 0 && chunk.length >= 2 && chunk[0] === HANDSHAKE_VERSION && chunk[1] !== 0 && chunk.length >= 2 + chunk[1]!) {
      // The whole request in one chunk (the usual case): judge it where it lies.
      const n = chunk[1]!;
      this.code = validateServiceIdReference(chunk, 2, n);
      if (this.code === ReplyCode.OK) this.id = asciiString(chunk, 2, 2 + n);
      this.tail = chunk.subarray(2 + n);
      return this.code;
    }
    for (let i = 0; i < chunk.length; i++) {
      this.seen[this.count++] = chunk[i]!;
      const code = this.decide();
      if (code !== NEED_MORE) {
        this.code = code;
        this.tail = chunk.subarray(i + 1);
        return code;
      }
    }
    return NEED_MORE;
  }

  /** The outcome of the bytes seen so far. */
  private decide(): number {
    const s = this.seen;
    if (s[0] !== HANDSHAKE_VERSION) return ReplyCode.UNSUPPORTED_VERSION;
    if (this.count < 2) return NEED_MORE;
    const n = s[1]!;
    if (n === 0) return ReplyCode.MALFORMED;
    if (this.count < 2 + n) return NEED_MORE;
    const code = validateServiceIdReference(s, 2, n);
    if (code === ReplyCode.OK) this.id = asciiString(s, 2, 2 + n);
    return code;
  }

  get serviceId(): string {
    return this.id;
  }
  get rest(): Uint8Array {
    return this.tail;
  }
  reset(): void {
    this.count = 0;
    this.code = NEED_MORE;
    this.id = '';
    this.tail = EMPTY;
  }
}

/** Same contract as HandshakeKernel.parseRequestsInto. */
export function parseRequestsReference(buf: Uint8Array, offset: number, table: HandshakeTable): HandshakeBatchResult {
  if (!Number.isInteger(offset) || offset < 0 || offset > buf.length) throw new WeftError('WEFT-K003', `offset ${offset} outside ${buf.length} bytes`);
  const words = table.words;
  let pos = offset;
  let n = 0;
  let status = HandshakeBatchStatus.OK;
  while (pos < buf.length) {
    if (n === table.capacity) {
      status = HandshakeBatchStatus.TABLE_FULL;
      break;
    }
    if (buf[pos] !== HANDSHAKE_VERSION) {
      words[n * 3] = ReplyCode.UNSUPPORTED_VERSION;
      words[n * 3 + 1] = pos + 1;
      words[n * 3 + 2] = 0;
      n++;
      pos++;
      status = HandshakeBatchStatus.STOPPED;
      break;
    }
    if (pos + 2 > buf.length) {
      status = HandshakeBatchStatus.NEED_MORE;
      break;
    }
    const len = buf[pos + 1]!;
    if (pos + 2 + len > buf.length) {
      status = HandshakeBatchStatus.NEED_MORE;
      break;
    }
    words[n * 3] = len === 0 ? ReplyCode.MALFORMED : validateServiceIdReference(buf, pos + 2, len);
    words[n * 3 + 1] = pos + 2;
    words[n * 3 + 2] = len;
    n++;
    pos += 2 + len;
  }
  table.count = n;
  const r = table.result;
  r.status = status;
  r.requests = n;
  r.consumed = pos - offset;
  return r;
}
