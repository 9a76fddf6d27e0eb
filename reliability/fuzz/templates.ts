// Valid-ish seeds for a boundary, derived from its own zod schema (through
// JSON Schema), so every operation and route gets one without a hand-written
// table: the fuzzer mutates these one field at a time.
import { z } from 'zod';

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  default?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
}

const CANDIDATES = [
  'fuzz-seed',
  'GLOBAL',
  'WHOLESALE',
  'operator',
  'risk_officer',
  'cr-0123456789ab',
  '42',
  'fuzz',
  'FUZZ',
  'a',
  '1',
  '2026-01-01',
  '2026-01-01T00:00:00.000Z',
  'wk_0123456789abcdef.0123456789abcdef',
  '7d',
  'true',
  'WHOLESALE/roi_event',
];

function stringFor(schema: JsonSchema): string {
  if (schema.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
  if (schema.format === 'date-time') return '2026-01-01T00:00:00.000Z';
  if (schema.pattern) {
    const re = new RegExp(schema.pattern, 'u');
    const hit = CANDIDATES.find((c) => re.test(c));
    if (hit !== undefined) return hit;
  }
  const min = schema.minLength ?? 1;
  return 'fuzz-seed'.padEnd(min, 'x');
}

/** A plausible value for a JSON Schema: enums take their first value, objects every property. */
export function exampleOf(schema: JsonSchema | undefined, depth = 0): unknown {
  if (!schema || depth > 6) return 'fuzz-seed';
  if (schema.const !== undefined) return schema.const;
  if (schema.enum && schema.enum.length > 0) return schema.enum[0];
  const union = schema.anyOf ?? schema.oneOf;
  if (union && union.length > 0) {
    const pick = union.find((s) => s.type !== 'null') ?? union[0];
    return exampleOf(pick, depth + 1);
  }
  if (schema.allOf && schema.allOf.length > 0) return exampleOf(schema.allOf[0], depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, property] of Object.entries(schema.properties ?? {})) out[key] = exampleOf(property, depth + 1);
      return out;
    }
    case 'array':
      return [exampleOf(schema.items, depth + 1)];
    case 'boolean':
      return true;
    case 'integer':
    case 'number':
      return Math.max(1, Math.ceil(schema.minimum ?? schema.exclusiveMinimum ?? 1));
    case 'string':
      return stringFor(schema);
    default:
      return schema.default ?? 'fuzz-seed';
  }
}

export function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}

/** A seed object for a zod schema (an object schema; anything else seeds `{ value }`). */
export function templateOf(schema: z.ZodType): Record<string, unknown> {
  const example = exampleOf(jsonSchemaOf(schema));
  return example !== null && typeof example === 'object' && !Array.isArray(example)
    ? (example as Record<string, unknown>)
    : { value: example };
}

/** Every property name anywhere in a JSON Schema: the fields a rejection may name. */
export function fieldNames(schema: JsonSchema | undefined, into = new Set<string>(), depth = 0): Set<string> {
  if (!schema || depth > 8) return into;
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    into.add(key);
    fieldNames(property, into, depth + 1);
  }
  fieldNames(schema.items, into, depth + 1);
  for (const s of [...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])])
    fieldNames(s, into, depth + 1);
  return into;
}
