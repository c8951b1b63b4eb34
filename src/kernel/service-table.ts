// ServiceTable: the service table kernel (assembly/service_table.ts) behind a typed API.
//
// Every ServiceTable gets its own WebAssembly.Instance of a module compiled once per
// thread and variant: a table's state is the instance's globals and static memory, so
// two tables cannot interfere (one filling up or clear() never touches another) and the
// kernel needs no table handle on its hot path. The price is the kernel's fixed memory
// per table (8.2 MiB of address space, mostly untouched until used); an agent keeps
// one or two tables. Views over that memory are made once (memory never grows), and
// find/pick encode the ID straight into kernel memory: no allocation per call.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { kernelPath, preferredVariant, simdSupported, type KernelVariant } from './load.js';
import { WeftError } from '../errors.js';

/** Fixed limits of one table (assembly/service_table.ts documents why these sizes). */
export const SERVICE_TABLE_LIMITS = {
  maxServices: 16384,
  maxIdBytes: 255,
  maxEndpointsPerService: 65535,
  /** Endpoint prefix sums: 65,536 endpoints x 8 bytes plus an 8-byte header per service. */
  endpointArenaBytes: 65536 * 8 + 16384 * 8,
  /** Service ID records: 8-byte header + ID padded to 8 bytes. */
  keyArenaBytes: 1 << 20,
  /** Maglev records: 8-byte header + 8 bytes per endpoint + 2 bytes per entry, padded to 8. */
  maglevArenaBytes: 4 << 20,
  maxEndpointNameBytes: 255,
} as const;

/** Maglev table sizes M a caller may choose: primes, so every skip gives a full permutation. */
export const MAGLEV_TABLE_SIZES = [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 65537] as const;

/** Hash seeds of endpoint names for Maglev offset and skip (XXH32). */
export const MAGLEV_OFFSET_SEED = 0x6d676c31;
export const MAGLEV_SKIP_SEED = 0x6d676c32;

/**
 * Default Maglev table size for n endpoints: the smallest allowed M >= 100 n (the paper
 * keeps M > 100 N so entry counts differ by at most ~1%), else the largest, 65537.
 */
export function defaultMaglevSize(endpoints: number): number {
  for (const m of MAGLEV_TABLE_SIZES) if (m >= 100 * endpoints) return m;
  return 65537;
}

export interface ServiceTableOptions {
  /** Maximum number of services, 1..16384 (default 16384); the hash table has the next power of two >= 2 x capacity slots. */
  capacity?: number;
  /** Kernel build to run (default: preferredVariant()). */
  variant?: KernelVariant;
  /** Seed of the slot hash (default: random per table, so probe chains cannot be precomputed). */
  hashSeed?: number;
}

export type ServiceId = string | Uint8Array;

interface TableExports {
  memory: WebAssembly.Memory;
  key_io(): number;
  weights_io(): number;
  names_io(): number;
  names_io_bytes(): number;
  batch_in(): number;
  batch_in_bytes(): number;
  batch_out(): number;
  batch_out_max(): number;
  init(capacity: number, seed: number): number;
  count(): number;
  slot_count(): number;
  set(keyLen: number, n: number): number;
  remove(keyLen: number): number;
  find(keyLen: number): number;
  find_batch(inLen: number, maxOut: number): number;
  batch_consumed(): number;
  route_endpoints(route: number): number;
  route_maglev_size(route: number): number;
  pick(keyLen: number, random: number): number;
  pick_route(route: number, random: number): number;
  maglev_stage(start: number, n: number, bytes: number): number;
  maglev_set(route: number, n: number, m: number): number;
  pick_consistent(keyLen: number, keyHash: number): number;
  pick_consistent_route(route: number, keyHash: number): number;
  maglev_entries(route: number, from: number): number;
  hash_key_io(len: number, seed: number): number;
  key_hash_io(len: number, seed: number): number;
}

// Kernel return codes (assembly/service_table.ts ERR_*).
const ERR_FULL = -1;
const ERR_KEYS_FULL = -2;
const ERR_ENDPOINTS_FULL = -3;
const ERR_MAGLEV_FULL = -4;

const modules = new Map<KernelVariant, WebAssembly.Module>();

function compiledModule(variant: KernelVariant): WebAssembly.Module {
  let module = modules.get(variant);
  if (!module) {
    if (variant === 'simd' && !simdSupported()) throw new WeftError('WEFT-K001', 'this engine has no WebAssembly SIMD', { kernel: 'service_table' });
    try {
      module = new WebAssembly.Module(readFileSync(kernelPath('service_table', variant)));
    } catch (err) {
      throw new WeftError('WEFT-K001', String(err), { kernel: 'service_table', variant });
    }
    modules.set(variant, module);
  }
  return module;
}

