import type { parseArgs } from 'node:util';
import { z } from 'zod';
import type { Config } from '../../config/index';
import type { OpenDatabase } from '../../db/connect';
import { describeIssues } from '../../domain/shared/validation';
import type { Caller } from './transport';

/** Exit codes: 0 done, 1 could not reach or run it, 2 bad usage, 3 a check found a problem. */
export const EXIT = { ok: 0, failure: 1, usage: 2, problem: 3 } as const;

export class UsageError extends Error {}

export const options = {
  json: { type: 'boolean' },
  reason: { type: 'string' },
  down: { type: 'boolean' },
  all: { type: 'boolean' },
  date: { type: 'string' },
  symbol: { type: 'string' },
  'max-daily-loss': { type: 'string' },
  'max-daily-exposure': { type: 'string' },
  'max-open-risk': { type: 'string' },
  'max-actions-per-day': { type: 'string' },
  enabled: { type: 'string' },
  'deal-id': { type: 'string' },
  engine: { type: 'string' },
  amount: { type: 'string' },
  domain: { type: 'string' },
  'recommendation-id': { type: 'string' },
  class: { type: 'string' },
  wait: { type: 'boolean' },
  success: { type: 'string' },
  value: { type: 'string' },
  metric: { type: 'string' },
  window: { type: 'string' },
  baseline: { type: 'string' },
  'max-drop': { type: 'string' },
  action: { type: 'string' },
  role: { type: 'string' },
  comment: { type: 'string' },
  pending: { type: 'boolean' },
  passed: { type: 'string' },
  note: { type: 'string' },
  condition: { type: 'string' },
  severity: { type: 'string' },
  level: { type: 'string' },
  capital: { type: 'string' },
  'token-required': { type: 'string' },
  'health-floor': { type: 'string' },
  'strategy-required': { type: 'string' },
  'recommendation-required': { type: 'string' },
  quantity: { type: 'string' },
  symbols: { type: 'string' },
  'max-notional': { type: 'string' },
  actions: { type: 'string' },
  ttl: { type: 'string' },
  strategy: { type: 'string' },
  side: { type: 'string' },
  position: { type: 'string' },
  since: { type: 'string' },
  evidence: { type: 'string' },
  id: { type: 'string' },
  notes: { type: 'string' },
  operator: { type: 'string' },
  active: { type: 'boolean' },
  identity: { type: 'string' },
  roles: { type: 'string' },
  key: { type: 'string' },
  for: { type: 'string' },
  executed: { type: 'string' },
  'realized-loss': { type: 'string' },
  'external-id': { type: 'string' },
  'workflow-id': { type: 'string' },
  file: { type: 'string', short: 'f' },
  status: { type: 'string' },
  'prod-use': { type: 'string' },
  'min-confidence': { type: 'string' },
  'min-trials': { type: 'string' },
  'min-success-rate': { type: 'string' },
  'safe-in-reduce': { type: 'string' },
  'exits-ignore-loss-cap': { type: 'string' },
  mode: { type: 'string' },
  week: { type: 'string' },
  scope: { type: 'string' },
  text: { type: 'string' },
  outcome: { type: 'string' },
  gate: { type: 'string' },
  running: { type: 'string' },
  limit: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type Flags = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

export interface Invocation {
  config: Config;
  flags: Flags;
  /** Positional arguments after the command word(s). */
  args: string[];
  /** Warden's operations, as the caller's identity: the API with a key, else the local owner (embedded database). */
  ops: Caller;
}

/** Validates one argument; the error names it, as the user typed it. */
export function field<S extends z.ZodType>(name: string, schema: S, value: unknown): z.output<S> {
  if (value === undefined && !schema.safeParse(undefined).success) throw new UsageError(`${name}: required`);
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UsageError(`${name}: ${describeIssues(parsed.error).replace(/^payload: /, '')}`);
  return parsed.data;
}

/** An optional argument: absent stays undefined, present is validated as {@link field} does. */
export function optionalField<S extends z.ZodType>(
  name: string,
  schema: S,
  value: string | undefined,
): z.output<S> | undefined {
  return value === undefined ? undefined : field(name, schema, value);
}

const TrueFalseSchema = z.enum(['true', 'false'], { message: 'expected true or false' });

/** A `true` or `false` argument. */
export const bool = (name: string, value: string | undefined): boolean =>
  field(name, TrueFalseSchema, value) === 'true';
export const optionalBool = (name: string, value: string | undefined): boolean | undefined =>
  value === undefined ? undefined : bool(name, value);

/** The changes a set-policy command was given, without the ones it was not: what to lay over the current policy. */
export function givenChanges<T extends Record<string, unknown>>(
  changes: T,
): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) as Partial<{
    [K in keyof T]: Exclude<T[K], undefined>;
  }>;
}

export function expectArgs(command: string, args: string[], max: number): void {
  if (args.length > max) throw new UsageError(`${command}: unexpected argument ${args[max]}`);
}

export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function printJsonOr(flags: Flags, value: unknown, lines: () => string[]): void {
  if (flags.json) out(JSON.stringify(value, null, 2));
  else lines().forEach(out);
}

/** Operator tooling with the database's own credentials (`migrate`): in this process, never through the API. */
export async function withDatabase<T>(config: Config, fn: (database: OpenDatabase) => Promise<T>): Promise<T> {
  const { openDatabase } = await import('../../db/connect');
  const database = await openDatabase(config);
  try {
    return await fn(database);
  } finally {
    await database.close();
  }
}

/** A table for the terminal: columns padded to their widest cell. */
export function table(header: string[], rows: (string | number | null)[][]): string[] {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null ? '—' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

/** A command group: `warden <group> <name> …`. */
export function sub(group: string, commands: Record<string, (inv: Invocation) => Promise<number>>) {
  return (inv: Invocation) => {
    const [name, ...rest] = inv.args;
    const command = name === undefined ? undefined : commands[name];
    if (!command) throw new UsageError(`${group}: expected one of ${Object.keys(commands).join(', ')}`);
    return command({ ...inv, args: rest });
  };
}
