import { z } from 'zod';
import { ActorSchema, ReasonSchema } from '../control-plane/types';
import { describeIssues, safeText, TokenTextSchema } from '../shared/validation';
import { type ApproverRole, ApproverRoleSchema, nextPhase, type Phase, PhaseSchema } from './phases';
import type { ReadinessReport } from './readiness';
import { type ApprovalCheck, onAllowlist } from './allowlist';

/**
 * `breakerTripped`: a revert_to_l3 breaker tripped while the proposal validates. Warden's breaker evaluation
 * sends it after it reverted the phase; since breaker-trip-checked the proposal reverts only once Warden's
 * breaker event confirms it (anyone who can signal could send one), and bounded, as it is stored.
 */
export const BreakerTrippedPayloadSchema = z.strictObject({
  rule: safeText({ max: 100 }),
  detail: safeText({ max: 4000, min: 0, multiline: true }).optional(),
  eventId: z.string().regex(/^[1-9][0-9]{0,17}$/, 'expected the id of the breaker event that reverted the phase'),
});
export type BreakerTrippedPayload = z.infer<typeof BreakerTrippedPayloadSchema>;

/** The `message` of the one audit event that accounts for the signals a full hand-over refused in aggregate. */
export const SPILLED_MESSAGE = 'handOverOverflow';

/** A signed approval token; required when signed approvals are on (`approver` must be its subject). */
const TokenSchema = TokenTextSchema.optional();
export const ApprovePayloadSchema = z.strictObject({
  role: ApproverRoleSchema,
  approver: ActorSchema,
  comment: safeText({ max: 2000, min: 0, multiline: true }).optional(),
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
  commands: z.array(safeText({ max: 200 })).max(500),
  validationDays: z.number().int().min(1).max(365),
  achievements: z.array(safeText({ max: 2000, multiline: true })).max(200),
  risk: z.strictObject({
    level: z.enum(['low', 'medium', 'high']),
    mitigations: z.array(safeText({ max: 2000, multiline: true })).max(200),
  }),
  requiredRoles: z.array(ApproverRoleSchema).min(1),
  /** Who may approve for each role, fixed when the proposal is made. */
  approvers: z.record(z.string(), z.array(ActorSchema)),
  expiresInDays: z.number().min(0.001).max(365).default(14),
});
export type ProposalTerms = z.input<typeof ProposalTermsSchema>;
export type ParsedProposalTerms = z.output<typeof ProposalTermsSchema>;

/**
 * An expansion proposal's terms as Warden records them (proposal_record), keyed by the proposal id:
 * written by the governance cycle, or by an operator in an approver role. No allowlist: approvers are
 * read from Warden's approver table when each decision is judged.
 */
export const RecordedProposalTermsSchema = ProposalTermsSchema.omit({ approvers: true }).extend({
  /** Who asked for it: the governance cycle, or the operator. They may not approve it themselves. */
  requestedBy: ActorSchema,
});
export type RecordedProposalTerms = z.output<typeof RecordedProposalTermsSchema>;

/**
 * What `expansionProposal` is started with. Since Warden-owned proposals only the workflow id matters:
 * the terms and approvers are loaded from Warden's record, and any terms here (old callers send the
 * whole `ProposalTerms`) are ignored.
 */
export type ProposalStart = ProposalTerms | { proposalId?: string };

/**
 * The rules a decision is judged by. With `approvers`, the allowlist is the one given (proposals started
 * before Warden-owned proposals); without, the approver table is read when the decision is judged.
 */
export interface ApprovalRules {
  targetPhase: Phase;
  requiredRoles: ApproverRole[];
  approvers?: Record<string, string[]>;
  /** The requester, who may not approve their own proposal. */
  requestedBy?: string;
}

export interface Approval {
  role: ApproverRole;
  approver: string;
  comment: string | null;
  at: string;
}

