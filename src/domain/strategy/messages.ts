import { z } from 'zod';
import { ActorSchema } from '../control-plane/primitives';
import { safeJsonRecord, safeText, TokenTextSchema } from '../shared/validation';
import { ApproverRoleSchema } from '../autonomy/phases';
import { MATURITY_LEVELS, MaturityLevelSchema, type MaturityLevel } from './rules';

/** `approveOrder` / `approvePromotion` payloads: who approves, in which role (checked against the approver allowlist). */
export const OrderApprovalSchema = z.strictObject({
  approver: ActorSchema,
  role: ApproverRoleSchema,
  comment: safeText({ max: 2000, min: 0, multiline: true }).optional(),
  /** A signed approval token; required when signed approvals are on (`approver` must be its subject). */
  token: TokenTextSchema.optional(),
});
export type OrderApproval = z.infer<typeof OrderApprovalSchema>;

export const PromotionInputSchema = z.strictObject({
  strategyId: safeText({ max: 200 }),
  from: MaturityLevelSchema,
  to: MaturityLevelSchema,
  evidence: safeJsonRecord({ maxLength: 64 * 1024 }),
  approvers: z.record(z.string(), z.array(ActorSchema)),
  expiresInDays: z.number().min(0.001).max(90).default(7),
});
/**
 * What `strategyPromotion` is started with. Since Warden-owned proposals only the workflow id matters:
 * the terms come from Warden's promotion record and the approvers from its approver table; the fields
 * here (old callers send all of them, `approvers` included) are accepted and ignored.
 */
export type PromotionInput = z.input<typeof PromotionInputSchema>;

/** One promotion proposal per strategy and level: its workflow id, and the key of Warden's record of it. */
export const promotionProposalId = (strategyId: string, to: MaturityLevel) => `strategy-promotion-${strategyId}-${to}`;

/** A promotion as Warden records it (proposal_record), keyed by `promotionWorkflowId(strategyId, to)`. */
export const RecordedPromotionSchema = z.strictObject({
  strategyId: safeText({ max: 200 }),
  from: MaturityLevelSchema,
  to: MaturityLevelSchema,
  evidence: safeJsonRecord({ maxLength: 64 * 1024 }),
  expiresInDays: z.number().min(0.001).max(90).default(7),
  /** `strategy-gate` when a trade's evidence earned it, or the operator who proposed it (who may not approve it). */
  requestedBy: ActorSchema,
});
export type RecordedPromotion = z.output<typeof RecordedPromotionSchema>;

export interface PromotionView {
  strategyId: string;
  from: MaturityLevel;
  to: MaturityLevel;
  /** `stale`: approved after the level moved from `from`; `refused`: no Warden record for this id. */
  status: 'pending' | 'promoted' | 'rejected' | 'expired' | 'stale' | 'refused';
  decidedBy: string | null;
  /** The latest refusals, newest last (at most 50). */
  refused: string[];
  /** Every refusal so far, in every run (since promotion-rolls-over). */
  rejectedMessages?: number;
  /** Why a `stale` or `refused` promotion ended (since Warden-owned proposals). */
  endReason?: string;
}

/** Whether an approved promotion may apply now: one level up from where it started, and the strategy still there. */
export function checkLevelStillFrom(
  current: MaturityLevel | undefined,
  from: MaturityLevel,
  to: MaturityLevel,
): { ok: true } | { ok: false; reason: string } {
  if (MATURITY_LEVELS.indexOf(to) !== MATURITY_LEVELS.indexOf(from) + 1)
    return { ok: false, reason: `${from} → ${to} is not one level up` };
  if (current === undefined) return { ok: false, reason: 'the strategy no longer exists' };
  if (current !== from)
    return { ok: false, reason: `the strategy is at ${current}, no longer ${from} where this promotion started` };
  return { ok: true };
}
