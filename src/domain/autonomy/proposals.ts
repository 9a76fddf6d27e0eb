import { z } from 'zod';
import { ActorSchema, ReasonSchema } from '../control-plane/types';
import { describeIssues } from '../shared/validation';
import { type ApproverRole, ApproverRoleSchema, type Phase, PhaseSchema } from './phases';
import type { ReadinessReport } from './readiness';

/** A signed approval token; required when signed approvals are on (`approver` must be its subject). */
const TokenSchema = z.string().min(1).max(4096).optional();
export const ApprovePayloadSchema = z.strictObject({
  role: ApproverRoleSchema,
  approver: ActorSchema,
  comment: z.string().max(2000).optional(),
  token: TokenSchema,
});
export const RejectPayloadSchema = z.strictObject({
  role: ApproverRoleSchema,
  approver: ActorSchema,
  reason: ReasonSchema,
  token: TokenSchema,
});
export type ApprovePayload = z.infer<typeof ApprovePayloadSchema>;
export type RejectPayload = z.infer<typeof RejectPayloadSchema>;

export const ProposalTermsSchema = z.strictObject({
  proposalId: z.string().regex(/^[A-Za-z0-9._:+-]{1,128}$/),
  fromPhase: PhaseSchema,
  targetPhase: PhaseSchema,
  commands: z.array(z.string()),
  validationDays: z.number().int().min(1).max(365),
  achievements: z.array(z.string()),
  risk: z.strictObject({ level: z.enum(['low', 'medium', 'high']), mitigations: z.array(z.string()) }),
  requiredRoles: z.array(ApproverRoleSchema).min(1),
  /** Who may approve for each role, fixed when the proposal is made. */
  approvers: z.record(z.string(), z.array(z.string())),
  expiresInDays: z.number().min(0.001).max(365).default(14),
});
export type ProposalTerms = z.input<typeof ProposalTermsSchema>;
export type ParsedProposalTerms = z.output<typeof ProposalTermsSchema>;

export interface Approval {
  role: ApproverRole;
  approver: string;
  comment: string | null;
  at: string;
}

export type ApprovalCheck = { ok: true } | { ok: false; reason: string };

function mayAct(terms: ParsedProposalTerms, role: ApproverRole, approver: string): ApprovalCheck {
  if (!terms.requiredRoles.includes(role))
    return {
      ok: false,
      reason: `role ${role} is not required for ${terms.targetPhase} (required: ${terms.requiredRoles.join(', ')})`,
    };
  if (!(terms.approvers[role] ?? []).includes(approver))
    return { ok: false, reason: `${approver} is not on the allowlist for ${role}` };
  return { ok: true };
}

/**
 * Whether an approval counts: the role is required, the approver is on its
 * allowlist, the role is not yet filled, and nobody fills two roles. A
 * repeat of an approval already counted is refused (and changes nothing).
 */
export function checkApproval(
  terms: ParsedProposalTerms,
  approvals: Approval[],
  raw: unknown,
): ApprovalCheck & { payload?: ApprovePayload } {
  const parsed = ApprovePayloadSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error) };
  const { role, approver } = parsed.data;
  const allowed = mayAct(terms, role, approver);
  if (!allowed.ok) return allowed;
  const sameRole = approvals.find((a) => a.role === role);
  if (sameRole) {
    return {
      ok: false,
      reason:
        sameRole.approver === approver
          ? `${approver} already approved as ${role}`
          : `${role} already approved by ${sameRole.approver}`,
    };
  }
  const otherRole = approvals.find((a) => a.approver === approver);
  if (otherRole)
    return { ok: false, reason: `${approver} already approved as ${otherRole.role}; one person cannot fill two roles` };
  return { ok: true, payload: parsed.data };
}

export function checkRejection(terms: ParsedProposalTerms, raw: unknown): ApprovalCheck & { payload?: RejectPayload } {
  const parsed = RejectPayloadSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error) };
  const allowed = mayAct(terms, parsed.data.role, parsed.data.approver);
  return allowed.ok ? { ok: true, payload: parsed.data } : allowed;
}

export type ProposalStatus = 'pending' | 'validating' | 'validated' | 'rejected' | 'expired' | 'reverted';

export interface ProposalView {
  proposalId: string;
  status: ProposalStatus;
  fromPhase: Phase;
  targetPhase: Phase;
  commands: string[];
  validationDays: number;
  requiredRoles: ApproverRole[];
  approvals: Approval[];
  missingRoles: ApproverRole[];
  rejection: { role: string; approver: string; reason: string } | null;
  rejectedMessages: number;
  createdAt: string;
  expiresAt: string;
  validationEndsAt: string | null;
  revertedBy: string | null;
}

export interface ExpansionInputs {
  phase: Phase;
  next: { phase: Phase; commands: string[]; validationDays: number; requiredRoles: ApproverRole[] } | undefined;
  daysAtPhase: number;
  currentValidationDays: number | null;
  readiness: ReadinessReport;
  unresolvedBreakerEvents: number;
  openProposals: number;
}

export type ExpansionDecision = { expand: true; reasons: string[] } | { expand: false; reasons: string[] };

/** Seed 002's expansion decision logic: every condition must hold. */
export function decideExpansion(i: ExpansionInputs): ExpansionDecision {
  const minimumDays = i.phase === 'L3' ? 180 : (i.currentValidationDays ?? 0);
  const checks: [boolean, string][] = [
    [i.next !== undefined, i.next ? `next phase ${i.next.phase}` : `${i.phase} is the last phase`],
    [
      i.readiness.scoreFraction >= 0.95,
      `readiness ${i.readiness.score}/80 (${(i.readiness.scoreFraction * 100).toFixed(1)}%, need ≥ 95%)`,
    ],
    [
      i.readiness.allRequiredPassed,
      i.readiness.allRequiredPassed ? 'all required items passed' : 'required checklist items missing',
    ],
    [i.unresolvedBreakerEvents === 0, `${i.unresolvedBreakerEvents} unresolved circuit breaker event(s)`],
    [i.openProposals === 0, `${i.openProposals} proposal(s) pending or validating`],
    [i.daysAtPhase >= minimumDays, `${Math.floor(i.daysAtPhase)} days at ${i.phase} (minimum ${minimumDays})`],
  ];
  const failing = checks.filter(([ok]) => !ok).map(([, why]) => why);
  return failing.length === 0
    ? { expand: true, reasons: checks.map(([, why]) => why) }
    : { expand: false, reasons: failing };
}

export function riskFor(target: Phase, validationDays: number): ParsedProposalTerms['risk'] {
  const level = target === 'L3+' ? 'low' : target === 'L4' ? 'medium' : 'high';
  return {
    level,
    mitigations: [
      `${validationDays}-day validation period; any revert_to_l3 breaker trip reverts to L3 at once`,
      'circuit breakers evaluated after every command outcome',
      'kill switch stops all production execution',
    ],
  };
}
