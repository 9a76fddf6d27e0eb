import { z } from 'zod';
import { type Role, RoleSchema } from '../identity/roles';
import { sameIdentity } from '../identity/separation';
import { describeIssues } from '../shared/validation';
import { POLICY_CHANGE_KINDS, type PolicyChangeKind } from './changes';
import type { Classification } from './classify';

// Who must approve a change request that loosens something: per change kind, a
// list of slots, each filled by one person in one of the slot's roles (an owner
// may fill any slot). A request needs the union over its loosening changes.

/** One approval needed: someone in any of `roles`. */
export interface ApprovalSlot {
  roles: Role[];
}
export type ApprovalRequirements = Record<PolicyChangeKind, ApprovalSlot[]>;

const slot = (...roles: Role[]): ApprovalSlot => ({ roles });
const approver = slot('owner', 'manager', 'risk_officer');

/**
 * The defaults: money and gates need the risk officer and a manager; breakers
 * and command classes (seed 002's machine side) an engineer or the risk officer
 * and a manager; go-live, apply mode and approver lists an owner or manager and
 * one more approver; API keys the owner. Of operational state, what moves money (an execution token, a
 * position away from zero, a deal released) needs the risk officer and a manager; lifting a pause (a strategy's, a breaker's)
 * one approver.
 */
export const DEFAULT_CHANGE_APPROVALS: ApprovalRequirements = {
  risk_policy: [slot('risk_officer'), slot('manager')],
  regression_policy: [slot('risk_officer'), slot('manager')],
  breaker_rule: [slot('engineer', 'risk_officer'), slot('manager')],
  heimdall_policy: [slot('risk_officer'), slot('manager')],
  strategy: [slot('risk_officer'), slot('manager')],
  execution_policy: [slot('risk_officer'), slot('manager')],
  command_policy: [slot('engineer', 'risk_officer'), slot('manager')],
  approver: [slot('owner', 'manager'), approver],
  api_key: [slot('owner')],
  control_plane: [slot('owner', 'manager'), approver],
  restriction: [approver],
  execution_token: [slot('risk_officer'), slot('manager')],
  strategy_pause: [approver],
  breaker_event: [approver],
  position: [slot('risk_officer'), slot('manager')],
  deal_release: [slot('risk_officer'), slot('manager')],
};

/** A slot as configured: one role, or a list of roles any of which fills it. */
const SlotConfigSchema = z
  .union([RoleSchema, z.array(RoleSchema).min(1, 'a slot names at least one role')])
  .transform((v): ApprovalSlot => ({ roles: typeof v === 'string' ? [v] : [...new Set(v)] }));

/**
 * WARDEN_CHANGE_APPROVALS: JSON overriding the defaults per kind, e.g.
 * `{"risk_policy": ["risk_officer", "manager"], "control_plane": [["owner", "manager"], "risk_officer"]}`.
 * A kind needs at least one approval: nothing that loosens applies on its requester's word alone.
 */
const OverridesSchema = z.partialRecord(
  z.enum(POLICY_CHANGE_KINDS),
  z.array(SlotConfigSchema).min(1, 'a kind needs at least one approval').max(5, 'at most 5 approvals'),
);
export const ChangeApprovalsConfigSchema = z
  .string()
  .default('')
  .transform((text, ctx): ApprovalRequirements => {
    if (text.trim() === '') return DEFAULT_CHANGE_APPROVALS;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected JSON such as {"risk_policy": ["risk_officer", "manager"]}' });
      return z.NEVER;
    }
    // The field is named in the message: the configuration's error names only the variable.
    const parsed = OverridesSchema.safeParse(raw);
    if (!parsed.success) {
      ctx.addIssue({ code: 'custom', message: describeIssues(parsed.error) });
      return z.NEVER;
    }
    return { ...DEFAULT_CHANGE_APPROVALS, ...parsed.data };
  });

const slotKey = (s: ApprovalSlot) => [...s.roles].sort().join('|');

/**
 * A request's requirement: the union over its loosening changes. A slot needed
 * twice by one kind is needed twice; the same slot from two kinds is needed once
 * as many times as the kind that needs it most. Tightening-only requests need none,
 * unless `everyChange` asks for review of every change (a Warden workflow's own proposals).
 */
