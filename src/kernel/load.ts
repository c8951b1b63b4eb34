// Loads a WebAssembly kernel once per thread and hands out its exports.
//
// Each kernel is its own module (build/<name>.wasm, scalar; build/<name>.simd.wasm,
// SIMD) with its own fixed linear memory: the AssemblyScript side keeps every
// buffer in static data (memory.data) and uses the stub runtime, so memory never
// grows and a typed-array view made once stays valid for the life of the thread.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type KernelName = 'aead' | 'frame' | 'handshake' | 'service_table';
export type KernelVariant = 'simd' | 'scalar';

/** The smallest module that uses a v128 instruction (as in wasm-feature-detect). */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

let simd: boolean | undefined;
/** True when this engine runs WebAssembly SIMD (checked once). */
export function simdSupported(): boolean {
  simd ??= WebAssembly.validate(SIMD_PROBE);
  return simd;
}

/**
 * The variant used when none is asked for: SIMD where the engine has it, unless
 * WEFT_KERNEL_VARIANT=scalar forces the fallback (benchmarks and tests use this).
 */
export function preferredVariant(): KernelVariant {
  const forced = process.env.WEFT_KERNEL_VARIANT;
  if (forced === 'scalar') return 'scalar';
  if (forced === 'simd' && !simdSupported()) throw new Error('WEFT_KERNEL_VARIANT=simd but this engine has no WebAssembly SIMD');
  return simdSupported() ? 'simd' : 'scalar';
}

/** Directory holding the built .wasm files (dist/src/kernel -> build/). */
const BUILD_DIR = new URL('../../../build/', import.meta.url);

/** Path of a kernel's .wasm file; WEFT_KERNEL_DEBUG=1 picks the debug build. */
export function kernelPath(name: KernelName, variant: KernelVariant): string {
  const sub = process.env.WEFT_KERNEL_DEBUG === '1' ? 'debug/' : '';
  const file = variant === 'simd' ? `${name}.simd.wasm` : `${name}.wasm`;
  return fileURLToPath(new URL(sub + file, BUILD_DIR));
}

export interface KernelInstance<E> {
  readonly name: KernelName;
  readonly variant: KernelVariant;
  readonly exports: E & { memory: WebAssembly.Memory };
  /** The whole linear memory as bytes; valid forever because memory never grows. */
  readonly bytes: Uint8Array;
}

const instances = new Map<string, KernelInstance<unknown>>();

/** Reads a UTF-16 string AssemblyScript left in memory (only used for abort messages). */
function readAsString(memory: WebAssembly.Memory, ptr: number): string {
  if (ptr === 0) return '';
  const view = new DataView(memory.buffer);
  const byteLength = view.getUint32(ptr - 4, true);
  return Buffer.from(memory.buffer, ptr, byteLength).toString('utf16le');
}

/** Instantiates (once per thread per variant) and returns a kernel. */
export function loadKernel<E>(name: KernelName, variant: KernelVariant = preferredVariant()): KernelInstance<E> {
  const key = `${name}:${variant}`;
  const cached = instances.get(key);
  if (cached) return cached as KernelInstance<E>;
  if (variant === 'simd' && !simdSupported()) throw new Error(`kernel ${name}: this engine has no WebAssembly SIMD`);
  const module = new WebAssembly.Module(readFileSync(kernelPath(name, variant)));
  let memory: WebAssembly.Memory | undefined;
  const instance = new WebAssembly.Instance(module, {
    env: {
      // Kernels return error codes for bad input; abort only fires on a kernel bug.
      abort(msg: number, file: number, line: number, col: number) {
        const m = memory ? `${readAsString(memory, msg)} at ${readAsString(memory, file)}:${line}:${col}` : 'abort';
        throw new Error(`kernel ${name} aborted: ${m}`);
      },
    },
  });
  const exports = instance.exports as E & { memory: WebAssembly.Memory };
  memory = exports.memory;
  const loaded: KernelInstance<E> = { name, variant, exports, bytes: new Uint8Array(memory.buffer) };
  instances.set(key, loaded);
  return loaded;
}
