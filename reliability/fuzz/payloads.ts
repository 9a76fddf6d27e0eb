// Hostile payloads for the fuzz harness, as fast-check arbitraries: every
// family the issue names (control characters and NUL, huge strings, deep
// nesting, wrong types, unknown fields, numbers at and past their limits,
// empty objects, arrays instead of objects) and valid-ish payloads with one
// field mutated. A seed template (valid-ish, derived from the boundary's own
// schema) is what the mutations start from.
import fc from 'fast-check';

/** 1 MB of text: past every field limit and the control plane's payload limit, under Temporal's blob limit. */
export const HUGE = 1_000_000;
/** Levels of nesting for the deep family. */
export const DEEP = 1_000;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A family name travels with each payload so the summary can say which families were tried. */
export interface Fuzzed {
  family: string;
  value: unknown;
}

const controlChar = fc.oneof(
  fc.constant('\u0000'),
  fc.integer({ min: 1, max: 0x1f }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x7f, max: 0x9f }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('\ud800', '\udfff', '\u2028', '\u202e', '\ufeff'),
);

/** Text with a control character, NUL or a lone surrogate somewhere in it. */
export const controlText = fc
  .tuple(fc.string({ maxLength: 20 }), controlChar, fc.string({ maxLength: 20 }))
  .map(([a, c, b]) => `${a}${c}${b}`);

// Built once: a fresh 1 MB string per payload costs more than it tests.
const huge = 'x'.repeat(HUGE);
const hugeWithNul = `${'y'.repeat(HUGE - 1)}\u0000`;

export const hostileString = fc.oneof(
  { weight: 4, arbitrary: controlText },
  { weight: 1, arbitrary: fc.constantFrom(huge, hugeWithNul) },
  { weight: 2, arbitrary: fc.integer({ min: 2_001, max: 20_000 }).map((n) => 'z'.repeat(n)) },
  { weight: 2, arbitrary: fc.constantFrom('', ' ', '   \t ', '\n') },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('../../etc/passwd', "'; drop table audit_event; --", '%00', '${jndi:x}') },
);

/** Numbers at and past every limit; NaN and the infinities survive only where the transport carries them. */
export const hostileNumber = fc.oneof(
  fc.constantFrom(
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    -0,
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER + 1,
    Number.MIN_SAFE_INTEGER - 1,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    -1,
    0,
    0.001,
    1.5,
    2 ** 31,
    2 ** 63,
  ),
  fc.double(),
  fc.integer({ min: -1_000_000_000_000, max: 1_000_000_000_000 }),
);

export const wrongType = fc.constantFrom<unknown>(null, true, false, 0, 1, 'x', [], {}, [1, 'a'], { a: 1 }, [[]], [{}]);

/** `levels` of nesting, alternating arrays and objects. */
export function deep(levels = DEEP, leaf: unknown = 'x'): unknown {
  let value: unknown = leaf;
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { n: value };
  return value;
}

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: hostileString },
  { weight: 3, arbitrary: hostileNumber },
  { weight: 3, arbitrary: wrongType },
  { weight: 1, arbitrary: fc.constant(null).map(() => deep()) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

const unknownKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'isAdmin', 'role ', 'Actor', 'kind'),
  controlText,
  fc.string({ minLength: 1, maxLength: 12 }),
);

/** The paths to every leaf of a template (objects only), e.g. ['changes', 0, 'target']. */
export function leafPaths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [prefix];
    return value.flatMap((item, i) => leafPaths(item, [...prefix, i]));
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return [prefix];
    return [...(prefix.length > 0 ? [prefix] : []), ...entries.flatMap(([k, v]) => leafPaths(v, [...prefix, k]))];
  }
  return [prefix];
}

function setAt(root: unknown, path: (string | number)[], replacement: unknown, remove = false): unknown {
  if (path.length === 0) return replacement;
  const copy: unknown = structuredClone(root);
  let node = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (remove && !Array.isArray(node)) delete node[last];
  else node[last] = replacement;
  return copy;
}

/**
 * Payloads for a boundary whose valid-ish seed is `template` (an object):
 * each draw names its family. Most are invalid by construction; the ones
 * that are not are what the boundary accepts, and are counted as such.
 */
export function payloadFor(template: Record<string, unknown>): fc.Arbitrary<Fuzzed> {
  const paths = leafPaths(template).filter((p) => p.length > 0);
  const pathArb = paths.length > 0 ? fc.constantFrom(...paths) : fc.constant(['field'] as (string | number)[]);
  const tag = (family: string) => (value: unknown) => ({ family, value });
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc.tuple(pathArb, hostileValue).map(([p, v]) => tag('mutated field')(setAt(template, p, v))),
    },
    { weight: 3, arbitrary: fc.tuple(pathArb, controlText).map(([p, v]) => tag('control/NUL')(setAt(template, p, v))) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(pathArb, fc.constantFrom(huge, hugeWithNul))
        .map(([p, v]) => tag('huge string')(setAt(template, p, v))),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(pathArb, hostileNumber).map(([p, v]) => tag('number limits')(setAt(template, p, v))),
    },
    { weight: 2, arbitrary: fc.tuple(pathArb, wrongType).map(([p, v]) => tag('wrong type')(setAt(template, p, v))) },
    { weight: 1, arbitrary: pathArb.map((p) => tag('deep nesting')(setAt(template, p, deep()))) },
    { weight: 1, arbitrary: fc.constant(null).map(() => tag('deep nesting')(deep())) },
    { weight: 1, arbitrary: pathArb.map((p) => tag('missing field')(setAt(template, p, undefined, true))) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(unknownKey, fc.jsonValue({ maxDepth: 2 }))
        .map(([k, v]) => tag('unknown field')(Object.assign(structuredClone(template), { [k]: v }))),
    },
    { weight: 1, arbitrary: fc.constant(null).map(() => tag('empty object')({})) },
    { weight: 1, arbitrary: fc.constant(null).map(() => tag('array for object')([structuredClone(template)])) },
    { weight: 1, arbitrary: hostileValue.map(tag('wrong type')) },
  );
}

/** `count` payloads for `template`, reproducible from `seed`. */
export function samplePayloads(template: Record<string, unknown>, count: number, seed: number): Fuzzed[] {
  return fc.sample(payloadFor(template), { numRuns: count, seed });
}

/**
 * JSON text for HTTP bodies that keeps what JSON.stringify loses: NaN as the
 * bare token (unreadable JSON, refused as such), the infinities as 1e999 and
 * -0 as -0 (JSON.parse reads them back as ±Infinity and -0).
 */
export function toJsonText(value: unknown): string {
  const marks = new Map<string, string>();
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'number') return v;
    const literal = Number.isNaN(v)
      ? 'NaN'
      : v === Number.POSITIVE_INFINITY
        ? '1e999'
        : v === Number.NEGATIVE_INFINITY
          ? '-1e999'
          : Object.is(v, -0)
            ? '-0'
            : undefined;
    if (literal === undefined) return v;
    const mark = `@@num${marks.size}@@`;
    marks.set(mark, literal);
    return mark;
  });
  if (text === undefined) return 'null';
  let out = text;
  for (const [mark, literal] of marks) out = out.replace(`"${mark}"`, literal);
  return out;
}
