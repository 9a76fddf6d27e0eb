import { storableText } from '../shared/validation';
import {
  ActorSchema,
  type EngageKillSwitchInput,
  EngageKillSwitchInputSchema,
  KillSwitchModeSchema,
  KillSwitchSourceSchema,
  MAX_CONTROL_PLANE_PAYLOAD,
  ReasonSchema,
} from './types';

// The kill switch is never refused for its form (invariant 10): a malformed
// engage is recorded as such and still takes effect.

/** The size of a payload as JSON text, or Infinity when it cannot be measured. */
export function payloadSize(payload: unknown): number {
  try {
    return JSON.stringify(payload ?? null)?.length ?? 0;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Why a payload is refused before it is parsed (too large), or null. */
export function oversizedProblem(payload: unknown): string | null {
  const size = payloadSize(payload);
  return size > MAX_CONTROL_PLANE_PAYLOAD
    ? `payload: ${Number.isFinite(size) ? size : 'unmeasurable'} characters of JSON, more than the ${MAX_CONTROL_PLANE_PAYLOAD} allowed`
    : null;
}

const field = (payload: unknown, name: string): unknown =>
  typeof payload === 'object' && payload !== null && !Array.isArray(payload)
    ? (payload as Record<string, unknown>)[name]
    : undefined;

const described = (value: unknown, max: number): string =>
  value === undefined
    ? '<missing>'
    : typeof value === 'string'
      ? storableText(value, max)
      : storableText(JSON.stringify(value) ?? typeof value, max);

/**
 * An engage built from whatever arrived: each valid field kept, each invalid
 * one recorded as malformed (escaped and truncated, so it can be stored), the
 * source defaulted to `unknown`. The result always passes EngageKillSwitchInputSchema.
 */
export function coerceEngage(payload: unknown): EngageKillSwitchInput {
  const source = KillSwitchSourceSchema.safeParse(field(payload, 'source'));
  const actor = ActorSchema.safeParse(field(payload, 'actor'));
  const reason = ReasonSchema.safeParse(field(payload, 'reason'));
  const isObject = typeof payload === 'object' && payload !== null && !Array.isArray(payload);
  // A malformed mode is a halt: the stricter reading of an engage is the one that cannot let anything through.
  const mode = KillSwitchModeSchema.safeParse(field(payload, 'mode'));
  const candidate = {
    ...(mode.success ? { mode: mode.data } : {}),
    source: source.success ? source.data : 'unknown',
    actor: actor.success
      ? actor.data
      : field(payload, 'actor') === undefined
        ? 'unknown'
        : `malformed actor: ${described(field(payload, 'actor'), 150)}`,
    reason: !isObject
      ? `malformed engage payload: ${described(payload, 1500)}`
      : reason.success
        ? reason.data
        : `malformed reason: ${described(field(payload, 'reason'), 1500)}`,
  };
  const parsed = EngageKillSwitchInputSchema.safeParse(candidate);
  return parsed.success ? parsed.data : { source: 'unknown', actor: 'unknown', reason: 'malformed engage payload' };
}
