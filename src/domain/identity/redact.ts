/**
 * An approval token is a bearer credential, and so is its `wtr_…` reference:
 * neither may reach the audit log, a log line or an API answer. Payloads pass
 * through here before they are stored: every string field named `token` is
 * replaced, and any string that holds a reference, a compact JWS or a legacy
 * `wat1.` token anywhere (a malformed payload kept as text, a reason that
 * quotes one) has it masked. Pure, so workflows use it too.
 */
export const REDACTED = '(redacted)';

const CREDENTIALS = [
  /wtr_[A-Za-z0-9_-]{16,}/g,
  // A compact JWS: base64url JSON header (`{"` is `eyJ`), payload, signature.
  /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}/g,
  /wat1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g,
];

function maskText(text: string): string {
  return CREDENTIALS.reduce((masked, pattern) => masked.replace(pattern, REDACTED), text);
}

function redact(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return maskText(value);
  // Deeper than any payload Warden stores: left as is rather than walked for ever.
  if (depth > 32 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  // Only plain JSON objects are walked: a Date (an audit row's `at`) stays a Date.
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [
      key,
      key === 'token' && typeof v === 'string' ? REDACTED : redact(v, depth + 1),
    ]),
  );
}

/** The payload with every approval token and reference in it replaced by `(redacted)`. */
export function redactToken<T>(payload: T): T {
  return redact(payload, 0) as T;
}
