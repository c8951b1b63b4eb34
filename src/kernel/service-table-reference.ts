// The service table's semantics in plain TypeScript (a JS Map and arrays): the reference
// that property tests run side by side with the kernel. Same API and same observable
// results as ServiceTable: route indices (a LIFO stack of free indices), errors (the same
// WeftError codes for the same limits, counting arena bytes the way the kernel's
// compacting arenas do), weighted picks and Maglev tables.
import { WeftError } from '../errors.js';
import {
  SERVICE_TABLE_LIMITS as L,
  MAGLEV_TABLE_SIZES,
  defaultMaglevSize,
  type ServiceId,
  type ServiceTableOptions,
} from './service-table.js';
import { maglevPopulate } from './maglev-reference.js';

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;
const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;
const mul = (a: number, b: number) => Math.imul(a, b) >>> 0;
const u32le = (b: Uint8Array, p: number) => (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;

/** XXH32 (xxhash_spec.md), the hash of the kernel's lib/table_hash.ts. */
export function xxh32(data: Uint8Array, seed = 0): number {
  const len = data.length;
  let p = 0;
  let h: number;
  if (len >= 16) {
    let v1 = (seed + P1 + P2) >>> 0;
    let v2 = (seed + P2) >>> 0;
    let v3 = seed >>> 0;
    let v4 = (seed - P1) >>> 0;
    const round = (acc: number, lane: number) => mul(rotl((acc + mul(lane, P2)) >>> 0, 13), P1);
    for (; p + 16 <= len; p += 16) {
      v1 = round(v1, u32le(data, p));
      v2 = round(v2, u32le(data, p + 4));
      v3 = round(v3, u32le(data, p + 8));
      v4 = round(v4, u32le(data, p + 12));
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) >>> 0;
  } else {
    h = (seed + P5) >>> 0;
  }
  h = (h + len) >>> 0;
  for (; p + 4 <= len; p += 4) h = mul(rotl((h + mul(u32le(data, p), P3)) >>> 0, 17), P4);
  for (; p < len; p++) h = mul(rotl((h + mul(data[p]!, P5)) >>> 0, 11), P1);
  h = mul(h ^ (h >>> 15), P2);
  h = mul(h ^ (h >>> 13), P3);
  return (h ^ (h >>> 16)) >>> 0;
}

const M64 = (1n << 64n) - 1n;
const K1 = 0x9e3779b97f4a7c15n;
const K2 = 0xbf58476d1ce4e5b9n;

/** The kernel's slot hash of service IDs (lib/table_hash.ts keyHash), in BigInt arithmetic. */
export function keyHash(data: Uint8Array, seed = 0): number {
  let h = (BigInt(seed >>> 0) << 32n) ^ BigInt(data.length) ^ K2;
  for (let p = 0; p < data.length; p += 8) {
    let w = 0n;
    for (let i = Math.min(7, data.length - p - 1); i >= 0; i--) w = (w << 8n) | BigInt(data[p + i]!);
    h = ((h ^ w) * K1) & M64;
    h ^= h >> 32n;
  }
  h = ((h ^ (h >> 29n)) * K2) & M64;
  h ^= h >> 32n;
  return Number(h & 0xffffffffn);
}

/** Bytes a compacting-arena record with this payload takes (8-byte header, payload padded to 8). */
const recordBytes = (payload: number) => 8 + Math.ceil(payload / 8) * 8;

interface Route {
  index: number;
  keyLen: number;
  weights: number[];
  /** prefix[i] = weights[0] + ... + weights[i]. */
  prefix: bigint[];
  maglev: { names: Uint8Array[]; m: number; table: Int32Array } | null;
}

const utf8 = new TextEncoder();
const toBytes = (id: ServiceId) => (typeof id === 'string' ? utf8.encode(id) : id);
const keyOf = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');

export class ServiceTableReference {
  readonly capacity: number;
  private readonly routes = new Map<string, Route>();
  private readonly free: number[] = [];
  private keyBytes = 0;
  private endpointBytes = 0;
  private maglevBytes = 0;

  constructor(options: ServiceTableOptions = {}) {
    const capacity = options.capacity ?? L.maxServices;
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > L.maxServices) throw new WeftError('WEFT-K003', `capacity ${capacity}`);
    this.capacity = capacity;
    this.clear();
  }

  clear(): void {
    this.routes.clear();
    this.free.length = 0;
    for (let i = this.capacity - 1; i >= 0; i--) this.free.push(i);
    this.keyBytes = this.endpointBytes = this.maglevBytes = 0;
  }

  get size(): number {
    return this.routes.size;
  }

  private lookup(id: ServiceId): Route | undefined {
    const b = toBytes(id);
    if (b.length === 0 || b.length > L.maxIdBytes) return undefined;
    return this.routes.get(keyOf(b));
  }

  set(serviceId: ServiceId, weights: ArrayLike<number>): number {
    const n = weights.length;
    if (n > L.maxEndpointsPerService) throw new WeftError('WEFT-K003', 'too many endpoints');
    const w: number[] = [];
    for (let i = 0; i < n; i++) {
      const x = weights[i]!;
      if (!(x >= 0 && x <= 0xffffffff && Number.isInteger(x))) throw new WeftError('WEFT-K003', 'bad weight');
      w.push(x);
    }
    const b = toBytes(serviceId);
    if (b.length === 0 || b.length > L.maxIdBytes) throw new WeftError('WEFT-K003', 'bad service ID');
    const epBytes = n > 0 ? recordBytes(n * 8) : 0;
    const prefix: bigint[] = [];
    let sum = 0n;
    for (const x of w) prefix.push((sum += BigInt(x)));
    const key = keyOf(b);
    const old = this.routes.get(key);
    if (old) {
      const oldBytes = old.weights.length > 0 ? recordBytes(old.weights.length * 8) : 0;
      if (this.endpointBytes - oldBytes + epBytes > L.endpointArenaBytes) throw new WeftError('WEFT-K005', 'endpoints', { resource: 'endpoints' });
      this.endpointBytes += epBytes - oldBytes;
      const sameCount = old.weights.length === n;
      old.weights = w;
      old.prefix = prefix;
      if (old.maglev) {
        if (sameCount) old.maglev.table = maglevPopulate(old.maglev.names, old.maglev.m, (i) => w[i]! > 0);
        else {
          this.maglevBytes -= recordBytes(old.maglev.names.length * 8 + old.maglev.m * 2);
          old.maglev = null;
        }
      }
      return old.index;
    }
    if (this.routes.size >= this.capacity) throw new WeftError('WEFT-K005', 'services', { resource: 'services' });
    if (this.keyBytes + recordBytes(b.length) > L.keyArenaBytes) throw new WeftError('WEFT-K005', 'keys', { resource: 'keys' });
    if (this.endpointBytes + epBytes > L.endpointArenaBytes) throw new WeftError('WEFT-K005', 'endpoints', { resource: 'endpoints' });
    this.keyBytes += recordBytes(b.length);
    this.endpointBytes += epBytes;
    const index = this.free.pop()!;
    this.routes.set(key, { index, keyLen: b.length, weights: w, prefix, maglev: null });
    return index;
  }

  delete(serviceId: ServiceId): boolean {
    const r = this.lookup(serviceId);
    if (!r) return false;
    this.routes.delete(keyOf(toBytes(serviceId)));
    this.keyBytes -= recordBytes(r.keyLen);
    if (r.weights.length > 0) this.endpointBytes -= recordBytes(r.weights.length * 8);
    if (r.maglev) this.maglevBytes -= recordBytes(r.maglev.names.length * 8 + r.maglev.m * 2);
    this.free.push(r.index);
    return true;
  }

  find(serviceId: ServiceId): number {
    return this.lookup(serviceId)?.index ?? -1;
  }

  /** target = floor(random x total / 2^32); the first endpoint whose prefix sum exceeds it (linear scan). */
  pick(serviceId: ServiceId, random: number): number {
    const r = this.lookup(serviceId);
    if (!r || r.prefix.length === 0) return -1;
    const total = r.prefix[r.prefix.length - 1]!;
    if (total === 0n) return -1;
    const target = (BigInt(random >>> 0) * total) >> 32n;
    return r.prefix.findIndex((p) => p > target);
  }

  endpointCount(serviceId: ServiceId): number {
    return this.lookup(serviceId)?.weights.length ?? -1;
  }

  setMaglev(serviceId: ServiceId, endpointNames: string[], tableSize?: number): void {
    const r = this.lookup(serviceId);
    if (!r) throw new WeftError('WEFT-K003', 'setMaglev: unknown service');
    const n = endpointNames.length;
    if (n !== r.weights.length) throw new WeftError('WEFT-K003', 'setMaglev: name count');
    const m = tableSize ?? defaultMaglevSize(n);
    if (!(MAGLEV_TABLE_SIZES as readonly number[]).includes(m)) throw new WeftError('WEFT-K003', 'setMaglev: table size');
    const names = endpointNames.map((s) => utf8.encode(s));
    if (names.some((b) => b.length > L.maxEndpointNameBytes)) throw new WeftError('WEFT-K003', 'setMaglev: name too long');
    const oldBytes = r.maglev ? recordBytes(r.maglev.names.length * 8 + r.maglev.m * 2) : 0;
    const bytes = recordBytes(n * 8 + m * 2);
    if (this.maglevBytes - oldBytes + bytes > L.maglevArenaBytes) throw new WeftError('WEFT-K005', 'maglev', { resource: 'maglev' });
    this.maglevBytes += bytes - oldBytes;
    r.maglev = { names, m, table: maglevPopulate(names, m, (i) => r.weights[i]! > 0) };
  }

  pickConsistent(serviceId: ServiceId, keyHash: number): number {
    const mg = this.lookup(serviceId)?.maglev;
    return mg ? mg.table[(keyHash >>> 0) % mg.m]! : -1;
  }

  maglevTable(serviceId: ServiceId): Int32Array | null {
    const mg = this.lookup(serviceId)?.maglev;
    return mg ? mg.table.slice() : null;
  }

  /** Same record format and stopping rules as ServiceTable.findBatchInto. */
  findBatchInto(ids: Uint8Array, out: Int32Array): number {
    let p = 0;
    let n = 0;
    while (p < ids.length && n < out.length) {
      const len = ids[p]!;
      if (p + 1 + len > ids.length) break;
      out[n++] = len === 0 ? -1 : this.find(ids.subarray(p + 1, p + 1 + len));
      p += 1 + len;
    }
    return n;
  }
}