export function requiredApprovals(
  changes: readonly (Classification & { kind: PolicyChangeKind })[],
  requirements: ApprovalRequirements,
  { everyChange = false }: { everyChange?: boolean } = {},
): ApprovalSlot[] {
  const most = new Map<string, { slot: ApprovalSlot; count: number }>();
  const reviewed = everyChange ? changes : changes.filter((c) => c.direction === 'loosen');
  const kinds = [...new Set(reviewed.map((c) => c.kind))];
  for (const kind of kinds) {
    const counts = new Map<string, number>();
    for (const s of requirements[kind]) {
      const key = slotKey(s);
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      if (count > (most.get(key)?.count ?? 0)) most.set(key, { slot: { roles: [...s.roles] }, count });
    }
  }
  return [...most.values()].flatMap(({ slot: s, count }) => Array.from({ length: count }, () => s));
}

/** An approval as recorded: who, in which role (checked by the worker before it counts). */
export interface ApprovalRecord {
  actor: string;
  role: Role;
  comment: string | null;
  at: string;
}

const fills = (role: Role, s: ApprovalSlot) => role === 'owner' || s.roles.includes(role);

/**
 * Which approval fills which slot: a maximum matching (each person one slot,
 * each slot one person), so the order approvals arrive in never strands one.
 * Answers, per slot, the index of the approval filling it, or null.
 */
export function assignSlots(
  required: readonly ApprovalSlot[],
  approvals: readonly ApprovalRecord[],
): (number | null)[] {
  const slotOf: (number | null)[] = approvals.map(() => null);
  const holder: (number | null)[] = required.map(() => null);
  const place = (a: number, seen: Set<number>): boolean => {
    for (let s = 0; s < required.length; s++) {
      if (seen.has(s) || !fills(approvals[a]!.role, required[s]!)) continue;
      seen.add(s);
      const current = holder[s]!;
      if (current === null || place(current, seen)) {
        holder[s] = a;
        slotOf[a] = s;
        return true;
      }
    }
    return false;
  };
  approvals.forEach((_, a) => place(a, new Set()));
  return holder;
}

/** The slots no approval fills yet. */
export function missingApprovals(
  required: readonly ApprovalSlot[],
  approvals: readonly ApprovalRecord[],
): ApprovalSlot[] {
  const holder = assignSlots(required, approvals);
  return required.filter((_, s) => holder[s] === null);
}

export type ApprovalJudgement =
  | { outcome: 'counted'; approvals: ApprovalRecord[] }
  /** The same person approved before: counted once, nothing changes. */
  | { outcome: 'duplicate' }
  | { outcome: 'refused'; problem: string };

/**
 * Whether an approval counts: not the requester's own, in a role some unfilled
 * slot takes (an owner fills any), one slot per person. A second approval by the
 * same person is a duplicate, answered as counted and changing nothing.
 */
export function judgeApproval(
  request: { requestedBy: string; required: readonly ApprovalSlot[]; approvals: readonly ApprovalRecord[] },
  approval: ApprovalRecord,
): ApprovalJudgement {
  if (sameIdentity(approval.actor, request.requestedBy))
    return {
      outcome: 'refused',
      problem: `actor: ${approval.actor} requested this change; approval must come from someone else`,
    };
  if (request.approvals.some((a) => sameIdentity(a.actor, approval.actor))) return { outcome: 'duplicate' };
  if (!request.required.some((s) => fills(approval.role, s)))
    return {
      outcome: 'refused',
      problem: `role: ${approval.role} is not among the approvals this request needs (${describeSlots(request.required)})`,
    };
  const approvals = [...request.approvals, approval];
  const filledBefore = assignSlots(request.required, request.approvals).filter((h) => h !== null).length;
  const filledAfter = assignSlots(request.required, approvals).filter((h) => h !== null).length;
  if (filledAfter === filledBefore)
    return { outcome: 'refused', problem: `role: every approval ${approval.role} can give is already given` };
  return { outcome: 'counted', approvals };
}

/** Who may reject: anyone but the requester (who cancels instead) in a role some slot takes. */
export function judgeRejection(
  request: { requestedBy: string; required: readonly ApprovalSlot[] },
  rejection: { actor: string; role: Role },
): { ok: true } | { ok: false; problem: string } {
  if (sameIdentity(rejection.actor, request.requestedBy))
    return { ok: false, problem: `actor: ${rejection.actor} requested this change; cancel it instead` };
  if (!request.required.some((s) => fills(rejection.role, s)))
    return {
      ok: false,
      problem: `role: ${rejection.role} is not among the approvals this request needs (${describeSlots(request.required)})`,
    };
  return { ok: true };
}

export function describeSlots(slots: readonly ApprovalSlot[]): string {
  return slots.length === 0 ? 'none' : slots.map((s) => s.roles.join(' or ')).join(' + ');
}
