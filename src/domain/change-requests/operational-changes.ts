import { z } from 'zod';
import { BREAKER_ACTIONS } from '../autonomy/breakers';
import { ReasonSchema } from '../control-plane/types';
import { POSITION_SCOPES } from '../deals/positions';
import { DealIdSchema } from '../deals/types';
import { SymbolSchema } from '../permits/rules';
import { safeText } from '../shared/validation';

export const StrategyIdSchema = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected a strategy id');

// Operational state a person may loosen too (invariant 8): issuing an execution token, lifting a strategy's
// pause, resolving a breaker event (which lifts its command-type pause), moving a position away from zero,
// releasing a deal that may have executed.

/** What an execution token allows; created (under the id its request names) when the request applies. */
export const ExecutionTokenTermsSchema = z.strictObject({
  strategyId: StrategyIdSchema,
  symbols: z.array(z.union([z.literal('*'), SymbolSchema])).min(1, 'must name at least one symbol or *'),
  maxNotional: z.number().positive('must be greater than 0').finite(),
  actions: z.array(z.enum(['buy', 'sell'], { message: 'expected buy or sell' })).min(1, 'expected buy, sell or both'),
  ttlSeconds: z
    .number()
    .int('must be a whole number of seconds')
    .min(1, 'must be at least 1')
    .max(30 * 86_400, 'must be at most 30 days'),
});
export type ExecutionTokenTerms = z.infer<typeof ExecutionTokenTermsSchema>;
export const ExecutionTokenIdSchema = z.uuid('expected a token id');

/** A strategy's pause (the gate's own state); the reason is the pause's. */
export const StrategyPauseSchema = z.strictObject({ paused: z.boolean(), reason: ReasonSchema.nullable() });

/** A circuit-breaker event as a change sees it: which rule tripped on what, and whether it is resolved. */
export const BreakerEventStateSchema = z.strictObject({
  rule: safeText({ max: 200 }),
  action: z.enum(BREAKER_ACTIONS),
  commandType: safeText({ max: 200 }).nullable(),
  resolved: z.boolean(),
  resolution: ReasonSchema.nullable(),
});
export type BreakerEventState = z.infer<typeof BreakerEventStateSchema>;
export const BreakerEventIdSchema = z.string().regex(/^[1-9][0-9]{0,17}$/, 'expected a breaker event id');

/** A position, keyed `<strategy|engine>:<scope id>:<symbol>`; its value the signed notional, in cents. */
const POSITION_TARGET = new RegExp(`^(${POSITION_SCOPES.join('|')}):([A-Za-z0-9._:-]{1,128}):([A-Za-z0-9._/-]{1,64})$`);
export const PositionTargetSchema = z
  .string()
  .regex(POSITION_TARGET, 'expected <strategy|engine>:<id>:<symbol>, e.g. strategy:s1:BTCUSDT');
export const positionTarget = (k: { scope: string; scopeId: string; symbol: string }) =>
  `${k.scope}:${k.scopeId}:${k.symbol}`;
export function parsePositionTarget(target: string) {
  const m = POSITION_TARGET.exec(target);
  if (!m) throw new Error(`not a position target: ${target}`);
  return { scope: m[1] as (typeof POSITION_SCOPES)[number], scopeId: m[2]!, symbol: m[3]! };
}
export const PositionQuantitySchema = z
  .number()
  .finite()
  .min(-1_000_000_000_000)
  .max(1_000_000_000_000)
  .refine((n) => Math.abs(n * 100 - Math.round(n * 100)) < 1e-6, 'must be in whole cents');

/**
 * A deal waiting in needs_reconciliation, released as not executed: its reservation is freed, so money moves.
 * Its value is the stage of the deal's claim (null: no claim); a release applies only to a waiting deal.
 */
export const DealReleaseTargetSchema = DealIdSchema;
export const DealClaimStageSchema = z.enum(['claimed', 'executing', 'needs_reconciliation', 'done']);

export const OPERATIONAL_CHANGE_KINDS = [
  'execution_token',
  'strategy_pause',
  'breaker_event',
  'position',
  'deal_release',
] as const;
export type OperationalChangeKind = (typeof OPERATIONAL_CHANGE_KINDS)[number];
