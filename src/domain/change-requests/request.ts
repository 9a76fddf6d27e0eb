import { z } from 'zod';
import { ActorSchema, ReasonSchema } from '../control-plane/types';
import { type Role, RoleSchema } from '../identity/roles';
import { safeText } from '../shared/validation';
import type { ApprovalRecord, ApprovalSlot } from './approvals';
import { POLICY_CHANGE_KINDS } from './changes';
import type { ClassifiedChange } from './classify';
import { ChangeRequestIdSchema } from './id';

// A change request's life: opened pending (or approved at once when nothing
// loosens), approved once every slot is filled, applied at its apply time; or
// rejected, cancelled by its requester, expired, or stale (the state it was
// read against moved on before it applied). Pure: the workflow and the
// repository both follow these rules.

export const CHANGE_REQUEST_STATUSES = [
  'pending',
  'approved',
  'applied',
  'rejected',
  'expired',
  'cancelled',
  'stale',
] as const;
export type ChangeRequestStatus = (typeof CHANGE_REQUEST_STATUSES)[number];
export const ChangeRequestStatusSchema = z.enum(CHANGE_REQUEST_STATUSES);

/** Where each status may go. An approved request may still be rejected or cancelled until it applies. */
const NEXT: Record<ChangeRequestStatus, readonly ChangeRequestStatus[]> = {
  pending: ['approved', 'rejected', 'expired', 'cancelled'],
  approved: ['applied', 'stale', 'rejected', 'cancelled'],
  applied: [],
  rejected: [],
  expired: [],
  cancelled: [],
  stale: [],
};

export const canMove = (from: ChangeRequestStatus, to: ChangeRequestStatus): boolean => NEXT[from].includes(to);
export const isFinal = (status: ChangeRequestStatus): boolean => NEXT[status].length === 0;

export const HOUR_MS = 3_600_000;
export const DEFAULT_EXPIRY_HOURS = 7 * 24;
export const MAX_EXPIRY_HOURS = 30 * 24;
/**
 * Signals and updates one run of a request takes: past it the request continues as new, so its history
 * stays bounded and spam cannot starve it (runs from before that ignored the rest, audited once).
 */
export const MAX_MESSAGES = 500;

/** What a requester sends: each change's kind, target and wanted state; Warden reads `before` itself. */
export const ProposedChangeSchema = z
  .object({
    kind: z.enum(POLICY_CHANGE_KINDS, { message: `expected one of ${POLICY_CHANGE_KINDS.join(', ')}` }),
    target: safeText({ max: 300 }),
    after: z.unknown(),
    /** Ignored where Warden reads the current state; names the entry an approver or restriction change removes. */
    before: z.unknown().optional(),
  })
  .strict();
export type ProposedChange = z.infer<typeof ProposedChangeSchema>;
const ChangesSchema = z
  .array(ProposedChangeSchema)
  .min(1, 'must propose at least one change')
  .max(200, 'at most 200 changes in one request');

export const RequesterSchema = z.strictObject({
  name: ActorSchema,
  roles: z.array(RoleSchema).max(8).default([]),
});
export type Requester = { name: string; roles: Role[] };

const TokenSchema = z.string().min(1).max(8192);

/** The start of a `policyChange` workflow, as the client or the Temporal CLI sends it. */
export const PolicyChangeStartSchema = z.strictObject({
  id: ChangeRequestIdSchema,
  requestedBy: RequesterSchema,
  changes: ChangesSchema,
  reason: ReasonSchema,
  /** Not before: an approved request applies at this time (ISO 8601), before its expiry. */
  applyAt: z.iso
    .datetime({ offset: true, message: 'expected an ISO 8601 time such as 2026-12-05T09:00:00Z' })
    .optional(),
  expiresInHours: z
    .number()
    .int('must be a whole number of hours')
    .min(1, 'must be at least 1')
    .max(MAX_EXPIRY_HOURS, `must be at most ${MAX_EXPIRY_HOURS} (30 days)`)
    .optional(),
  /** The requester's signed token (audience `policy-change-<id>:request`): needed to loosen with signed approvals on. */
  token: TokenSchema.optional(),
});
export type PolicyChangeStart = z.input<typeof PolicyChangeStartSchema>;
export type ParsedPolicyChangeStart = z.output<typeof PolicyChangeStartSchema>;

