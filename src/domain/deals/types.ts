import { z } from 'zod';
import { MessagesPerRunSchema } from '../shared/validation';
import {
  ActorSchema,
  type ApplyMode,
  type ExecutionClass,
  ExecutionClassSchema,
  ReasonSchema,
} from '../control-plane/primitives';
import { ChangeRequestIdSchema } from '../change-requests/id';
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
  /**
   * Where the producer's `executeDeal` runs. Without it, Warden's own queue: it serves a
   * (simulated) executor only under `npm start`, the tests or WARDEN_SIMULATED_EXECUTORS=true;
   * otherwise the deal is denied `no_executor` before anything is reserved.
   */
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
  /**
   * Ignored, kept for old callers: a producer's claim cannot unlock the reduce-only exemption.
   * The strategy gate reads Warden's own position (kept from executed deals and audited
   * reconciliations, `warden positions`).
   */
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
  /**
   * Approvals a run takes while the order waits before it hands over to a new run (default 500), as
   * when the server suggests one: a flood would grow its history to the server's limit, which ends it.
   */
  messagesPerRun: MessagesPerRunSchema.optional(),
});
export type DealInput = z.input<typeof DealInputSchema>;
export const DEFAULT_DEAL_MESSAGES_PER_RUN = 500;
export type ParsedDealInput = z.output<typeof DealInputSchema>;

/** A deal in one line: its workflow's summary in the Web UI (static, from the start) and its first current details. */
export const dealSummary = (deal: ParsedDealInput): string =>
  `Deal ${deal.dealId}: ${deal.side} ${deal.amount} ${deal.symbol} on ${deal.engine}${deal.strategyId !== undefined ? `, strategy ${deal.strategyId}` : ''}, by ${deal.requestedBy}`;

/**
 * `claim`: the deal id was claimed before, by another workflow or with other terms.
 * `policy`: the engine's execution policy refused it (`strategy_required`,
 * `recommendation_required`, `no_executor`).
 */
export const DEAL_GATES = [
  'control_plane',
  'strategy',
  'risk',
  'prod_eligibility',
  'permit',
  'claim',
  'policy',
] as const;
export type DealGate = (typeof DEAL_GATES)[number];

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
  | { status: 'failed'; dealId: string; error: string; compensated: true }
  /**
   * The executor may have run (a timeout, retries exhausted, a cancel after it
   * was scheduled, a lost worker): the reservation stays held until an
   * operator's `reconcileDeal` settles or releases it. The workflow's final
   * result is then the reconciled one; this status is what the deal shows
   * (progress query, audit, a sweep of a closed workflow) while it waits.
   */
  | {
      status: 'needs_reconciliation';
      dealId: string;
      applyMode: Exclude<ApplyMode, 'dry_run'> | null;
      permitId: string | null;
      cause: string;
    };

/** How a deal ends (its WardenOutcome search attribute): every status of DealResult. */
export const DEAL_OUTCOMES = [
  'executed',
  'dry_run',
  'shadow',
  'paper',
  'denied',
  'failed',
  'needs_reconciliation',
] as const satisfies readonly DealResult['status'][];

/**
 * `reconcileDeal`: an operator's word on a deal that may have executed. Plain
 * JSON, so the Temporal CLI and UI can send it:
 * `{"executed": false, "actor": "alice", "reason": "no fill at the exchange"}`.
 */

export const ReconcileDealInputSchema = z.strictObject({
  executed: z.boolean({ message: 'expected true or false: did the order execute?' }),
  /** The loss the executed order booked; only with `executed: true`. */
  realizedLoss: z.number().finite().nonnegative('must be 0 or more').max(1_000_000_000).optional(),
  externalId: z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, 'expected the execution id, printable ASCII')
    .optional(),
  actor: ActorSchema,
  reason: ReasonSchema,
  /**
   * Since deal-release-approval: a release (`executed: false`) frees money, so it counts only when this
   * change request (kind `deal_release`, for this deal) has applied; its applier sends the word.
   */
  changeRequestId: ChangeRequestIdSchema.optional(),
});
export type ReconcileDealInput = z.input<typeof ReconcileDealInputSchema>;

/** The terms a deal id is claimed with: a second workflow for the id must bring the same ones. */
export interface DealTerms {
  engine: string;
  symbol: string;
  amount: number;
  executionClass: string;
  strategyId: string | null;
  side: 'buy' | 'sell';
}

/** The terms a caller of the `admission` update names: each field as the deal's input has it, nothing else. */
export const DealTermsSchema = z.strictObject({
  engine: DealInputSchema.shape.engine,
  symbol: DealInputSchema.shape.symbol,
  amount: DealInputSchema.shape.amount,
  executionClass: ExecutionClassSchema,
  strategyId: DealInputSchema.shape.strategyId.unwrap().nullable(),
  side: z.enum(['buy', 'sell']),
});

export function dealTermsOf(input: ParsedDealInput): DealTerms {
  return {
    engine: input.engine,
    symbol: input.symbol,
    amount: input.amount,
    executionClass: input.executionClass,
    strategyId: input.strategyId ?? null,
    side: input.side,
  };
}

/**
 * The `admission` update's answer (issue 16 item 4): `admitted` once the last gate used the deal's permit
 * (execution goes on durably), or `ended` with the deal's result when it ended before that (a denial,
 * a shadow or paper deal, a duplicate id's first result, a wait for reconciliation).
 */
export type DealAdmissionAnswer =
  | { outcome: 'admitted'; dealId: string; permitId: string; applyMode: ApplyMode }
  | { outcome: 'ended'; dealId: string; result: DealResult };

/** What the producer's executor receives: a permitted, reserved action to carry out. */
export interface ExecuteDealInput {
  dealId: string;
  engine: string;
  symbol: string;
  amount: number;
  /** The effective apply mode: at most `testnet` for SANDBOX_EXEC. */
  applyMode: Exclude<ApplyMode, 'dry_run'>;
  permitId: string;
  /** The effective execution class, by Warden's policy (absent from deals started before `deal-policy`). */
  executionClass?: ExecutionClass;
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
  | 'claim'
  | 'awaiting_reconciliation'
  | 'done';

export interface DealProgress {
  dealId: string;
  stage: DealStage;
  gates: { gate: DealGate | 'pre_execute_check'; ok: boolean; reason?: string }[];
  applyMode: ApplyMode | null;
  result: DealResult | null;
}
