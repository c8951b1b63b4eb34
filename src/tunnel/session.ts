// TunnelSession: many streams over one authenticated byte stream (a net.Socket
// or any Duplex), after the handshake (handshake.ts). docs/protocol.md §5–§6
// specify what is on the wire; this file is the state machine.
//
// Sending: streams with data, and control frames (OPEN, WINDOW_UPDATE, FIN,
// RST, PING, PONG, GOAWAY, ACCEPT), are collected until the next tick; one
// flush then writes frames straight into the AEAD kernel's I/O region, seals
// each full record in place, copies it once into one outgoing buffer and makes
// one socket write. Streams take turns (round robin) of up to 64 KiB each.
//
// Receiving: records are opened in order (record.ts), frames are parsed from
// the plaintext — they may straddle records — and DATA payloads are pushed to
// their streams as slices (no copy). Every bound is enforced: frame headers
// (frame.ts rules), stream and session windows, stream count, queued control
// bytes, unsent bytes.
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { WeftError, type ErrorCode } from '../errors.js';
import {
  encodeFrameHeaderInto, frameHeaderError, FrameStatus, FrameType, FrameFlag, FRAME_HEADER_SIZE, MAX_STREAM_ID,
  TunnelErrorCode, OPEN_MAX_PAYLOAD, FIRST_EXTENSION_TYPE,
} from '../kernel/frame.js';
import { isServiceId, isDnsLabel } from '../sdk/service-id.js';
import { RecordOpener, RecordSealer, RecordError } from './record.js';
import { DEFAULT_AEAD_ENGINE, FEATURE_ACCEPT, FRAME_ACCEPT, MAX_RECORD_PLAINTEXT, MAX_WINDOW, RECORD_HEADER_SIZE, type ResolvedOptions, type TunnelSettings } from './options.js';
import { TunnelStream, TunnelStreamError, StreamFlag, rstCodeName, type StreamInfo, type StreamOwner } from './stream.js';
import { formatPublicKey } from './identity.js';
import { trackResource } from './resources.js';
import type { HandshakeResult, Role } from './handshake.js';

export interface SessionStats {
  role: Role;
  /** The peer's static public key (base64) and the agent id it announced. */
  peerKey: string;
  peerAgentId: string;
  bytesSent: number;
  bytesReceived: number;
  recordsSent: number;
  recordsReceived: number;
  rekeysSent: number;
  rekeysReceived: number;
  streamsOpened: number;
  streamsAccepted: number;
  streamsRefused: number;
  streamsActive: number;
  /** Bytes of stream payload sent and received. */
  dataSent: number;
  dataReceived: number;
  /** Credit left toward the peer, and the peer's toward us, on the whole session. */
  sendWindow: number;
  receiveWindow: number;
  /** Last keepalive / ping round trip in milliseconds (-1 before the first). */
  rttMs: number;
  state: 'open' | 'draining' | 'closed';
}

export interface OpenStreamOptions {
  /** Resolve at once, before the peer accepts (data may follow OPEN immediately). Default: wait for ACCEPT. */
  early?: boolean;
  /** Aborting it before the peer accepts resets the stream (RST CANCEL) and rejects with WEFT-T009 CANCEL. */
  signal?: AbortSignal;
}

const SESSION_DATA_MIN_FRAGMENT = 1024;
/** Most DATA bytes a stream sends per round-robin turn (several frames back to back). */
const STREAM_QUANTUM = 64 << 10;
/** Size of each receive buffer DATA payloads are copied into. */
const RX_BUFFER = 256 << 10;
/** Outgoing buffers kept for reuse per session. */
const WIRE_POOL = 4;
const ZERO8 = new Uint8Array(8);
const EMPTY = new Uint8Array(0);

const enum State {
  OPEN = 0,
  DRAINING = 1,
  CLOSED = 2,
}

/** A session-fatal condition: what to tell the peer and what to raise here. */
class SessionFault {
  constructor(readonly goaway: TunnelErrorCode | null, readonly code: ErrorCode, readonly message: string, readonly details: Record<string, unknown> = {}) {}
}

function sourceProblem(source: string): boolean {
  const parts = source.split('.');
  return parts.length !== 2 || !parts.every(isDnsLabel);
}

export class TunnelSession extends EventEmitter implements StreamOwner {
  readonly role: Role;
  readonly peerKey: Uint8Array;
  readonly peerSettings: TunnelSettings;
  readonly localSettings: TunnelSettings;
  /** Unique per session, known to both sides only (Noise handshake hash). */
  readonly handshakeHash: Uint8Array;
  /** Why the session ended (set once closed with an error). */
  error: WeftError | null = null;

  private readonly socket: Duplex;
  private readonly o: ResolvedOptions;
  private readonly sealer: RecordSealer;
  private readonly opener: RecordOpener;
  private readonly io: Uint8Array;
  private state = State.OPEN;
  private readonly release: () => void;

  private readonly streams = new Map<number, TunnelStream>();
  private nextStreamId: number;
  private lastPeerStreamId = 0;
  private goawaySent = false;
  private goawayReceived = false;
  private peerLastStreamId = MAX_STREAM_ID;

  // Flow control.
  private sendWindow: number;
  private recvWindow: number;
  private sessionCreditPending = 0;
  private pendingData = 0;

  // Sending.
  private ready: TunnelStream[] = [];
  private ctrl = new Uint8Array(256);
  private ctrlLen = 0;
  private afterFlush: ((err?: Error | null) => void)[] = [];
  private flushScheduled = false;
  private readonly flushBound = () => this.flush();

  // Receiving: the frame being parsed (frames may straddle records).
  private readonly fh = new Uint8Array(FRAME_HEADER_SIZE);
  private fhHave = 0;
  private fType = -1;
  private fFlags = 0;
  private fStream = 0;
  private fLength = 0;
  private fRemaining = 0;
  private readonly fPayload = new Uint8Array(OPEN_MAX_PAYLOAD);
  private fPayloadHave = 0;

  // Keepalive.
  private lastReceived: number;
  private keepalive: NodeJS.Timeout | null = null;
  private pings = new Map<string, { sent: number; resolve: (ms: number) => void; reject: (e: Error) => void }>();
  private keepalivePing: string | null = null;
  private rttMs = -1;

