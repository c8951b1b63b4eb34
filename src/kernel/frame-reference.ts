// Plain-TypeScript frame codec (DataView): the reference the kernel is tested against and
// the "plain TS" row of bench/frame.ts. Written from docs/protocol.md, not from the kernel:
// the rules are a switch here and a lookup table there.
import { WeftError } from '../errors.js';
import {
  FRAME_HEADER_SIZE,
  FIRST_EXTENSION_TYPE,
  FrameStatus,
  FrameType,
  MAX_FRAME_SIZE_HARD_CAP,
  MIN_MAX_FRAME_SIZE,
  type DecodeResult,
  type FrameTable,
} from './frame.js';

/** The first rule a header breaks, checked in the order docs/protocol.md lists. */
export function frameHeaderErrorReference(type: number, flags: number, streamId: number, length: number, maxFrame: number): FrameStatus {
  const extension = type >= FIRST_EXTENSION_TYPE;
  let allowedFlags = 0;
  let stream: 'any' | 'zero' | 'nonzero' = 'any';
  let min = 0;
  let max = MAX_FRAME_SIZE_HARD_CAP;
  if (extension) {
    allowedFlags = 0xff;
  } else {
    switch (type) {
      case FrameType.DATA:
        allowedFlags = 0x01;
        stream = 'nonzero';
        min = 1;
        break;
      case FrameType.OPEN:
        stream = 'nonzero';
        min = 4;
        max = 512;
        break;
      case FrameType.WINDOW_UPDATE:
        min = max = 4;
        break;
      case FrameType.FIN:
        stream = 'nonzero';
        min = max = 0;
        break;
      case FrameType.RST:
        stream = 'nonzero';
        min = max = 4;
        break;
      case FrameType.PING:
      case FrameType.PONG:
      case FrameType.GOAWAY:
        stream = 'zero';
        min = max = 8;
        break;
      default:
        return FrameStatus.BAD_TYPE;
    }
  }
  if ((flags & ~allowedFlags) !== 0) return FrameStatus.BAD_FLAGS;
  if (streamId >= 0x80000000) return FrameStatus.RESERVED_BIT;
  if (length > maxFrame) return FrameStatus.TOO_LARGE;
  if (stream === 'zero' && streamId !== 0) return FrameStatus.BAD_STREAM;
  if (stream === 'nonzero' && streamId === 0) return FrameStatus.BAD_STREAM;
  if (length < min || length > max) return FrameStatus.BAD_LENGTH;
  return FrameStatus.OK;
}

function checkMaxFrame(maxFrame: number): void {
  if (!Number.isInteger(maxFrame) || maxFrame < MIN_MAX_FRAME_SIZE || maxFrame > MAX_FRAME_SIZE_HARD_CAP) {
    throw new WeftError('WEFT-K003', `max frame size ${maxFrame} outside ${MIN_MAX_FRAME_SIZE}..${MAX_FRAME_SIZE_HARD_CAP}`);
  }
}

