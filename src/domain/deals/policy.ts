import { z } from 'zod';
import {
  ActorSchema,
  type ApplyMode,
  type ExecutionClass,
  ExecutionClassSchema,
  ReasonSchema,
} from '../control-plane/primitives';
import { SymbolSchema } from '../permits/rules';
import { POSITION_SCOPES } from './positions';
import { EngineSchema } from '../risk/rules';

// What an action *is* (invariant 7): its execution class, the gates it needs
// and its position come from Warden's own policy and records. A producer may
// only ask for something stricter.

/** An engine's operator-set execution policy. */
export interface ExecutionPolicy {
  engine: string;
  executionClass: ExecutionClass;
  /** A deal on this engine must name a registered, enabled strategy (the strategy gate then judges it). */
  strategyRequired: boolean;
  /** A deal on this engine must carry a recommendation (the prod-eligibility gate then judges it). */
  recommendationRequired: boolean;
}

/**
 * The policy of an engine without a row: PROD_EXEC with no gate required,
 * which is how every deal ran before policies existed. PROD_EXEC is the class
 * every control-plane rule applies to (go-live and the kill switch), and an
 * engine without a risk policy is refused by the risk guard anyway
 * (`policy_missing`), so an unknown engine name gains nothing.
 */
export function defaultExecutionPolicy(engine: string): ExecutionPolicy {
  return { engine, executionClass: 'PROD_EXEC', strategyRequired: false, recommendationRequired: false };
}

/** Strictest first: observation, then sandbox work, then production. */
const STRICTNESS: Record<ExecutionClass, number> = { OBSERVE_ONLY: 0, SANDBOX_EXEC: 1, PROD_EXEC: 2 };

/** The stricter of two classes: the policy's and what the producer asked. A producer can never loosen. */
export function stricterClass(a: ExecutionClass, b: ExecutionClass): ExecutionClass {
  return STRICTNESS[a] <= STRICTNESS[b] ? a : b;
}

/**
 * The apply mode an action of this class runs in: OBSERVE_ONLY never
 * executes (dry_run), SANDBOX_EXEC never goes past testnet, PROD_EXEC runs in
 * the control plane's mode.
 */
export function effectiveApplyMode(executionClass: ExecutionClass, applyMode: ApplyMode): ApplyMode {
  if (executionClass === 'OBSERVE_ONLY') return 'dry_run';
  if (executionClass === 'SANDBOX_EXEC' && applyMode === 'live') return 'testnet';
  return applyMode;
}

export type AdmissionDenial = 'strategy_required' | 'recommendation_required' | 'no_executor';

export type Admission =
  | {
      admitted: true;
      /** The effective class: the stricter of the engine's policy and the producer's ask. */
      executionClass: ExecutionClass;
      policy: ExecutionPolicy;
    }
  | { admitted: false; reason: AdmissionDenial; detail: string; executionClass: ExecutionClass };

export interface AdmissionRequest {
  policy: ExecutionPolicy;
  requestedClass: ExecutionClass;
  strategyId: string | undefined;
  /** The named strategy as Warden knows it; undefined when it is not registered. */
  strategy: { enabled: boolean } | undefined;
  recommendationId: string | undefined;
  /** The producer's executor queue, if it named one. */
  executorTaskQueue: string | undefined;
  /** The queue the deal's workflow runs on (Warden's own). */
  ownTaskQueue: string;
  /** Does Warden's own worker serve an `executeDeal`? */
  executorServed: boolean;
}

/**
 * Admission, before anything is reserved: the effective class, the gates the
 * engine's policy requires, and whether anything can execute the deal.
 */
export function decideAdmission(r: AdmissionRequest): Admission {
  const executionClass = stricterClass(r.policy.executionClass, r.requestedClass);
  const deny = (reason: AdmissionDenial, detail: string): Admission => ({
    admitted: false,
    reason,
    detail,
    executionClass,
  });
  if (r.policy.strategyRequired) {
    if (r.strategyId === undefined)
      return deny('strategy_required', `engine ${r.policy.engine} requires a strategyId (the strategy gate)`);
    if (r.strategy === undefined || !r.strategy.enabled)
      return deny(
        'strategy_required',
        `engine ${r.policy.engine} requires a registered, enabled strategy; ${r.strategyId} is ${r.strategy ? 'disabled' : 'not registered'}`,
      );
  }
  if (r.policy.recommendationRequired && r.recommendationId === undefined)
    return deny(
      'recommendation_required',
      `engine ${r.policy.engine} requires a recommendationId (the prod-eligibility gate)`,
    );
  // Observation never calls an executor, so it needs none.
  const onOwnQueue = r.executorTaskQueue === undefined || r.executorTaskQueue === r.ownTaskQueue;
  if (executionClass !== 'OBSERVE_ONLY' && onOwnQueue && !r.executorServed)
    return deny(
      'no_executor',
      `no executorTaskQueue given and Warden's queue ${r.ownTaskQueue} serves no executeDeal (simulated executors are off)`,
    );
  return { admitted: true, executionClass, policy: r.policy };
}

export const SetExecutionPolicyInputSchema = z.strictObject({
  engine: EngineSchema,
  executionClass: ExecutionClassSchema,
  strategyRequired: z.boolean(),
  recommendationRequired: z.boolean(),
  actor: ActorSchema,
  reason: ReasonSchema,
});
export type SetExecutionPolicyInput = z.infer<typeof SetExecutionPolicyInputSchema>;

// Positions: src/domain/deals/positions.ts; the operator's reconciliation of one is validated here.

const ScopeIdSchema = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected a strategy id or an engine name');

export const ReconcilePositionInputSchema = z.strictObject({
  scope: z.enum(POSITION_SCOPES, { message: 'expected strategy or engine' }),
  scopeId: ScopeIdSchema,
  symbol: SymbolSchema,
  quantity: z
    .number()
    .finite()
    .min(-1_000_000_000_000)
    .max(1_000_000_000_000)
    .refine((n) => Math.abs(n * 100 - Math.round(n * 100)) < 1e-6, 'must be in whole cents'),
  actor: ActorSchema,
  reason: ReasonSchema,
});
export type ReconcilePositionInput = z.infer<typeof ReconcilePositionInputSchema>;