function mayAct(terms: ApprovalRules, role: ApproverRole, approver: string): ApprovalCheck {
  if (!terms.requiredRoles.includes(role))
    return {
      ok: false,
      reason: `role: ${role} is not required for ${terms.targetPhase} (required: ${terms.requiredRoles.join(', ')})`,
    };
  if (terms.approvers !== undefined) {
    const listed = onAllowlist(terms.approvers, role, approver);
    if (!listed.ok) return listed;
  }
  if (terms.requestedBy !== undefined && terms.requestedBy === approver)
    return { ok: false, reason: `approver: ${approver} requested this proposal; approval must come from someone else` };
  return { ok: true };
}

/**
 * Whether an approved proposal may widen the phase now: only from the phase it started from, and only one
 * step up the ladder. Otherwise it is stale (a breaker reverted the phase, another proposal moved it).
 */
export function checkPhaseStillFrom(current: Phase, fromPhase: Phase, targetPhase: Phase): ApprovalCheck {
  if (nextPhase(fromPhase) !== targetPhase)
    return { ok: false, reason: `${fromPhase} → ${targetPhase} is not one step up the ladder` };
  if (current !== fromPhase)
    return {
      ok: false,
      reason: `the phase is ${current}, no longer ${fromPhase} where this proposal started; nothing applied`,
    };
  return { ok: true };
}

/**
 * Whether an approval counts: the role is required, the approver is on its
 * allowlist, the role is not yet filled, and nobody fills two roles. A
 * repeat of an approval already counted is refused (and changes nothing).
 */
export function checkApproval(
  terms: ApprovalRules,
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
          ? `approver: ${approver} already approved as ${role}`
          : `role: ${role} already approved by ${sameRole.approver}`,
    };
  }
  const otherRole = approvals.find((a) => a.approver === approver);
  if (otherRole)
    return {
      ok: false,
      reason: `approver: ${approver} already approved as ${otherRole.role}; one person cannot fill two roles`,
    };
  return { ok: true, payload: parsed.data };
}

export function checkRejection(terms: ApprovalRules, raw: unknown): ApprovalCheck & { payload?: RejectPayload } {
  const parsed = RejectPayloadSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error) };
  const allowed = mayAct(terms, parsed.data.role, parsed.data.approver);
  return allowed.ok ? { ok: true, payload: parsed.data } : allowed;
}

export type ProposalStatus =
  | 'pending'
  | 'validating'
  | 'validated'
  | 'rejected'
  | 'expired'
  | 'reverted'
  /** Approved after the phase moved on from `fromPhase`: nothing applied. */
  | 'stale'
  /** Started for an id Warden holds no open proposal record for: nothing happened. */
  | 'refused';

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
  /** Why a `stale` or `refused` proposal ended (since Warden-owned proposals). */
  endReason?: string;
  /** Who asked for it (since Warden-owned proposals). */
  requestedBy?: string;
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

/**
 * Warden's terms for widening `phase` one step: the next phase's definition decides the commands, the
 * validation period and the required roles. The governance cycle and an operator's proposal both use it,
 * so nobody picks their own terms.
 */
export function expansionTermsFor(input: {
  phase: Phase;
  next: {
    phase: Phase;
    addedCommands: string[];
    allCommands: boolean;
    validationDays: number;
    requiredRoles: ApproverRole[];
  };
  at: Date;
  achievements: string[];
  requestedBy: string;
  expiresInDays?: number;
}): RecordedProposalTerms {
  const { next } = input;
  return {
    proposalId: `expansion-${next.phase}-${input.at.toISOString().slice(0, 10)}`,
    fromPhase: input.phase,
    targetPhase: next.phase,
    commands: next.allCommands ? ['*all commands*', ...next.addedCommands] : next.addedCommands,
    validationDays: next.validationDays,
    achievements: input.achievements,
    risk: riskFor(next.phase, next.validationDays),
    requiredRoles: next.requiredRoles,
    expiresInDays: input.expiresInDays ?? 14,
    requestedBy: input.requestedBy,
  };
}
