// Copies a config value with secrets replaced, for /config and logs: any key
// that names a secret (secret, password, token, key, credential, psk) is shown as
// "[redacted]" whatever its value.
const SECRET_KEY = /secret|password|passwd|token|credential|psk|private|key$/i;

export const REDACTED = '[redacted]';

export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? REDACTED : redact(v);
    return out;
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}