  private counters = { streamsOpened: 0, streamsAccepted: 0, streamsRefused: 0, dataSent: 0, dataReceived: 0 };
  private closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  /** @internal Use connectTunnel / acceptTunnel. */
  constructor(socket: Duplex, role: Role, hs: HandshakeResult, localSettings: TunnelSettings, options: ResolvedOptions) {
    super();
    this.socket = socket;
    this.role = role;
    this.o = options;
    this.peerKey = hs.remoteStatic;
    this.peerSettings = hs.remoteSettings;
    this.localSettings = localSettings;
    this.handshakeHash = hs.handshakeHash;
    const now = performance.now();
    const engine = options.aead ?? DEFAULT_AEAD_ENGINE;
    this.sealer = new RecordSealer(hs.sendKey, { afterRecords: options.rekeyAfterRecords, afterMs: options.rekeyAfterMs }, now, undefined, engine);
    this.opener = new RecordOpener(hs.receiveKey, undefined, { transient: true, engine });
    this.io = this.sealer.kernel.io;
    this.nextStreamId = role === 'initiator' ? 1 : 2;
    this.sendWindow = hs.remoteSettings.initialSessionWindow;
    this.recvWindow = localSettings.initialSessionWindow;
    this.lastReceived = now;
    this.release = trackResource('session');
    this.closedPromise = new Promise((r) => (this.resolveClosed = r));

    (socket as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
    socket.on('data', this.onData);
    socket.on('drain', this.onDrain);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
    const tick = Math.max(5, Math.min(options.keepaliveIntervalMs, options.keepaliveTimeoutMs) / 2);
    this.keepalive = setInterval(() => this.keepaliveTick(), tick);
    this.keepalive.unref();
    // A net.Socket hands over a fresh Buffer per read that nobody else holds: received
    // DATA is copied back into it (see onData_). Other Duplexes may pass on buffers
    // their writer reuses, so their DATA goes to a separate receive buffer.
    this.ownsChunks = socket instanceof Socket;
    if (hs.rest.length > 0) this.receive(hs.rest, false);
    socket.resume();
  }

  // ---------------------------------------------------------------- public API

  /** The peer's static public key in base64 (what `weft id` prints there). */
  get peerId(): string {
    return formatPublicKey(this.peerKey);
  }

  get closed(): boolean {
    return this.state === State.CLOSED;
  }

  /** New streams may be opened here (open, no GOAWAY either way). */
  get usable(): boolean {
    return this.state === State.OPEN && !this.goawaySent && !this.goawayReceived;
  }

  /** Streams open now (either direction). */
  get streamCount(): number {
    return this.streams.size;
  }

  /** (A getter, so that TypeScript does not narrow `state` across calls that may close the session.) */
  private get dead(): boolean {
    return this.state === State.CLOSED;
  }

  /**
   * Opens a stream to `service` on behalf of meshlet `source` (`<meshlet>.<ns>`).
   * Resolves once the peer accepts (or at once with { early: true }); rejects with
   * TunnelStreamError (the peer's RST: UNKNOWN_SERVICE, FORBIDDEN, UNAVAILABLE,
   * STREAM_REFUSED…), WEFT-T013 (session draining) or WEFT-T008 (session closed).
   */
  openStream(service: string, source: string, options: OpenStreamOptions = {}): Promise<TunnelStream> {
    if (!isServiceId(service)) return Promise.reject(new RangeError(`not a service ID: ${JSON.stringify(service)}`));
    if (sourceProblem(source)) return Promise.reject(new RangeError(`not a meshlet name <meshlet>.<ns>: ${JSON.stringify(source)}`));
    if (this.state === State.CLOSED) return Promise.reject(this.closedError('session is closed'));
    if (this.state === State.DRAINING || this.goawayReceived) return Promise.reject(new WeftError('WEFT-T013', 'session is draining (GOAWAY)'));
    if (this.nextStreamId > MAX_STREAM_ID) return Promise.reject(new WeftError('WEFT-T013', 'stream ids exhausted on this session'));
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const s = new TunnelStream(this, id, { service, source }, StreamFlag.LOCAL, this.peerSettings.initialStreamWindow, this.localSettings.initialStreamWindow, this.o.streamHighWaterMark);
    this.streams.set(id, s);
    this.counters.streamsOpened++;
    this.queueOpen(id, service, source);
    if (options.early || !(this.peerSettings.features & FEATURE_ACCEPT)) {
      s.flags |= StreamFlag.ACCEPTED;
      return Promise.resolve(s);
    }
    const signal = options.signal;
    if (!signal) return new Promise((resolve, reject) => (s.opened = { resolve, reject }));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (!s.opened) return;
        s.opened = null;
        s.destroy();
        reject(new TunnelStreamError(TunnelErrorCode.CANCEL, `stream ${id} cancelled before the peer accepted`, { stream: id, service }));
      };
      const done = () => signal.removeEventListener('abort', onAbort);
      s.opened = {
        resolve: (v) => (done(), resolve(v)),
        reject: (e) => (done(), reject(e)),
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Sends a PING and resolves with the round trip in milliseconds. */
  ping(): Promise<number> {
    if (this.state === State.CLOSED) return Promise.reject(this.closedError('session is closed'));
    const data = randomBytes(8);
    const key = data.toString('hex');
    return new Promise((resolve, reject) => {
      this.pings.set(key, { sent: performance.now(), resolve, reject });
      this.queueFrame(FrameType.PING, 0, 0, data);
    });
  }

  /**
   * Graceful close: GOAWAY(NO_ERROR), no new streams either way, open streams
   * finish, then the socket is ended. Resolves when the socket has closed.
   */
  close(): Promise<void> {
    if (this.state === State.OPEN) {
      this.state = State.DRAINING;
      if (!this.goawaySent) {
        this.goawaySent = true;
        this.queueGoaway(TunnelErrorCode.NO_ERROR);
      }
      this.maybeFinishDrain();
    }
    return this.closedPromise;
  }

  /** Immediate close: every open stream is destroyed with an error (WEFT-T008, or err's). */
  destroy(err?: Error): void {
    if (this.state === State.CLOSED) return;
    const e = err instanceof WeftError ? err : new WeftError('WEFT-T008', err ? err.message : 'session destroyed locally', { cause: err?.message });
    this.teardown(e, true);
  }

  /** Forces KEY_UPDATE on the next record sent (tests, operators). */
  rekeyNow(): void {
    this.sealer.requestRekey();
    this.queueFrame(FrameType.PING, 0, 0, ZERO8);
  }

  stats(): SessionStats {
    return {
      role: this.role,
      peerKey: this.peerId,
      peerAgentId: this.peerSettings.agentId,
      bytesSent: this.sealer.bytes,
      bytesReceived: this.opener.bytes,
      recordsSent: this.sealer.records,
      recordsReceived: this.opener.records,
      rekeysSent: this.sealer.rekeys,
      rekeysReceived: this.opener.rekeys,
      streamsOpened: this.counters.streamsOpened,
      streamsAccepted: this.counters.streamsAccepted,
      streamsRefused: this.counters.streamsRefused,
      streamsActive: this.streams.size,
      dataSent: this.counters.dataSent,
      dataReceived: this.counters.dataReceived,
      sendWindow: this.sendWindow,
      receiveWindow: this.recvWindow,
      rttMs: this.rttMs,
      state: this.state === State.OPEN ? 'open' : this.state === State.DRAINING ? 'draining' : 'closed',
    };
  }

  /** Resolves when the session has closed (either way). */
  whenClosed(): Promise<void> {
    return this.closedPromise;
  }

  // ------------------------------------------------------ stream callbacks

  /** @internal */
  _streamWrite(s: TunnelStream): void {
    if (!(s.flags & StreamFlag.LOCAL) && !(s.flags & StreamFlag.ACCEPTED)) this._streamAccept(s);
    this.pendingData += s.pending;
    if (s.sendWindow > 0) this.enqueue(s);
  }

  /** @internal */
  _streamEnd(s: TunnelStream): void {
    if (!(s.flags & StreamFlag.LOCAL) && !(s.flags & StreamFlag.ACCEPTED)) this._streamAccept(s);
    s.flags |= StreamFlag.LOCAL_FIN;
    this.queueFrame(FrameType.FIN, 0, s.id, EMPTY);
    const cb = s.finalCallback!;
    s.finalCallback = null;
    this.afterFlush.push(cb);
  }

  /** @internal */
  _streamRead(s: TunnelStream): void {
    this.credit(s);
  }

  /** @internal */
  _streamAccept(s: TunnelStream): void {
    if (s.flags & (StreamFlag.ACCEPTED | StreamFlag.REJECTED | StreamFlag.LOCAL | StreamFlag.RESET)) return;
    s.flags |= StreamFlag.ACCEPTED;
    this.counters.streamsAccepted++;
    if (this.peerSettings.features & FEATURE_ACCEPT) this.queueFrame(FRAME_ACCEPT, 0, s.id, EMPTY);
  }

  /** @internal */
  _streamReject(s: TunnelStream, code: number): void {
    if (s.flags & (StreamFlag.ACCEPTED | StreamFlag.REJECTED | StreamFlag.LOCAL | StreamFlag.RESET)) return;
    s.flags |= StreamFlag.REJECTED | StreamFlag.RESET;
    this.counters.streamsRefused++;
    this.queueRst(s.id, code);
    this.forget(s);
    s.destroy();
  }

  /** @internal */
  _streamDestroyed(s: TunnelStream, err: Error | null): void {
    this.forget(s);
    if (!(s.flags & StreamFlag.RESET)) {
      s.flags |= StreamFlag.RESET;
      // Not closed cleanly both ways: tell the peer.
      if (!((s.flags & StreamFlag.LOCAL_FIN) && (s.flags & StreamFlag.REMOTE_FIN)) && this.state !== State.CLOSED) {
        this.queueRst(s.id, err ? TunnelErrorCode.INTERNAL_ERROR : TunnelErrorCode.CANCEL);
      }
    }
    if (s.writeCallback) {
      s.chunks = null;
      const cb = s.writeCallback;
      s.writeCallback = null;
      cb(err ?? new WeftError('WEFT-T008', 'stream destroyed'));
    }
    if (s.opened) {
      const o = s.opened;
      s.opened = null;
      o.reject(err ?? new WeftError('WEFT-T008', 'stream destroyed before it was accepted'));
    }
  }

  // ------------------------------------------------------------ sending

  private enqueue(s: TunnelStream): void {
    if (s.flags & StreamFlag.QUEUED) return;
    s.flags |= StreamFlag.QUEUED;
    this.ready.push(s);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.state === State.CLOSED) return;
    this.flushScheduled = true;
    process.nextTick(this.flushBound);
  }

  /** Appends one control frame (header + payload) to the control queue. */
  private queueFrame(type: number, flags: number, id: number, payload: Uint8Array): void {
    if (this.state === State.CLOSED) return;
    const n = FRAME_HEADER_SIZE + payload.length;
    if (this.ctrlLen + n > this.ctrl.length) {
      if (this.ctrlLen + n > this.o.maxQueuedControlBytes) {
        this.fault(new SessionFault(null, 'WEFT-T014', `over ${this.o.maxQueuedControlBytes} bytes of control frames queued (peer not reading?)`));
        return;
      }
      const bigger = new Uint8Array(Math.min(this.o.maxQueuedControlBytes, Math.max(this.ctrl.length * 2, this.ctrlLen + n)));
      bigger.set(this.ctrl.subarray(0, this.ctrlLen));
      this.ctrl = bigger;
    }
    encodeFrameHeaderInto(this.ctrl, this.ctrlLen, type, flags, id, payload.length);
    this.ctrl.set(payload, this.ctrlLen + FRAME_HEADER_SIZE);
    this.ctrlLen += n;
    this.scheduleFlush();
  }

  private readonly u32 = new Uint8Array(8);
  private queueU32(type: number, id: number, a: number, b?: number): void {
    const v = this.u32;
    v[0] = a >>> 24; v[1] = a >>> 16; v[2] = a >>> 8; v[3] = a;
    if (b === undefined) return this.queueFrame(type, 0, id, v.subarray(0, 4));
    v[4] = b >>> 24; v[5] = b >>> 16; v[6] = b >>> 8; v[7] = b;
    this.queueFrame(type, 0, id, v);
  }
  private queueRst(id: number, code: number): void {
    this.queueU32(FrameType.RST, id, code);
  }
  private queueGoaway(code: number): void {
    this.queueU32(FrameType.GOAWAY, 0, this.lastPeerStreamId, code);
  }
  private queueOpen(id: number, service: string, source: string): void {
    const p = new Uint8Array(2 + service.length + source.length);
    p[0] = service.length;
    for (let i = 0; i < service.length; i++) p[1 + i] = service.charCodeAt(i);
    p[1 + service.length] = source.length;
    for (let i = 0; i < source.length; i++) p[2 + service.length + i] = source.charCodeAt(i);
    this.queueFrame(FrameType.OPEN, 0, id, p);
  }

  private readonly onDrain = () => {
    if (this.ready.length > 0 || this.ctrlLen > 0) this.scheduleFlush();
  };

  /**
   * Writes queued control frames, then DATA from ready streams (round robin, a
   * frame each per pass), into records sealed in the kernel's I/O region, and
   * makes one socket write.
   */
  private flush(): void {
    this.flushScheduled = false;
    if (this.state === State.CLOSED) return;
    const sock = this.socket;
    if (sock.writableLength > this.o.maxOutboundBuffered) {
      return this.fault(new SessionFault(null, 'WEFT-T014', `over ${this.o.maxOutboundBuffered} bytes unsent (peer not reading)`));
    }
    const dataAllowed = sock.writableLength < this.o.socketHighWater;
    const dataBudget = dataAllowed ? Math.min(this.pendingData, this.sendWindow, this.o.maxFlushBytes) : 0;
    if (this.ctrlLen === 0 && dataBudget === 0) return this.runAfterFlush();

    // Room: all control frames, the data budget with a header per frame, and per record its header and tag.
    const frames = this.ready.length + Math.ceil(dataBudget / this.peerSettings.maxFrameSize) + 1;
    const plain = this.ctrlLen + dataBudget + frames * FRAME_HEADER_SIZE;
    const records = Math.ceil(plain / (MAX_RECORD_PLAINTEXT - SESSION_DATA_MIN_FRAGMENT)) + 1;
    const need = plain + records * (RECORD_HEADER_SIZE + 16) + SESSION_DATA_MIN_FRAGMENT;
    // Outgoing buffers are reused once the socket has written them (no garbage per flush).
    const pooled = need <= this.wireSize ? this.wirePool.pop() : undefined;
    const wire = pooled ?? Buffer.allocUnsafe(need <= this.wireSize ? this.wireSize : need);
    const io = this.io;
    const now = performance.now();
    let pos = 0;
    let rec = 0;
    const closeRecord = () => {
      if (rec > 0) {
        pos += this.sealer.sealFromIo(rec, wire, pos, now);
        rec = 0;
      }
    };
    /** Makes room for n plaintext bytes in the current record (n ≤ a record); false if the buffer is full. */
    const room = (n: number): boolean => {
      if (rec + n > MAX_RECORD_PLAINTEXT) closeRecord();
      return pos + RECORD_HEADER_SIZE + rec + n + 16 <= wire.length;
    };

    // Control frames, whole, in order.
    let c = 0;
    while (c < this.ctrlLen) {
      const len = FRAME_HEADER_SIZE + ((this.ctrl[c + 6]! << 16) | (this.ctrl[c + 7]! << 8) | this.ctrl[c + 8]!);
      if (!room(len)) break;
      io.set(this.ctrl.subarray(c, c + len), rec);
      rec += len;
      c += len;
    }
    if (c < this.ctrlLen) this.ctrl.copyWithin(0, c, this.ctrlLen);
    this.ctrlLen -= c;

    // DATA, round robin.
    let budget = dataBudget;
    let list = this.ready;
    this.ready = [];
    const maxFrame = this.peerSettings.maxFrameSize;
    while (budget > 0 && list.length > 0 && this.sendWindow > 0) {
      const next: TunnelStream[] = [];
      let i = 0;
      for (; i < list.length; i++) {
        const s = list[i]!;
        if (s.pending === 0 || (s.flags & StreamFlag.RESET)) {
          s.flags &= ~StreamFlag.QUEUED;
          continue;
        }
        // A turn is up to STREAM_QUANTUM of this stream, in frames back to back: the
        // receiver then finds one run per stream in a read (one slice, one write on
        // its side) instead of a frame of each stream in turn.
        let quantum = STREAM_QUANTUM;
        let full = false;
        while (quantum > 0) {
          let want = Math.min(s.pending, s.sendWindow, this.sendWindow, maxFrame, budget, quantum);
          if (want <= 0) break;
          // Don't cut a frame into a sliver at the end of a record: start a new one.
          let fit = MAX_RECORD_PLAINTEXT - rec - FRAME_HEADER_SIZE;
          if (fit < Math.min(want, SESSION_DATA_MIN_FRAGMENT)) {
            closeRecord();
            fit = MAX_RECORD_PLAINTEXT - FRAME_HEADER_SIZE;
          }
          want = Math.min(want, fit);
          if (!room(FRAME_HEADER_SIZE + want)) {
            full = true;
            break;
          }
          encodeFrameHeaderInto(io, rec, FrameType.DATA, 0, s.id, want, maxFrame);
          rec += FRAME_HEADER_SIZE;
          this.copyOut(s, io, rec, want);
          rec += want;
          quantum -= want;
          budget -= want;
          s.sendWindow -= want;
          this.sendWindow -= want;
          this.pendingData -= want;
          this.counters.dataSent += want;
        }
        if (quantum === STREAM_QUANTUM) {
          // Nothing sent: no window (the stream waits for WINDOW_UPDATE), or the buffer is full.
          if (full) {
            budget = 0;
            break;
          }
          s.flags &= ~StreamFlag.QUEUED;
          continue;
        }
        if (full) budget = 0;
        if (s.pending === 0) {
          s.flags &= ~StreamFlag.QUEUED;
          const cb = s.writeCallback!;
          s.writeCallback = null;
          s.chunks = null;
          this.afterFlush.push(cb);
        } else if (s.sendWindow > 0) {
          next.push(s);
        } else {
          s.flags &= ~StreamFlag.QUEUED;
        }
        if (budget <= 0 || this.sendWindow <= 0) {
          i++;
          break;
        }
      }
      // Streams not reached this pass keep their turn ahead of the ones served.
      list = i < list.length ? list.slice(i).concat(next) : next;
    }
    // Whatever is left waits for the next flush (ahead of streams queued meanwhile).
    if (list.length > 0) this.ready = list.concat(this.ready);
    closeRecord();
    if (pos > 0) {
      if (wire.length === this.wireSize) sock.write(wire.subarray(0, pos), () => this.wirePool.length < WIRE_POOL && this.wirePool.push(wire));
      else sock.write(pos === wire.length ? wire : wire.subarray(0, pos));
    } else if (wire.length === this.wireSize && this.wirePool.length < WIRE_POOL) this.wirePool.push(wire);
    this.runAfterFlush();
    if (this.dead) return;
    if (this.ctrlLen > 0 || (this.ready.length > 0 && this.sendWindow > 0 && sock.writableLength < this.o.socketHighWater)) {
      // More to do: let I/O in first.
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flushBound);
      }
    }
    if (this.state === State.DRAINING) this.maybeFinishDrain();
  }

  /** Copies n bytes of s's pending chunks to out[at]. */
  private copyOut(s: TunnelStream, out: Uint8Array, at: number, n: number): void {
    const chunks = s.chunks!;
    while (n > 0) {
      const chunk = chunks[s.chunkIndex]!;
      const take = Math.min(n, chunk.length - s.chunkOffset);
      out.set(take === chunk.length ? chunk : chunk.subarray(s.chunkOffset, s.chunkOffset + take), at);
      at += take;
      n -= take;
      s.pending -= take;
      s.chunkOffset += take;
      if (s.chunkOffset === chunk.length) {
        s.chunkIndex++;
        s.chunkOffset = 0;
      }
    }
  }

  private runAfterFlush(): void {
    if (this.afterFlush.length === 0) return;
    const list = this.afterFlush;
    this.afterFlush = [];
    for (const cb of list) cb();
  }

  // ------------------------------------------------------------ receiving

  private inboxes: TunnelStream[] = [];
  /** Reusable outgoing buffers, each big enough for a flush of maxFlushBytes. */
  private readonly wirePool: Buffer[] = [];
  private get wireSize(): number {
    const frames = Math.ceil(this.o.maxFlushBytes / 512) + 64;
    return this.o.maxFlushBytes + 64 * 1024 + frames * FRAME_HEADER_SIZE + (Math.ceil(this.o.maxFlushBytes / 8192) + 8) * (RECORD_HEADER_SIZE + 16);
  }
  /** Where received DATA is copied out of kernel memory when the read chunk cannot take it (streams hold slices of it). */
  private rx = Buffer.allocUnsafe(0);
  private rxOff = 0;
  /** The socket's chunks are ours to overwrite (a net.Socket: a fresh Buffer per read). */
  private readonly ownsChunks: boolean;
  /** The chunk being fed when owned, and where the next DATA payload goes in it. */
  private rxChunk: Buffer | null = null;
  private rxCursor = 0;
  /** Offset in rxChunk just past the record being parsed (-1: it was not whole in the chunk). */
  private recordEnd = -1;

  private readonly onData = (chunk: Buffer) => this.receive(chunk, this.ownsChunks);

  private receive(chunk: Buffer, owned: boolean): void {
    if (this.state === State.CLOSED) return;
    this.lastReceived = performance.now();
    this.rxChunk = owned ? chunk : null;
    this.rxCursor = 0;
    const fed = this.opener.feed(chunk, this.onPlain);
    this.rxChunk = null;
    if (this.inboxes.length > 0) this.deliver();
    if (!fed) {
      if (this.dead) return;
      const e = this.opener.error;
      if (e === RecordError.AUTH_FAILED) {
        this.fault(new SessionFault(TunnelErrorCode.PROTOCOL_ERROR, 'WEFT-T005', `record ${this.opener.records} failed authentication (tampered, replayed or reordered)`, { record: this.opener.records }));
      } else if (e !== RecordError.NONE) {
        this.fault(new SessionFault(TunnelErrorCode.PROTOCOL_ERROR, 'WEFT-T006', `record ${this.opener.records}: ${RecordError[e]}`, { record: this.opener.records, reason: RecordError[e] }));
      }
    }
  };

  /** Parses the frames of one record's plaintext; false stops the opener (session closed). */
  private readonly onPlain = (plain: Buffer, recordEnd: number): boolean => {
    this.recordEnd = recordEnd;
    const end = plain.length;
    let p = 0;
    while (p < end) {
      if (this.dead) return false;
      if (this.fType < 0) {
        let h: Uint8Array;
        let at: number;
        if (this.fhHave === 0 && end - p >= FRAME_HEADER_SIZE) {
          h = plain;
          at = p;
          p += FRAME_HEADER_SIZE;
        } else {
          const take = Math.min(FRAME_HEADER_SIZE - this.fhHave, end - p);
          this.fh.set(plain.subarray(p, p + take), this.fhHave);
          this.fhHave += take;
          p += take;
          if (this.fhHave < FRAME_HEADER_SIZE) return true;
          this.fhHave = 0;
          h = this.fh;
          at = 0;
        }
        const type = h[at]!;
        const flags = h[at + 1]!;
        const id = ((h[at + 2]! << 24) | (h[at + 3]! << 16) | (h[at + 4]! << 8) | h[at + 5]!) >>> 0;
        const length = (h[at + 6]! << 16) | (h[at + 7]! << 8) | h[at + 8]!;
        const bad = frameHeaderError(type, flags, id, length, this.localSettings.maxFrameSize);
        if (bad !== FrameStatus.OK) {
          this.fault(new SessionFault(
            bad === FrameStatus.TOO_LARGE ? TunnelErrorCode.FRAME_SIZE_ERROR : TunnelErrorCode.PROTOCOL_ERROR,
            'WEFT-T007', `bad frame: ${FrameStatus[bad]}`, { type, flags, stream: id, length },
          ));
          return false;
        }
        if (type === FRAME_ACCEPT && (id === 0 || length !== 0)) {
          this.fault(new SessionFault(TunnelErrorCode.PROTOCOL_ERROR, 'WEFT-T007', 'bad ACCEPT frame', { stream: id, length }));
          return false;
        }
        this.fType = type;
        this.fFlags = flags;
        this.fStream = id;
        this.fLength = length;
        this.fRemaining = length;
        this.fPayloadHave = 0;
        if (length === 0) {
          this.fType = -1;
          this.onFrame(type, flags, id, EMPTY);
          continue;
        }
      }
      const take = Math.min(this.fRemaining, end - p);
      const type = this.fType;
      this.fRemaining -= take;
      if (type === FrameType.DATA) {
        const last = this.fRemaining === 0;
        if (last) this.fType = -1;
        this.onData_(this.fStream, plain.subarray(p, p + take), last && (this.fFlags & FrameFlag.FIN) !== 0);
      } else if (type < FIRST_EXTENSION_TYPE) {
        // Core control payloads are at most OPEN_MAX_PAYLOAD (the header check bounds them).
        this.fPayload.set(plain.subarray(p, p + take), this.fPayloadHave);
        this.fPayloadHave += take;
        if (this.fRemaining === 0) {
          this.fType = -1;
          this.onFrame(type, this.fFlags, this.fStream, this.fPayload.subarray(0, this.fLength));
        }
      } else if (this.fRemaining === 0) {
        // Unknown extension: skipped.
        this.fType = -1;
      }
      p += take;
    }
    return !this.dead;
  };

  /** A peer-initiated id has the peer's parity. */
  private isPeerId(id: number): boolean {
    return (id & 1) === (this.role === 'initiator' ? 0 : 1);
  }

  /** An id that was used on this session and is now closed (late frames for it are ignored). */
  private isClosedId(id: number): boolean {
    return this.isPeerId(id) ? id <= this.lastPeerStreamId : id < this.nextStreamId;
  }

  private onData_(id: number, piece: Buffer, fin: boolean): void {
    const n = piece.length;
    this.recvWindow -= n;
    if (this.recvWindow < 0) {
      return this.fault(new SessionFault(TunnelErrorCode.FLOW_CONTROL_ERROR, 'WEFT-T007', 'peer sent beyond the session window'));
    }
    this.counters.dataReceived += n;
    const s = this.streams.get(id);
    if (!s) {
      if (!this.isClosedId(id)) return this.fault(new SessionFault(TunnelErrorCode.PROTOCOL_ERROR, 'WEFT-T007', `DATA on stream ${id}, never opened`, { stream: id }));
      return this.creditSession(n);
    }
    if (s.flags & (StreamFlag.REMOTE_FIN | StreamFlag.RESET)) {
      this.creditSession(n);
      if (s.flags & StreamFlag.REMOTE_FIN) this.resetStream(s, TunnelErrorCode.PROTOCOL_ERROR, 'DATA after FIN');
      return;
    }
    s.recvWindow -= n;
    if (s.recvWindow < 0) {
      this.creditSession(n);
      return this.resetStream(s, TunnelErrorCode.FLOW_CONTROL_ERROR, 'peer sent beyond the stream window');
    }
    // The plaintext is a view of kernel memory: copy the payload out now. Into the
    // socket's read chunk when we own it and the record lay whole in it: its
    // ciphertext is spent, and payloads are packed from the chunk's start (each is
    // shorter than its record), so no receive buffer is allocated and one stream's
    // payloads of one read are contiguous. Otherwise into the receive buffer.
    // Pieces are held until the end of this socket read: one chunk per stream per
    // read, so a consumer makes one write (one syscall) for several records.
    let copy: Buffer;
    const rc = this.rxChunk;
    if (rc !== null && this.recordEnd >= 0 && this.rxCursor + n <= this.recordEnd) {
      rc.set(piece, this.rxCursor);
      copy = rc.subarray(this.rxCursor, this.rxCursor + n);
      this.rxCursor += n;
    } else {
      if (this.rxOff + n > this.rx.length) {
        this.rx = Buffer.allocUnsafe(Math.max(RX_BUFFER, n));
        this.rxOff = 0;
      }
      this.rx.set(piece, this.rxOff);
      copy = this.rx.subarray(this.rxOff, this.rxOff + n);
      this.rxOff += n;
    }
    if (s.inbox === null) {
      s.inbox = [copy];
      this.inboxes.push(s);
    } else {
      // Next to this stream's previous piece: one slice.
      const last = s.inbox[s.inbox.length - 1]!;
      if (last.buffer === copy.buffer && last.byteOffset + last.length === copy.byteOffset) {
        s.inbox[s.inbox.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + n);
      } else s.inbox.push(copy);
    }
    s.inboxBytes += n;
    if (fin) this.remoteFin(s);
  }

  private remoteFin(s: TunnelStream): void {
    if (s.flags & StreamFlag.REMOTE_FIN) return this.resetStream(s, TunnelErrorCode.PROTOCOL_ERROR, 'second FIN');
    s.flags |= StreamFlag.REMOTE_FIN;
    if (s.inbox !== null) s.finQueued = true;
    else s.push(null);
  }

  /** Hands each stream what arrived for it in this socket read, as one chunk, then credits the peer. */
  private deliver(): void {
    const list = this.inboxes;
    this.inboxes = [];
    for (const s of list) {
      const inbox = s.inbox;
      if (inbox === null) continue;
      const n = s.inboxBytes;
      s.inbox = null;
      s.inboxBytes = 0;
      if (s.destroyed || (s.flags & StreamFlag.RESET)) continue;
      s.pushed += n;
      let chunk = inbox.length === 1 ? inbox[0]! : Buffer.concat(inbox, n);
      // A small chunk must not keep a whole receive buffer alive while its reader stalls.
      if (chunk.length < chunk.buffer.byteLength >>> 3) chunk = Buffer.from(chunk);
      s.push(chunk);
      if (s.finQueued) {
        s.finQueued = false;
        s.push(null);
      }
      this.credit(s);
    }
  }

  /**
   * Gives back credit for what the app consumed on s: to the session at once (so
   * many small streams never starve it), to the stream in steps of a quarter window.
   */
  private credit(s: TunnelStream): void {
    if (s.flags & StreamFlag.RESET) return;
    const consumed = s.pushed - s.readableLength;
    if (consumed > s.sessionCredited) {
      const n = consumed - s.sessionCredited;
      s.sessionCredited = consumed;
      this.creditSession(n);
    }
    const n = consumed - s.credited;
    if (n >= this.localSettings.initialStreamWindow / 4 && !(s.flags & StreamFlag.REMOTE_FIN)) {
      s.credited = consumed;
      s.recvWindow += n;
      this.queueU32(FrameType.WINDOW_UPDATE, s.id, n);
    }
  }

  private creditSession(n: number): void {
    this.sessionCreditPending += n;
    if (this.sessionCreditPending >= this.localSettings.initialSessionWindow / 4) {
      const inc = this.sessionCreditPending;
      this.sessionCreditPending = 0;
      this.recvWindow += inc;
      this.queueU32(FrameType.WINDOW_UPDATE, 0, inc);
    }
  }

  private onFrame(type: number, _flags: number, id: number, p: Uint8Array): void {
    switch (type) {
      case FrameType.DATA: // empty DATA is refused by the header check; a FIN-only DATA cannot occur
        return;
      case FrameType.OPEN:
        return this.onOpen(id, p);
      case FrameType.WINDOW_UPDATE: {
        const v = ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
        if (v > MAX_WINDOW || v === 0) return this.fault(new SessionFault(TunnelErrorCode.PROTOCOL_ERROR, 'WEFT-T007', `bad WINDOW_UPDATE increment ${v}`));
        if (id === 0) {
          this.sendWindow += v;
          if (this.sendWindow > MAX_WINDOW) return this.fault(new SessionFault(TunnelErrorCode.FLOW_CONTROL_ERROR, 'WEFT-T007', 'session window over 2^31-1'));
          if (this.ready.length > 0) this.scheduleFlush();
          return;
        }
        const s = this.streams.get(id);
        if (!s) {
          if (!this.isClosedId(id)) return this.fault(new SessionFault(TunnelErrorCode.PROTOCOL_ERROR, 'WEFT-T007', `WINDOW_UPDATE on stream ${id}, never opened`));
          return;
        }
        s.sendWindow += v;
        if (s.sendWindow > MAX_WINDOW) return this.resetStream(s, TunnelErrorCode.FLOW_CONTROL_ERROR, 'stream window over 2^31-1');
        if (s.pending > 0) this.enqueue(s);
        return;
      }
      case FrameType.FIN: {
        const s = this.streams.get(id);
        if (!s) {
          if (!this.isClosedId(id)) this.fault(new SessionFault(TunnelErrorCode.PROTOCOL_ERROR, 'WEFT-T007', `FIN on stream ${id}, never opened`));
          return;
        }
        return this.remoteFin(s);
      }
      case FrameType.RST: {
        const code = ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
        const s = this.streams.get(id);
        if (!s) {
          if (!this.isClosedId(id)) this.fault(new SessionFault(TunnelErrorCode.PROTOCOL_ERROR, 'WEFT-T007', `RST on stream ${id}, never opened`));
          return;
        }
        s.flags |= StreamFlag.RESET;
        const err = new TunnelStreamError(code, `stream ${id} reset by the peer`, { stream: id, service: s.service });
        if (s.opened) {
          // openStream() has not resolved: the caller learns it from the rejection.
          const o = s.opened;
          s.opened = null;
          this.forget(s);
          s.destroy();
          o.reject(err);
          return;
        }
        s.destroy(err);
        return;
      }
      case FrameType.PING:
        return this.queueFrame(FrameType.PONG, 0, 0, p);
      case FrameType.PONG: {
        const key = Buffer.from(p).toString('hex');
        const w = this.pings.get(key);
        if (w) {
          this.pings.delete(key);
          this.rttMs = performance.now() - w.sent;
          w.resolve(this.rttMs);
        }
        if (key === this.keepalivePing) this.keepalivePing = null;
        return;
      }
      case FrameType.GOAWAY:
        return this.onGoaway(p);
      case FRAME_ACCEPT: {
        const s = this.streams.get(id);
        if (!s || !s.local) {
          if (!this.isClosedId(id)) this.fault(new SessionFault(TunnelErrorCode.PROTOCOL_ERROR, 'WEFT-T007', `ACCEPT for stream ${id} we did not open`));
          return;
        }
        s.flags |= StreamFlag.ACCEPTED;
        if (s.opened) {
          const o = s.opened;
          s.opened = null;
          o.resolve(s);
        }
        return;
      }
    }
  }

  private onOpen(id: number, p: Uint8Array): void {
    if (!this.isPeerId(id) || id <= this.lastPeerStreamId) {
      return this.fault(new SessionFault(TunnelErrorCode.PROTOCOL_ERROR, 'WEFT-T007', `OPEN with stream id ${id} (not new, or not the peer's parity)`));
    }
    this.lastPeerStreamId = id;
    const n = p[0]!;
    const m = 1 + n < p.length ? p[1 + n]! : -1;
    const latin1 = (a: number, b: number) => Buffer.from(p.buffer, p.byteOffset + a, b - a).toString('latin1');
    const service = m >= 0 ? latin1(1, 1 + n) : '';
    const source = m >= 0 && 2 + n + m === p.length ? latin1(2 + n, 2 + n + m) : '';
    if (m < 0 || 2 + n + m !== p.length || !isServiceId(service) || sourceProblem(source)) {
      this.counters.streamsRefused++;
      return this.queueRst(id, TunnelErrorCode.PROTOCOL_ERROR);
    }
    if (this.state !== State.OPEN || this.goawaySent || this.streams.size >= this.o.maxStreams) {
      this.counters.streamsRefused++;
      return this.queueRst(id, TunnelErrorCode.STREAM_REFUSED);
    }
    const info: StreamInfo = { service, source };
    const s = new TunnelStream(this, id, info, 0, this.peerSettings.initialStreamWindow, this.localSettings.initialStreamWindow, this.o.streamHighWaterMark);
    this.streams.set(id, s);
    const handler = this.o.onStream;
    if (!handler && this.listenerCount('stream') === 0) return this._streamReject(s, TunnelErrorCode.STREAM_REFUSED);
    try {
      const r = handler ? handler(s, info) : (this.emit('stream', s, info), undefined);
      if (r && typeof (r as Promise<void>).then === 'function') {
        (r as Promise<void>).then(() => this._streamAccept(s), () => this._streamReject(s, TunnelErrorCode.INTERNAL_ERROR));
      } else {
        this._streamAccept(s);
      }
    } catch {
      this._streamReject(s, TunnelErrorCode.INTERNAL_ERROR);
    }
  }

  private onGoaway(p: Uint8Array): void {
    const last = ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
    const code = ((p[4]! << 24) | (p[5]! << 16) | (p[6]! << 8) | p[7]!) >>> 0;
    this.goawayReceived = true;
    this.peerLastStreamId = Math.min(this.peerLastStreamId, last);
    // Our streams the peer never processed: refused, safe to retry elsewhere.
    for (const s of [...this.streams.values()]) {
      if (s.local && s.id > this.peerLastStreamId) {
        s.flags |= StreamFlag.RESET;
        const err = new TunnelStreamError(TunnelErrorCode.STREAM_REFUSED, `stream ${s.id} not processed by the peer (GOAWAY)`, { stream: s.id });
        if (s.opened) {
          const o = s.opened;
          s.opened = null;
          this.forget(s);
          s.destroy();
          o.reject(err);
        } else {
          s.destroy(err);
        }
      }
    }
    if (code !== TunnelErrorCode.NO_ERROR) {
      this.error = new WeftError('WEFT-T008', `peer sent GOAWAY ${rstCodeName(code)}`, { goaway: rstCodeName(code) });
    }
    if (this.state === State.OPEN) this.state = State.DRAINING;
    this.maybeFinishDrain();
  }

  // ------------------------------------------------------------ stream lifecycle

  private resetStream(s: TunnelStream, code: number, why: string): void {
    if (!(s.flags & StreamFlag.RESET)) {
      s.flags |= StreamFlag.RESET;
      this.queueRst(s.id, code);
    }
    s.destroy(new TunnelStreamError(code, `${why} (stream ${s.id})`, { stream: s.id, local: true }));
  }

  /**
   * Removes a stream from the session (it was destroyed: ended both ways and
   * consumed, reset, or refused). Whatever of its bytes the session window has
   * not had back yet is credited now, exactly once.
   */
  private forget(s: TunnelStream): void {
    if (this.streams.get(s.id) !== s) return;
    this.streams.delete(s.id);
    if (s.inbox !== null) {
      // Received but never delivered: the session window gets it back below.
      s.pushed += s.inboxBytes;
      s.inbox = null;
      s.inboxBytes = 0;
    }
    if (s.pushed > s.sessionCredited) {
      const n = s.pushed - s.sessionCredited;
      s.sessionCredited = s.pushed;
      this.creditSession(n);
    }
    this.pendingData -= s.pending;
    s.pending = 0;
    if (this.state === State.DRAINING) this.maybeFinishDrain();
  }

  private maybeFinishDrain(): void {
    if (this.state !== State.DRAINING || this.streams.size > 0) return;
    if (this.flushScheduled || this.ctrlLen > 0) return this.scheduleFlush(); // flush() calls back here
    this.state = State.CLOSED;
    this.teardown(this.error, false);
  }

  // ------------------------------------------------------------ faults, keepalive, teardown

  private closedError(why: string): WeftError {
    return this.error ?? new WeftError('WEFT-T008', why);
  }

  /** A session-fatal error: GOAWAY to the peer when there is something to say, then close. */
  private fault(f: SessionFault): void {
    if (this.state === State.CLOSED) return;
    const err = new WeftError(f.code, f.message, { ...f.details, peer: this.peerId });
    if (f.goaway !== null && !this.goawaySent) {
      this.goawaySent = true;
      this.queueGoaway(f.goaway);
      this.flushScheduled = false;
      this.flush();
    }
    this.teardown(err, f.goaway === null);
  }

  private keepaliveTick(): void {
    if (this.state === State.CLOSED) return;
    const now = performance.now();
    if (this.keepalivePing !== null) {
      if (now - this.lastReceived >= this.o.keepaliveTimeoutMs) {
        this.fault(new SessionFault(null, 'WEFT-T010', `no reply from the peer for ${Math.round(now - this.lastReceived)} ms`));
      }
      return;
    }
    if (now - this.lastReceived >= this.o.keepaliveIntervalMs) {
      const data = randomBytes(8);
      this.keepalivePing = data.toString('hex');
      this.pings.set(this.keepalivePing, { sent: now, resolve: () => {}, reject: () => {} });
      this.lastReceived = now;
      this.queueFrame(FrameType.PING, 0, 0, data);
    }
  }

  /**
   * Ends the session: every stream still open is destroyed with an error (a
   * reset, never a clean end), pending opens and pings are rejected, timers
   * cleared; the socket is ended after what was flushed (or destroyed at once).
   */
  private teardown(err: WeftError | null, hard: boolean): void {
    this.state = State.CLOSED;
    if (err && !this.error) this.error = err;
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = null;
    const why = this.error ? `${this.error.code}: ${this.error.message.slice(this.error.code.length + 1)}` : 'closed';
    const streamErr = () => new WeftError('WEFT-T008', `stream reset: ${why}`, { cause: this.error?.code ?? null });
    for (const s of [...this.streams.values()]) {
      this.streams.delete(s.id);
      s.flags |= StreamFlag.RESET;
      if (s.opened) {
        const o = s.opened;
        s.opened = null;
        s.destroy();
        o.reject(streamErr());
      } else {
        s.destroy(streamErr());
      }
    }
    for (const w of this.pings.values()) w.reject(streamErr());
    this.pings.clear();
    this.ready = [];
    this.runAfterFlush();
    const sock = this.socket;
    sock.off('data', this.onData);
    sock.off('drain', this.onDrain);
    sock.on('error', () => {});
    if (hard || sock.destroyed) {
      sock.destroy();
    } else {
      const linger = setTimeout(() => sock.destroy(), this.o.lingerMs);
      linger.unref();
      sock.once('close', () => clearTimeout(linger));
      sock.end();
    }
    this.release();
    if (sock.destroyed) this.finishClose();
  }

  private closeEmitted = false;
  private finishClose(): void {
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    this.resolveClosed();
    process.nextTick(() => this.emit('close', this.error));
  }

  private readonly onEnd = () => {
    if (this.state === State.CLOSED) return;
    if (this.state === State.DRAINING && this.streams.size === 0) return this.teardown(this.error, false);
    this.teardown(new WeftError('WEFT-T008', 'peer closed the connection'), false);
  };

  private readonly onClose = () => {
    if (this.state !== State.CLOSED) this.teardown(new WeftError('WEFT-T008', 'connection closed'), true);
    this.finishClose();
  };

  private readonly onError = (e: Error) => {
    if (this.state !== State.CLOSED) this.teardown(new WeftError('WEFT-T008', `socket error: ${e.message}`, { cause: (e as NodeJS.ErrnoException).code }), true);
  };
}
