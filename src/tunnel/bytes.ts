// Byte copies on the tunnel's small-message path without garbage. In Node 20,
// TypedArray#set needs a view of the source range (a subarray object per copy)
// and Buffer#copy makes one internally when the range is not the whole source.
// For a request/response of a few hundred bytes that is several objects per
// message per hop; a plain loop copies them with none. Large copies (bulk
// records) take the view: one object per 16 KiB is nothing, and set() is memcpy.

/** Below this many bytes, copies are a loop (no view object). */
export const SMALL_COPY = 256;

/** Copies src[from, from + n) to dst[at, at + n). The ranges must not overlap. */
export function copyBytes(src: Uint8Array, from: number, dst: Uint8Array, at: number, n: number): void {
  if (n <= SMALL_COPY) {
    for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!;
  } else {
    dst.set(from === 0 && n === src.length ? src : src.subarray(from, from + n), at);
  }
}
