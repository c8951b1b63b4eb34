// Client-side check of a destination service ID, so a bad ID fails before any
// socket is opened. Same rules as the agent's handshake parser
// (ARCHITECTURE.md "Meshlets and their sockets"): `<service>.<meshlet>.<ns>`,
// each part an RFC 1123 DNS label as Kubernetes uses it, whole ID at most 255 bytes.

export const MAX_SERVICE_ID_LENGTH = 255;
export const MAX_LABEL_LENGTH = 63;

export interface ServiceIdParts {
  readonly service: string;
  readonly meshlet: string;
  readonly namespace: string;
}

const isAlnum = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39);

/** Whether `s[start, end)` is a DNS label: 1..63 of [a-z0-9-], alphanumeric at both ends. */
function isDnsLabelAt(s: string, start: number, end: number): boolean {
  const len = end - start;
  if (len < 1 || len > MAX_LABEL_LENGTH) return false;
  if (!isAlnum(s.charCodeAt(start)) || !isAlnum(s.charCodeAt(end - 1))) return false;
  for (let i = start + 1; i < end - 1; i++) {
    const c = s.charCodeAt(i);
    if (!isAlnum(c) && c !== 0x2d) return false;
  }
  return true;
}

/** Whether `s` as a whole is a DNS label (a service, meshlet or namespace name). */
export function isDnsLabel(s: string): boolean {
  return isDnsLabelAt(s, 0, s.length);
}

/** Why `id` is not a valid service ID, or null when it is. */
export function serviceIdProblem(id: unknown): string | null {
  if (typeof id !== 'string') return `a service ID is a string, got ${typeof id}`;
  if (id.length === 0) return 'the service ID is empty';
  // Every allowed character is one byte, so length checks on UTF-16 units are byte checks
  // once the labels have passed (a non-ASCII character fails the label check).
  if (id.length > MAX_SERVICE_ID_LENGTH) return `the service ID is ${id.length} characters long, the limit is ${MAX_SERVICE_ID_LENGTH} bytes`;
  const first = id.indexOf('.');
  const second = first < 0 ? -1 : id.indexOf('.', first + 1);
  if (first < 0 || second < 0 || id.indexOf('.', second + 1) >= 0) {
    return 'a service ID has exactly three dot-separated parts: <service>.<meshlet>.<namespace>';
  }
  const parts: [string, number, number][] = [
    ['service', 0, first],
    ['meshlet', first + 1, second],
    ['namespace', second + 1, id.length],
  ];
  for (const [what, start, end] of parts) {
    if (!isDnsLabelAt(id, start, end)) {
      return `the ${what} part ${JSON.stringify(id.slice(start, end))} is not a DNS label (1..63 of a-z, 0-9, '-', starting and ending with a letter or digit)`;
    }
  }
  return null;
}

export function isServiceId(id: unknown): id is string {
  return serviceIdProblem(id) === null;
}

/** Splits a service ID into its parts, or returns null if it is not valid. */
export function parseServiceId(id: string): ServiceIdParts | null {
  if (!isServiceId(id)) return null;
  const [service, meshlet, namespace] = id.split('.') as [string, string, string];
  return { service, meshlet, namespace };
}
