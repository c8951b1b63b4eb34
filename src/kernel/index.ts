// The WebAssembly kernels and how TypeScript calls them (README "Kernels").
export { loadKernel, simdSupported, preferredVariant, kernelPath, type KernelName, type KernelVariant, type KernelInstance } from './load.js';
export * from './aead.js';
export * from './frame.js';
export * from './handshake.js';
export * from './service-table.js';
export { KernelPool, type KernelPoolOptions } from './pool.js';
export { AeadDispatcher, DEFAULT_INLINE_BELOW_BYTES, type AeadDispatcherOptions, type PoolTransport } from './dispatch.js';