/** Throws the WeftError for a kernel error code from set/setMaglev. */
function fail(code: number, what: string): never {
  switch (code) {
    case ERR_FULL:
      throw new WeftError('WEFT-K005', `${what}: no free service slot`, { resource: 'services' });
    case ERR_KEYS_FULL:
      throw new WeftError('WEFT-K005', `${what}: service ID space exhausted`, { resource: 'keys' });
    case ERR_ENDPOINTS_FULL:
      throw new WeftError('WEFT-K005', `${what}: endpoint space exhausted`, { resource: 'endpoints' });
    case ERR_MAGLEV_FULL:
      throw new WeftError('WEFT-K005', `${what}: Maglev table space exhausted`, { resource: 'maglev' });
    default:
      throw new WeftError('WEFT-K003', `${what}: kernel returned ${code}`);
  }
}

const encoder = new TextEncoder();
/** WASM memory is little-endian; the 4-byte stores of encodeId need the host to be too. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Open-addressing hash map (in WASM) from service ID bytes to a route; each route has
 *  weighted endpoints (indices 0..n-1 into the caller's own array of instances). */
export class ServiceTable {
  readonly capacity: number;
  readonly variant: KernelVariant;
  readonly hashSeed: number;
  private readonly k: TableExports;
  private readonly memory: WebAssembly.Memory;
  private readonly bytes: Uint8Array;
  private readonly keyIo: number;
  private readonly keyView: Uint8Array;
  private readonly keyWords: Uint32Array;
  private readonly weights: Uint32Array;
  private readonly namesIo: number;
  private readonly namesIoBytes: number;
  private readonly batchIn: number;
  private readonly batchInBytes: number;
  private readonly batchOut: Int32Array;