/** When a request opened at `createdAt` expires, and when it may apply; the problem names the field. */
export function requestWindow(
  createdAt: Date,
  input: { applyAt?: string | undefined; expiresInHours?: number | undefined },
): { ok: true; expiresAt: Date; applyAt: Date | null } | { ok: false; problem: string } {
  const expiresAt = new Date(createdAt.getTime() + (input.expiresInHours ?? DEFAULT_EXPIRY_HOURS) * HOUR_MS);
  if (input.applyAt === undefined) return { ok: true, expiresAt, applyAt: null };
  const applyAt = new Date(input.applyAt);
  if (applyAt.getTime() >= expiresAt.getTime())
    return {
      ok: false,
      problem: `applyAt: ${input.applyAt} is not before the request expires (${expiresAt.toISOString()})`,
    };
  return { ok: true, expiresAt, applyAt };
}

// Messages. Every one names its actor; tokens are checked by the worker.
const comment = safeText({ max: 2000, min: 0, multiline: true });
export const ApproveChangePayloadSchema = z.strictObject({
  actor: ActorSchema,
  role: RoleSchema,
  comment: comment.optional(),
  token: TokenSchema.optional(),
});
export type ApproveChangePayload = z.infer<typeof ApproveChangePayloadSchema>;
export const RejectChangePayloadSchema = z.strictObject({
  actor: ActorSchema,
  role: RoleSchema,
  reason: ReasonSchema,
  token: TokenSchema.optional(),
});
export type RejectChangePayload = z.infer<typeof RejectChangePayloadSchema>;
/** The requester's new set of changes (and reason): approvals given so far are revoked. */
export const EditChangePayloadSchema = z.strictObject({
  actor: ActorSchema,
  changes: ChangesSchema,
  reason: ReasonSchema.optional(),
  token: TokenSchema.optional(),
});
export type EditChangePayload = z.infer<typeof EditChangePayloadSchema>;
export const CancelChangePayloadSchema = z.strictObject({
  actor: ActorSchema,
  reason: ReasonSchema,
});
export type CancelChangePayload = z.infer<typeof CancelChangePayloadSchema>;

/** What the workflow's `status` query, its updates and the client answer. */
export interface ChangeRequestView {
  id: string;
  workflowId: string;
  /** `opening` until the request is recorded; `refused` when it could not be (nothing recorded). */
  status: ChangeRequestStatus | 'opening' | 'refused';
  requestedBy: Requester;
  reason: string;
  changes: ClassifiedChange[];
  required: ApprovalSlot[];
  approvals: ApprovalRecord[];
  missing: ApprovalSlot[];
  /** Bumped by each edit; approvals are for the current revision. */
  revision: number;
  applyAt: string | null;
  expiresAt: string | null;
  createdAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  appliedAt: string | null;
  /** Why it ended as it did, or why it was refused. */
  detail: string | null;
  /** Messages refused (and audited). */
  rejectedMessages: number;
}

/** Moves a view to `to` (when the rules allow it), stamping who decided and when. */
export function moveTo(
  view: ChangeRequestView,
  to: ChangeRequestStatus,
  by: { actor: string; at: Date; detail?: string },
): boolean {
  if (view.status === 'opening' || view.status === 'refused' || !canMove(view.status, to)) return false;
  view.status = to;
  if (to === 'applied') view.appliedAt = by.at.toISOString();
  else {
    view.decidedAt = by.at.toISOString();
    view.decidedBy = by.actor;
  }
  if (by.detail !== undefined) view.detail = by.detail;
  return true;
}
