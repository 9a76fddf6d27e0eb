import { z } from 'zod';

/** One line naming the first offending field, e.g. `reason: must say why`. */
export function describeIssues(error: z.ZodError): string {
  return describe(error.issues, []);
}

/**
 * A key as a message may hold it: a sender's own keys are untrusted text, escaped and cut like any
 * (storableText). An unpaired surrogate left in a failure's message made the SDK's completion
 * undecodable, and the worker shut down (the fuzz at 1,000, on a change request's approve update).
 */
const keyText = (key: PropertyKey): string => storableText(String(key), 100);

function describe(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]): string {
  return issues
    .map((issue) => {
      const path = [...prefix, ...issue.path];
      const named = path.map(keyText).join('.');
      if (issue.code === 'unrecognized_keys') {
        const at = path.length > 0 ? `${named}.` : '';
        return issue.keys.map((key) => `${at}${keyText(key)}: unknown field`).join('; ');
      }
      // A union none of whose forms fit: zod's own message is a bare "Invalid input". Name what the
      // closest forms (fewest problems) need instead, so the caller learns which field to fix.
      if (issue.code === 'invalid_union' && issue.errors.length > 0) {
        const fewest = Math.min(...issue.errors.map((e) => e.length));
        const closest = issue.errors.filter((e) => e.length === fewest).map((e) => describe(e, path));
        return [...new Set(closest)].join(' — or — ');
      }
      return `${path.length > 0 ? named : 'payload'}: ${issue.message}`;
    })
    .join('; ');
}

/** A caller's request (to the client or a producer repository) failed validation; the message names the field. */
export class InvalidRequestError extends Error {
  override name = 'InvalidRequestError';
}

