// TEMPORARY plain-TypeScript stand-in for the handshake and service-table kernels
// (src/kernel/handshake.ts, src/kernel/service-table.ts) until they are merged.
// Same API as /work/notes/api-handshake.md and api-table.md. Delete once they land.

export const HANDSHAKE_VERSION = 1;
export const MAX_SERVICE_ID_LENGTH = 255;
export enum ReplyCode {
  OK = 0,
  UNSUPPORTED_VERSION = 1,
  MALFORMED = 2,
  UNKNOWN_SERVICE = 3,
  FORBIDDEN = 4,
  UNAVAILABLE = 5,
  TUNNEL_FAILED = 6,
  OVERLOADED = 7,
  INTERNAL = 255,
}
export const NEED_MORE = -1;

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function parseServiceId(id: string): { service: string; meshlet: string; namespace: string } | null {
  if (id.length === 0 || id.length > MAX_SERVICE_ID_LENGTH) return null;
  const parts = id.split('.');
  if (parts.length !== 3 || !parts.every((p) => LABEL.test(p))) return null;
  return { service: parts[0]!, meshlet: parts[1]!, namespace: parts[2]! };
}

export class HandshakeParser {
  #state = 0; // 0 version, 1 length, 2 id bytes, 3 final
  #len = 0;
  #id = new Uint8Array(255);
  #have = 0;
  #result = NEED_MORE;
  #serviceId = '';
  #rest: Uint8Array = new Uint8Array(0);

  constructor(_kernel?: unknown) {}

  push(chunk: Uint8Array): number {
    if (this.#state === 3) return this.#result;
    let i = 0;
    while (i < chunk.length) {
      const b = chunk[i++]!;
      if (this.#state === 0) {
        if (b !== HANDSHAKE_VERSION) return this.#final(ReplyCode.UNSUPPORTED_VERSION, chunk, i);
        this.#state = 1;
      } else if (this.#state === 1) {
        if (b === 0) return this.#final(ReplyCode.MALFORMED, chunk, i);
        this.#len = b;
        this.#state = 2;
      } else {
        this.#id[this.#have++] = b;
        if (this.#have === this.#len) {
          const id = String.fromCharCode(...this.#id.subarray(0, this.#len));
          if (!parseServiceId(id)) return this.#final(ReplyCode.MALFORMED, chunk, i);
          this.#serviceId = id;
          return this.#final(ReplyCode.OK, chunk, i);
        }
      }
    }
    return NEED_MORE;
  }

  #final(code: number, chunk: Uint8Array, at: number): number {
    this.#state = 3;
    this.#result = code;
    this.#rest = chunk.subarray(at);
    return code;
  }

  get serviceId(): string {
    return this.#serviceId;
  }
  get rest(): Uint8Array {
    return this.#rest;
  }
  reset(): void {
    this.#state = 0;
    this.#len = 0;
    this.#have = 0;
    this.#result = NEED_MORE;
    this.#serviceId = '';
    this.#rest = new Uint8Array(0);
  }
}

export function encodeRequest(serviceId: string): Uint8Array {
  const out = new Uint8Array(2 + serviceId.length);
  out[0] = HANDSHAKE_VERSION;
  out[1] = serviceId.length;
  for (let i = 0; i < serviceId.length; i++) out[2 + i] = serviceId.charCodeAt(i);
  return out;
}

export function encodeReply(code: ReplyCode): Uint8Array {
  return Uint8Array.of(HANDSHAKE_VERSION, code);
}

export interface ServiceTableOptions {
  capacity?: number;
}

export class ServiceTable {
  #routes = new Map<string, { index: number; weights: number[] }>();
  #next = 0;
  #capacity: number;
  constructor(options: ServiceTableOptions = {}) {
    this.#capacity = options.capacity ?? 4096;
  }
  #key(id: string | Uint8Array): string {
    return typeof id === 'string' ? id : String.fromCharCode(...id);
  }
  set(serviceId: string | Uint8Array, weights: ArrayLike<number>): number {
    const key = this.#key(serviceId);
    const existing = this.#routes.get(key);
    if (!existing && this.#routes.size >= this.#capacity) throw new Error('WEFT-K005 service table full');
    const index = existing?.index ?? this.#next++;
    this.#routes.set(key, { index, weights: Array.from(weights) });
    return index;
  }
  delete(serviceId: string | Uint8Array): boolean {
    return this.#routes.delete(this.#key(serviceId));
  }
  find(serviceId: string | Uint8Array): number {
    return this.#routes.get(this.#key(serviceId))?.index ?? -1;
  }
  get size(): number {
    return this.#routes.size;
  }
  pick(serviceId: string | Uint8Array, random: number): number {
    const route = this.#routes.get(this.#key(serviceId));
    if (!route) return -1;
    let total = 0;
    for (const w of route.weights) total += w;
    if (total === 0) return -1;
    let r = (random >>> 0) % total;
    for (let i = 0; i < route.weights.length; i++) {
      if (r < route.weights[i]!) return i;
      r -= route.weights[i]!;
    }
    return -1;
  }
  clear(): void {
    this.#routes.clear();
  }
}