/** Same contract as FrameKernel.decodeFramesInto. */
export function decodeFramesReference(buf: Uint8Array, offset: number, maxFrame: number, table: FrameTable): DecodeResult {
  if (!Number.isInteger(offset) || offset < 0 || offset > buf.length) throw new WeftError('WEFT-K003', `offset ${offset} outside ${buf.length} bytes`);
  checkMaxFrame(maxFrame);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const words = table.words;
  const end = buf.length;
  let pos = offset;
  let n = 0;
  let status = FrameStatus.OK;
  let needed = 0;
  while (pos < end) {
    if (n === table.capacity) {
      status = FrameStatus.TABLE_FULL;
      break;
    }
    if (end - pos < FRAME_HEADER_SIZE) {
      status = FrameStatus.NEED_MORE;
      needed = FRAME_HEADER_SIZE - (end - pos);
      break;
    }
    const type = view.getUint8(pos);
    const flags = view.getUint8(pos + 1);
    const streamId = view.getUint32(pos + 2);
    const length = (view.getUint8(pos + 6) << 16) | view.getUint16(pos + 7);
    const err = frameHeaderErrorReference(type, flags, streamId, length, maxFrame);
    if (err !== FrameStatus.OK) {
      status = err;
      break;
    }
    const frameEnd = pos + FRAME_HEADER_SIZE + length;
    if (frameEnd > end) {
      status = FrameStatus.NEED_MORE;
      needed = frameEnd - end;
      break;
    }
    const w = n * 4;
    words[w] = type | (flags << 8);
    words[w + 1] = streamId;
    words[w + 2] = pos + FRAME_HEADER_SIZE;
    words[w + 3] = length;
    n++;
    pos = frameEnd;
  }
  table.count = n;
  const r = table.result;
  r.status = status;
  r.frames = n;
  r.consumed = pos - offset;
  r.errorOffset = status >= 16 ? pos : -1;
  r.needed = needed;
  return r;
}

/** Same contract as encodeFrameHeaderInto. */
export function encodeFrameHeaderReference(
  out: Uint8Array,
  offset: number,
  type: number,
  flags: number,
  streamId: number,
  length: number,
  maxFrame = MAX_FRAME_SIZE_HARD_CAP,
): number {
  checkMaxFrame(maxFrame);
  if (!Number.isInteger(offset) || offset < 0 || offset + FRAME_HEADER_SIZE > out.length) throw new WeftError('WEFT-K003', `offset ${offset} outside ${out.length} bytes`);
  const err = frameHeaderErrorReference(type, flags, streamId, length, maxFrame);
  if (err !== FrameStatus.OK) throw new WeftError('WEFT-K004', `refusing to encode: ${FrameStatus[err]}`, { type, flags, streamId, length });
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint8(offset, type);
  view.setUint8(offset + 1, flags);
  view.setUint32(offset + 2, streamId);
  view.setUint8(offset + 6, length >>> 16);
  view.setUint16(offset + 7, length & 0xffff);
  return offset + FRAME_HEADER_SIZE;
}

/** Same contract as FrameKernel.encodeFrameHeadersInto. */
export function encodeFrameHeadersReference(
  frames: FrameTable,
  first: number,
  count: number,
  out: Uint8Array,
  outOffset: number,
  maxFrame = MAX_FRAME_SIZE_HARD_CAP,
): number {
  checkMaxFrame(maxFrame);
  if (first < 0 || count < 0 || first + count > frames.capacity) throw new WeftError('WEFT-K003', `frames ${first}..${first + count} outside the table`);
  if (outOffset < 0 || outOffset + count * FRAME_HEADER_SIZE > out.length) throw new WeftError('WEFT-K003', 'output too small');
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const words = frames.words;
  for (let i = 0; i < count; i++) {
    const w = (first + i) * 4;
    const typeFlags = words[w]!;
    const type = typeFlags & 0xff;
    const flags = typeFlags >>> 8;
    const streamId = words[w + 1]!;
    const length = words[w + 3]!;
    const err =
      flags > 0xff
        ? FrameStatus.BAD_FLAGS
        : length > MAX_FRAME_SIZE_HARD_CAP
          ? FrameStatus.TOO_LARGE
          : frameHeaderErrorReference(type, flags, streamId, length, maxFrame);
    if (err !== FrameStatus.OK) {
      throw new WeftError('WEFT-K004', `refusing to encode frame ${first + i}: ${FrameStatus[err]}`, { index: first + i, status: err });
    }
    const at = outOffset + i * FRAME_HEADER_SIZE;
    view.setUint8(at, type);
    view.setUint8(at + 1, flags);
    view.setUint32(at + 2, streamId);
    view.setUint8(at + 6, length >>> 16);
    view.setUint16(at + 7, length & 0xffff);
  }
  return count * FRAME_HEADER_SIZE;
}
