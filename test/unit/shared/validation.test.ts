import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { classifyDatabaseFailure } from '../../../activities/unstorable';
import { coerceEngage, oversizedProblem } from '../../../src/domain/control-plane/engage';
import { EngageKillSwitchInputSchema } from '../../../src/domain/control-plane/types';
import { describeIssues, safeText, storablePayload, storableText } from '../../../src/domain/shared/validation';

const problem = (schema: ReturnType<typeof safeText>, value: unknown) => {
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : describeIssues(parsed.error);
};

describe('safeText, the one schema for free text at a boundary', () => {
  const line = safeText({ max: 10 });
  it('trims, bounds length and refuses every control character, naming the rule', () => {
    expect(problem(line, '  ok  ')).toBe('ok');
    expect(problem(line, '   ')).toBe('payload: must not be blank');
    expect(problem(line, 'x'.repeat(11))).toBe('payload: must be at most 10 characters');
    for (const [char, name] of [
      ['\u0000', 'U+0000'],
      ['\n', 'U+000A'],
      ['\u001b', 'U+001B'],
      ['\u007f', 'U+007F'],
      ['\u0085', 'U+0085'],
      ['\ud800', 'unpaired surrogate U+D800'],
    ]) {
      expect(problem(line, `a${char}b`)).toBe(`payload: must not contain control characters (found ${name})`);
    }
    expect(problem(line, '😀 ok')).toBe('😀 ok');
  });
  it('allows newline and tab only when multiline', () => {
    const text = safeText({ max: 20, multiline: true });
    expect(problem(text, 'a\n\tb')).toBe('a\n\tb');
    expect(problem(text, 'a\r\nb')).toMatch(/found U\+000D/);
  });
});

describe('a refusal names the field', () => {
  it('of a union: the closest forms, never a bare "Invalid input"', () => {
    const target = z.union([
      z.strictObject({ tokenId: z.uuid('expected a token id') }),
      z.strictObject({ strategyId: z.string().min(1) }),
    ]);
    const refusal = (value: unknown) => {
      const parsed = z.strictObject({ target }).safeParse({ target: value });
      return parsed.success ? 'accepted' : describeIssues(parsed.error);
    };
    expect(refusal({ tokenId: 'x' })).toBe('target.tokenId: expected a token id');
    expect(refusal({ strategyId: 5 })).toBe('target.strategyId: Invalid input: expected string, received number');
    expect(refusal({})).toBe(
      'target.tokenId: expected a token id — or — target.strategyId: Invalid input: expected string, received undefined',
    );
    expect(refusal('x')).toBe('target: Invalid input: expected object, received string');
  });

  it("by a sender's own key escaped and cut: never an unpaired surrogate, a control character or a megabyte", () => {
    const refusal = (value: unknown) => {
      const parsed = z.strictObject({ settings: z.record(z.string(), z.number()) }).safeParse(value);
      return parsed.success ? 'accepted' : describeIssues(parsed.error);
    };
    expect(refusal({ settings: {}, '\ud800x': 1 })).toBe('\\ud800x: unknown field');
    expect(refusal({ settings: { 'a\u0000b': 'x' } })).toBe(
      'settings.a\\u0000b: Invalid input: expected number, received string',
    );
    const long = refusal({ settings: {}, ['k'.repeat(1_000_000)]: 1 });
    expect(long.length).toBeLessThan(200);
    expect(long).toMatch(/^k+…\[truncated, 1000000 characters\]: unknown field$/);
    // Well-formed UTF-16, so any protobuf string (a failure's message) can carry it.
    expect(refusal({ settings: { '\udfff': 1 }, '\ud800': 1 })).not.toMatch(/[\ud800-\udfff]/);
  });
});

describe('storable copies of refused input', () => {
  it('escapes control characters and truncates, never throwing', () => {
    expect(storableText('a\u0000b')).toBe('a\\u0000b');
    expect(storableText('x'.repeat(30), 10)).toBe('xxxxxxxxxx…[truncated, 30 characters]');
    expect(storableText(42)).toBe('<number>');
    expect(storablePayload({ actor: 'eve\u0000', nested: [{ reason: 'r\u0000' }] })).toEqual({
      actor: 'eve\\u0000',
      nested: [{ reason: 'r\\u0000' }],
    });
  });
});

describe('an engage is never refused for its form', () => {
  it('keeps what is valid and records what is not', () => {
    expect(coerceEngage({ source: 'operator', actor: 'alice', reason: 'drill' })).toEqual({
      source: 'operator',
      actor: 'alice',
      reason: 'drill',
    });
    const coerced = coerceEngage({ source: 'NOPE', actor: 'eve\u0000', reason: 'x'.repeat(1_000_000) });
    expect(coerced).toMatchObject({ source: 'unknown', actor: 'malformed actor: eve\\u0000' });
    expect(coerced.reason).toMatch(/^malformed reason: x+…\[truncated, 1000000 characters\]$/);
    for (const payload of [null, 'on', [1], { actor: 7 }, {}]) {
      expect(EngageKillSwitchInputSchema.safeParse(coerceEngage(payload)).success).toBe(true);
    }
  });
  it('measures a payload before parsing it', () => {
    expect(oversizedProblem({ reason: 'x'.repeat(70_000) })).toMatch(
      /^payload: 70\d+ characters of JSON, more than the 65536 allowed$/,
    );
    expect(oversizedProblem({ reason: 'short' })).toBeNull();
  });
});

describe('which database failures a control-plane write waits out', () => {
  it('retries outages, drops content faults, bounds the rest', () => {
    const pg = (code: string) => Object.assign(new Error('x'), { code });
    for (const code of ['08006', '57P01', '53300', '40001', 'ECONNREFUSED']) {
      expect(classifyDatabaseFailure(pg(code))).toBe('outage');
    }
    for (const code of ['22021', '22P05', '23505', '42703']) expect(classifyDatabaseFailure(pg(code))).toBe('content');
    expect(classifyDatabaseFailure(pg('P0001'))).toBe('unknown');
    expect(classifyDatabaseFailure(new Error('Connection terminated unexpectedly'))).toBe('outage');
    expect(classifyDatabaseFailure(new AggregateError([pg('ECONNREFUSED')]))).toBe('outage');
    expect(classifyDatabaseFailure(new TypeError('oops'))).toBe('unknown');
  });
});