  constructor(options: ServiceTableOptions = {}) {
    const capacity = options.capacity ?? SERVICE_TABLE_LIMITS.maxServices;
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > SERVICE_TABLE_LIMITS.maxServices) {
      throw new WeftError('WEFT-K003', `capacity must be an integer in 1..${SERVICE_TABLE_LIMITS.maxServices}, got ${capacity}`);
    }
    this.capacity = capacity;
    this.variant = options.variant ?? preferredVariant();
    this.hashSeed = (options.hashSeed ?? randomBytes(4).readUInt32LE(0)) >>> 0;
    // The kernel returns error codes; abort (imported only by builds with assertions) means a kernel bug.
    const env = { abort: (_msg: number, _file: number, line: number, col: number) => { throw new Error(`kernel service_table aborted at line ${line}:${col}`); } };
    const instance = new WebAssembly.Instance(compiledModule(this.variant), { env });
    const k = instance.exports as unknown as TableExports;
    this.k = k;
    this.memory = k.memory;
    const buffer = k.memory.buffer;
    this.bytes = new Uint8Array(buffer);
    this.keyIo = k.key_io();
    this.keyView = new Uint8Array(buffer, this.keyIo, 256);
    this.keyWords = new Uint32Array(buffer, this.keyIo, 64); // KEY_IO is 16-byte aligned; the host is little-endian like WASM
    this.weights = new Uint32Array(buffer, k.weights_io(), SERVICE_TABLE_LIMITS.maxEndpointsPerService);
    this.namesIo = k.names_io();
    this.namesIoBytes = k.names_io_bytes();
    this.batchIn = k.batch_in();
    this.batchInBytes = k.batch_in_bytes();
    this.batchOut = new Int32Array(buffer, k.batch_out(), k.batch_out_max());
    if (k.init(capacity, this.hashSeed) !== 0) throw new WeftError('WEFT-K003', `kernel refused capacity ${capacity}`);
  }

  /** Writes the ID's bytes at KEY_IO; returns its length, or -1 unless it is 1..255 bytes. */
  private encodeId(id: ServiceId): number {
    const bytes = this.bytes;
    const at = this.keyIo;
    if (typeof id === 'string') {
      // ASCII four characters per store (measured ~1.5x a byte loop); anything else via UTF-8.
      const n = id.length;
      if (n === 0 || n > 255) return -1;
      const words = this.keyWords;
      let i = 0;
      if (LITTLE_ENDIAN) for (let w = 0; i + 4 <= n; i += 4, w++) {
        const c0 = id.charCodeAt(i);
        const c1 = id.charCodeAt(i + 1);
        const c2 = id.charCodeAt(i + 2);
        const c3 = id.charCodeAt(i + 3);
        if ((c0 | c1 | c2 | c3) > 0x7f) return this.encodeUtf8(id);
        words[w] = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
      }
      for (; i < n; i++) {
        const c = id.charCodeAt(i);
        if (c > 0x7f) return this.encodeUtf8(id);
        bytes[at + i] = c;
      }
      return n;
    }
    const n = id.length;
    if (n === 0 || n > 255) return -1;
    bytes.set(id, at);
    return n;
  }

  private encodeUtf8(id: string): number {
    const r = encoder.encodeInto(id, this.keyView);
    return r.read === id.length && r.written <= 255 ? r.written : -1;
  }

  private idOrThrow(id: ServiceId, what: string): number {
    if (typeof id !== 'string' && !(id instanceof Uint8Array)) throw new WeftError('WEFT-K003', `${what}: service ID must be a string or Uint8Array`);
    const n = this.encodeId(id);
    if (n < 0) throw new WeftError('WEFT-K003', `${what}: service ID must be 1..255 bytes`);
    return n;
  }

  /** Adds or replaces a service's endpoints: weights[i] is endpoint i's weight (0 = never picked).
   *  Returns the route index (stable while the service exists). Throws WeftError WEFT-K005 when full.
   *  Replacing keeps the Maglev table if the endpoint count is unchanged (rebuilt for the new
   *  weights), and drops it otherwise. */
  set(serviceId: ServiceId, weights: ArrayLike<number>): number {
    const n = weights.length;
    if (n > SERVICE_TABLE_LIMITS.maxEndpointsPerService) {
      throw new WeftError('WEFT-K003', `set: at most ${SERVICE_TABLE_LIMITS.maxEndpointsPerService} endpoints per service, got ${n}`);
    }
    const staged = this.weights;
    for (let i = 0; i < n; i++) {
      const w = weights[i]!;
      if (!(w >= 0 && w <= 0xffffffff && Number.isInteger(w))) throw new WeftError('WEFT-K003', `set: weight ${i} must be an integer in 0..2^32-1, got ${w}`);
      staged[i] = w;
    }
    const keyLen = this.idOrThrow(serviceId, 'set');
    const r = this.k.set(keyLen, n);
    if (r < 0) fail(r, 'set');
    return r;
  }

  delete(serviceId: ServiceId): boolean {
    const n = this.encodeId(serviceId);
    return n > 0 && this.k.remove(n) === 1;
  }

  /** Route index or -1. */
  find(serviceId: ServiceId): number {
    const n = this.encodeId(serviceId);
    return n < 0 ? -1 : this.k.find(n);
  }

  get size(): number {
    return this.k.count();
  }

  /** Weighted pick (canary splits): random is a uint32 the caller draws; returns an
   *  endpoint index, or -1 if the service is unknown or all weights are 0. */
  pick(serviceId: ServiceId, random: number): number {
    const n = this.encodeId(serviceId);
    return n < 0 ? -1 : this.k.pick(n, random >>> 0);
  }

  /** pick() for a route index from find() (skips the hash lookup); -1 for a dead route. */
  pickRoute(route: number, random: number): number {
    return route >= 0 ? this.k.pick_route(route, random >>> 0) : -1;
  }

  /** Number of endpoints of a service, or -1 if unknown. */
  endpointCount(serviceId: ServiceId): number {
    const route = this.find(serviceId);
    return route < 0 ? -1 : this.k.route_endpoints(route);
  }

  /** Consistent pick through the route's Maglev table (built from endpoint names) for a flow
   *  key hash. endpointNames[i] names endpoint i; there must be one per endpoint of set().
   *  Endpoints of weight 0 get no entries. tableSize is one of MAGLEV_TABLE_SIZES
   *  (default defaultMaglevSize(n)). Throws WEFT-K003 for an unknown service or bad
   *  arguments, WEFT-K005 when Maglev space is exhausted. */
  setMaglev(serviceId: ServiceId, endpointNames: string[], tableSize?: number): void {
    const route = this.find(serviceId);
    if (route < 0) throw new WeftError('WEFT-K003', 'setMaglev: unknown service');
    const n = endpointNames.length;
    if (n !== this.k.route_endpoints(route)) {
      throw new WeftError('WEFT-K003', `setMaglev: ${n} names for ${this.k.route_endpoints(route)} endpoints`);
    }
    const m = tableSize ?? defaultMaglevSize(n);
    if (!(MAGLEV_TABLE_SIZES as readonly number[]).includes(m)) {
      throw new WeftError('WEFT-K003', `setMaglev: table size ${m} is not one of ${MAGLEV_TABLE_SIZES.join(', ')}`);
    }
    this.stageNames(endpointNames);
    const r = this.k.maglev_set(route, n, m);
    if (r < 0) fail(r, 'setMaglev');
  }

  /** Hashes the names into the kernel's staging arrays, a NAMES_IO chunk at a time. */
  private stageNames(names: string[]): void {
    const bytes = this.bytes;
    const base = this.namesIo;
    const cap = this.namesIoBytes;
    let start = 0;
    let count = 0;
    let pos = 0;
    const flush = () => {
      if (count > 0 && this.k.maglev_stage(start, count, pos) !== count) throw new WeftError('WEFT-K003', 'setMaglev: kernel refused staged names');
      start += count;
      count = 0;
      pos = 0;
    };
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      if (typeof name !== 'string') throw new WeftError('WEFT-K003', `setMaglev: endpoint name ${i} is not a string`);
      const encoded = encoder.encode(name);
      if (encoded.length > SERVICE_TABLE_LIMITS.maxEndpointNameBytes) {
        throw new WeftError('WEFT-K003', `setMaglev: endpoint name ${i} is over ${SERVICE_TABLE_LIMITS.maxEndpointNameBytes} bytes`);
      }
      if (pos + 1 + encoded.length > cap) flush();
      bytes[base + pos] = encoded.length;
      bytes.set(encoded, base + pos + 1);
      pos += 1 + encoded.length;
      count++;
    }
    flush();
  }

  pickConsistent(serviceId: ServiceId, keyHash: number): number {
    const n = this.encodeId(serviceId);
    return n < 0 ? -1 : this.k.pick_consistent(n, keyHash >>> 0);
  }

  /** pickConsistent() for a route index from find(). */
  pickConsistentRoute(route: number, keyHash: number): number {
    return route >= 0 ? this.k.pick_consistent_route(route, keyHash >>> 0) : -1;
  }

  /** The service's Maglev table (endpoint index per entry, -1 = empty), or null if it has none. */
  maglevTable(serviceId: ServiceId): Int32Array | null {
    const route = this.find(serviceId);
    if (route < 0) return null;
    const m = this.k.route_maglev_size(route);
    if (m <= 0) return null;
    const out = new Int32Array(m);
    for (let from = 0; from < m; from += this.batchOut.length) {
      this.k.maglev_entries(route, from);
      out.set(this.batchOut.subarray(0, Math.min(this.batchOut.length, m - from)), from);
    }
    return out;
  }

  /** Batch: many IDs in one call -> route indices (or -1) in out. `ids` holds packed records
   *  [length u8][length bytes] (see packServiceIds); a zero length gives -1. Stops at a
   *  truncated record or when out is full; returns the number of IDs looked up. */
  findBatchInto(ids: Uint8Array, out: Int32Array): number {
    const bytes = this.bytes;
    const results = this.batchOut;
    let off = 0;
    let n = 0;
    while (off < ids.length && n < out.length) {
      const chunk = Math.min(ids.length - off, this.batchInBytes);
      if (off === 0 && chunk === ids.length) bytes.set(ids, this.batchIn);
      else bytes.set(ids.subarray(off, off + chunk), this.batchIn);
      const got = this.k.find_batch(chunk, Math.min(out.length - n, results.length));
      if (got <= 0) break;
      for (let i = 0; i < got; i++) out[n + i] = results[i]!;
      n += got;
      off += this.k.batch_consumed();
    }
    return n;
  }

  /** XXH32 of up to 255 bytes, computed by the kernel (e.g. to hash a flow key for pickConsistent). */
  hash(data: Uint8Array, seed = 0): number {
    if (data.length > 255) throw new WeftError('WEFT-K003', 'hash: at most 255 bytes');
    this.bytes.set(data, this.keyIo);
    return this.k.hash_key_io(data.length, seed >>> 0) >>> 0;
  }

  /** Removes every service. */
  clear(): void {
    this.k.init(this.capacity, this.hashSeed);
  }

  /** Bytes of the kernel's linear memory (constant: it never grows). */
  get memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Hash slots in use by this table (a power of two >= 2 x capacity). */
  get slotCount(): number {
    return this.k.slot_count();
  }
}

/** Packs IDs as [length u8][bytes] records for findBatchInto (throws for IDs outside 1..255 bytes). */
export function packServiceIds(ids: Iterable<ServiceId>): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const id of ids) {
    const b = typeof id === 'string' ? encoder.encode(id) : id;
    if (b.length === 0 || b.length > 255) throw new WeftError('WEFT-K003', 'packServiceIds: service ID must be 1..255 bytes');
    parts.push(b);
    total += 1 + b.length;
  }
  const out = new Uint8Array(total);
  let p = 0;
  for (const b of parts) {
    out[p] = b.length;
    out.set(b, p + 1);
    p += 1 + b.length;
  }
  return out;
}
