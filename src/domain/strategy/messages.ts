import { z } from 'zod';
import { ActorSchema } from '../control-plane/types';
import { ApproverRoleSchema } from '../autonomy/phases';
import { MaturityLevelSchema, type MaturityLevel } from './rules';

/** `approveOrder` / `approvePromotion` payloads: who approves, in which role (checked against the approver allowlist). */
export const OrderApprovalSchema = z.strictObject({
  approver: ActorSchema,
  role: ApproverRoleSchema,
  comment: z.string().max(2000).optional(),
  /** A signed approval token; required when signed approvals are on (`approver` must be its subject). */
  token: z.string().min(1).max(4096).optional(),
});
export type OrderApproval = z.infer<typeof OrderApprovalSchema>;

export const PromotionInputSchema = z.strictObject({
  strategyId: z.string().min(1),
  from: MaturityLevelSchema,
  to: MaturityLevelSchema,
  evidence: z.record(z.string(), z.unknown()),
  approvers: z.record(z.string(), z.array(z.string())),
  expiresInDays: z.number().min(0.001).max(90).default(7),
});
export type PromotionInput = z.input<typeof PromotionInputSchema>;

export interface PromotionView {
  strategyId: string;
  from: MaturityLevel;
  to: MaturityLevel;
  status: 'pending' | 'promoted' | 'rejected' | 'expired' | 'stale';
  decidedBy: string | null;
  refused: string[];
}
