import { z } from 'zod';
import { ActorSchema, type ApplyMode, ExecutionClassSchema } from '../control-plane/types';
import { DomainSchema } from '../prod-eligibility/rules';
import { SymbolSchema } from '../permits/rules';
import { EngineSchema } from '../risk/rules';
import { ImpactInputSchema } from '../strategy/rules';

export const DealIdSchema = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected 1-128 letters, digits or . _ : -');

export const DealInputSchema = z.strictObject({
  dealId: DealIdSchema,
  engine: EngineSchema,
  symbol: SymbolSchema,
  amount: z
    .number()
    .positive('must be greater than 0')
    .max(1_000_000_000, 'must be at most 1,000,000,000')
    .refine((n) => Math.abs(n * 100 - Math.round(n * 100)) < 1e-6, 'must be in whole cents'),
  domain: DomainSchema.optional(),
  recommendationId: z.uuid('expected a recommendation id (uuid)').optional(),
  executionClass: ExecutionClassSchema.default('PROD_EXEC'),
  requestedBy: ActorSchema,
  /** Where the producer's `executeDeal` runs; defaults to Warden's own queue and its simulated executor. */
  executorTaskQueue: z
    .string()
    .regex(/^\S{1,255}$/, 'expected a task queue name')
    .optional(),
  // Seed 001: a trade names its strategy, so the strategy gate can judge it.
  strategyId: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected a strategy id')
    .optional(),
  side: z.enum(['buy', 'sell']).default('buy'),
  /** The strategy's current position in this symbol (signed notional), to tell exits from growth. */
  position: z.number().finite().default(0),
  impact: ImpactInputSchema.optional(),
  executionTokenId: z.uuid('expected an execution token id').optional(),
  /** How long an order that needs a human (L2, or CRITICAL impact) waits for `approveOrder`. */
  orderApprovalTimeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 86_400)
    .default(3600),
});
export type DealInput = z.input<typeof DealInputSchema>;
export type ParsedDealInput = z.output<typeof DealInputSchema>;

export type DealGate = 'control_plane' | 'strategy' | 'risk' | 'prod_eligibility' | 'permit';

export type DealResult =
  | {
      status: 'executed';
      dealId: string;
      applyMode: Exclude<ApplyMode, 'dry_run'>;
      permitId: string;
      realizedLoss: number;
      externalId: string | null;
    }
  | { status: 'dry_run'; dealId: string; applyMode: 'dry_run'; permitId: string }
  | { status: 'shadow'; dealId: string; strategyId: string; amount: number }
  | { status: 'paper'; dealId: string; strategyId: string; amount: number }
  | { status: 'denied'; dealId: string; gate: DealGate; reason: string; detail: string }
  | { status: 'failed'; dealId: string; error: string; compensated: true };

/** What the producer's executor receives: a permitted, reserved action to carry out. */
export interface ExecuteDealInput {
  dealId: string;
  engine: string;
  symbol: string;
  amount: number;
  applyMode: Exclude<ApplyMode, 'dry_run'>;
  permitId: string;
}

export interface ExecuteDealResult {
  /** Loss booked against the day's ledger; 0 for none. */
  realizedLoss: number;
  /** Realized P&L of the trade, for the strategy's health and maturity; defaults to -realizedLoss. */
  pnl?: number;
  externalId?: string;
}

/**
 * The producer's side: an activity named `executeDeal`. It must be
 * idempotent per dealId, since Temporal retries it; throw an
 * ApplicationFailure of type `ExecutionRejected` for a permanent refusal.
 */
export interface DealExecutor {
  executeDeal(input: ExecuteDealInput): Promise<ExecuteDealResult>;
}

export type DealStage =
  | 'control_plane'
  | 'strategy'
  | 'awaiting_order_approval'
  | 'reserve'
  | 'prod_eligibility'
  | 'permit'
  | 'pre_execute_check'
  | 'execute'
  | 'settle'
  | 'record'
  | 'compensate'
  | 'done';

export interface DealProgress {
  dealId: string;
  stage: DealStage;
  gates: { gate: DealGate | 'pre_execute_check'; ok: boolean; reason?: string }[];
  applyMode: ApplyMode | null;
  result: DealResult | null;
}