/** Parses a caller's request, throwing InvalidRequestError naming the first bad field. */
export function validateRequest<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InvalidRequestError(`invalid ${what}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/**
 * The first control character in `value` that free text may not hold, or null.
 * C0 (U+0000–U+001F, including NUL, which PostgreSQL refuses in text and jsonb),
 * DEL (U+007F), C1 (U+0080–U+009F), and unpaired UTF-16 surrogates; `\n` and `\t`
 * pass only when `multiline`.
 */
export function findControlCharacter(value: string, multiline = false): string | null {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return `unpaired surrogate U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    }
    if (code >= 0xdc00 && code <= 0xdfff) {
      return `unpaired surrogate U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    }
    const control = code <= 0x1f || (code >= 0x7f && code <= 0x9f);
    if (!control) continue;
    if (multiline && (code === 0x0a || code === 0x09)) continue;
    return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return null;
}

export interface SafeTextOptions {
  /** Longest accepted length after trimming, in UTF-16 code units. */
  max: number;
  /** Shortest accepted length after trimming; default 1 (blank text is refused). */
  min?: number;
  /** Allow `\n` and `\t` (comments, evidence); other control characters are always refused. */
  multiline?: boolean;
  /** Message when shorter than `min`, e.g. `must say why`. */
  minMessage?: string;
}

/**
 * The one schema for free text crossing a boundary (actor, reason, comment,
 * evidence, detail…): trimmed, no control characters, bounded length. Every
 * refusal message names the rule broken.
 */
export function safeText(options: SafeTextOptions): z.ZodString {
  const min = options.min ?? 1;
  const multiline = options.multiline ?? false;
  let schema = z.string().trim();
  if (min > 0) {
    schema = schema.min(
      min,
      options.minMessage ?? (min === 1 ? 'must not be blank' : `must be at least ${min} characters`),
    );
  }
  return schema.max(options.max, `must be at most ${options.max} characters`).check(
    z.refine((value: string) => findControlCharacter(value, multiline) === null, {
      error: (issue) => {
        const found = typeof issue.input === 'string' ? findControlCharacter(issue.input, multiline) : null;
        return `must not contain control characters${multiline ? ' other than newline and tab' : ''} (found ${found ?? 'one'})`;
      },
    }),
  );
}

/**
 * Makes untrusted text safe to store in an audit record: control characters
 * and unpaired surrogates escaped as `\uXXXX`, then cut to `max` characters
 * with a marker. Never throws; anything not a string is described by type.
 */
export function storableText(value: unknown, max = 500): string {
  if (typeof value !== 'string') return `<${value === null ? 'null' : typeof value}>`;
  let out = '';
  let i = 0;
  for (; i < value.length && out.length <= max; i++) {
    const code = value.charCodeAt(i);
    const next = value.charCodeAt(i + 1);
    if (code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += value.slice(i, i + 2);
      i++;
    } else if (code <= 0x1f || (code >= 0x7f && code <= 0x9f) || (code >= 0xd800 && code <= 0xdfff)) {
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    } else {
      out += value[i];
    }
  }
  if (out.length <= max && i >= value.length) return out;
  const cut = out.charCodeAt(max - 1) >= 0xd800 && out.charCodeAt(max - 1) <= 0xdbff ? max - 1 : max;
  return `${out.slice(0, cut)}…[truncated, ${value.length} characters]`;
}

/**
 * Makes any JSON-like value safe to store (jsonb): every string passed through
 * storableText, depth and breadth bounded. For auditing a refused payload.
 */
export function storablePayload(value: unknown, maxString = 500, depth = 0): unknown {
  if (typeof value === 'string') return storableText(value, maxString);
  if (value === null || typeof value === 'number' || typeof value === 'boolean') {
    return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
  }
  if (depth >= 4) return '<nested too deep>';
  if (Array.isArray(value)) {
    const items = value.slice(0, 20).map((item) => storablePayload(item, maxString, depth + 1));
    if (value.length > 20) items.push(`<${value.length - 20} more items>`);
    return items;
  }
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    const entries = Object.entries(value as Record<string, unknown>);
    for (const [key, item] of entries.slice(0, 30)) {
      out[storableText(key, 100)] = storablePayload(item, maxString, depth + 1);
    }
    if (entries.length > 30) out['<more>'] = `${entries.length - 30} more fields`;
    return out;
  }
  return `<${typeof value}>`;
}

/** True when no string anywhere in `value` (keys included) holds a control character. */
function storableJson(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return findControlCharacter(value, true) === null;
  if (value === null || typeof value !== 'object') return true;
  if (depth > 20) return false;
  if (Array.isArray(value)) return value.every((item) => storableJson(item, depth + 1));
  return Object.entries(value).every(
    ([key, item]) => findControlCharacter(key) === null && storableJson(item, depth + 1),
  );
}

/**
 * A free-form JSON record (evidence, details) from a caller: every string in
 * it free of control characters (newline and tab allowed), and its JSON text
 * at most `maxLength` characters.
 */
export function safeJsonRecord({ maxLength }: { maxLength: number }) {
  return z
    .record(z.string(), z.unknown())
    .refine((value) => storableJson(value), {
      message: 'must not contain control characters in any text (newline and tab allowed)',
    })
    .refine((value) => (JSON.stringify(value)?.length ?? 0) <= maxLength, {
      message: `must be at most ${maxLength} characters of JSON`,
    });
}

/** A signed approval token as it crosses a boundary: printable and bounded. */
export const TokenTextSchema = safeText({ max: 4096 });

const BIGINT_MAX = 9_223_372_036_854_775_807n;
/**
 * A row id (a PostgreSQL bigint) in its decimal form: a positive integer PostgreSQL can hold, so a
 * query never fails on it (a larger one was a 500, or an activity retried for ever).
 */
export function rowIdSchema(message: string): z.ZodType<string> {
  return z.string().refine((id) => /^[1-9][0-9]{0,18}$/.test(id) && BigInt(id) <= BIGINT_MAX, message);
}

/**
 * Messages a long wait takes in one run before it hands over to a new one (a server takes 10,000
 * signals a run, and a flood would grow one run's history to the server's limit).
 */
export const MessagesPerRunSchema = z.number().int().min(10).max(5000);
