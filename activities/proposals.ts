import type { Kysely } from 'kysely';
import { recordAuditEvent } from '../src/db/audit.repository';
import { listApprovers, readGovernanceState, writeAppliedPhase } from '../src/db/autonomy.repository';
import { findBreakerEvent } from '../src/db/breakers.repository';
import type { Database } from '../src/db/database';
import { closeProposalRecord, findProposalRecord, type ProposalKind } from '../src/db/proposal-records.repository';
import { AuditKind } from '../src/domain/audit/kinds';
import type { ProposalActivities } from '../src/domain/autonomy/activities';
import { PhaseSchema } from '../src/domain/autonomy/phases';
import { onAllowlist } from '../src/domain/autonomy/allowlist';
import { checkPhaseStillFrom, RecordedProposalTermsSchema } from '../src/domain/autonomy/proposals';
import { storablePayload } from '../src/domain/shared/validation';
import type { PromotionActivities } from '../src/domain/strategy/activities';
import { RecordedPromotionSchema } from '../src/domain/strategy/messages';

/**
 * Warden-owned proposals: an expansionProposal or strategyPromotion workflow loads its terms from
 * Warden's record (proposal_record) by its own workflow id, is judged against Warden's approver table
 * at decision time, and applies only from the phase or level it started from.
 */
export function createProposalActivities({ db }: { db: Kysely<Database> }): ProposalActivities & PromotionActivities {
  /** The open record of `kind` for `id`, or why there is none. */
  async function openRecord(id: string, kind: ProposalKind) {
    const record = await findProposalRecord(db, id);
    if (!record) return { ok: false as const, reason: `Warden holds no proposal record for ${id}` };
    if (record.kind !== kind) return { ok: false as const, reason: `${id} is Warden's ${record.kind}, not a ${kind}` };
    if (record.closedAt !== null)
      return { ok: false as const, reason: `Warden's proposal ${id} is closed (${record.closedStatus ?? 'ended'})` };
    return { ok: true as const, record };
  }
  /** One refusal audit per workflow run: a retried activity appends it once. */
  const auditRefusal = (
    kind: typeof AuditKind.proposal.refused | typeof AuditKind.strategy.promotionRefused,
    input: { proposalId: string; runId: string; claimed: unknown },
    subject: string,
    reason: string,
  ) =>
    recordAuditEvent(db, {
      actor: 'warden',
      kind,
      subject,
      details: { proposalId: input.proposalId, runId: input.runId, reason, claimed: storablePayload(input.claimed) },
      idempotencyKey: `${kind}:${input.proposalId}:${input.runId}`,
    });

  return {
    async loadProposal(input) {
      const found = await openRecord(input.proposalId, 'expansion');
      const parsed = found.ok ? RecordedProposalTermsSchema.safeParse(found.record.terms) : undefined;
      if (found.ok && parsed?.success) return { found: true, terms: parsed.data };
      const reason = found.ok ? `Warden's record for ${input.proposalId} does not hold valid terms` : found.reason;
      await auditRefusal(AuditKind.proposal.refused, input, `proposal:${input.proposalId}`, reason);
      return { found: false, reason, phase: (await readGovernanceState(db)).phase };
    },

    async checkApprover({ role, approver }) {
      const check = onAllowlist(await listApprovers(db), role, approver);
      return check.ok ? { ok: true } : { ok: false, problem: check.reason };
    },

    async confirmBreakerRevert({ proposalId, eventId }) {
      const event = await findBreakerEvent(db, eventId);
      if (event?.reverted_proposal_id !== proposalId)
        return { ok: false, problem: `eventId: no breaker event ${eventId} reverted proposal ${proposalId}` };
      return { ok: true, rule: event.rule_name, detail: event.detail };
    },

    /** Read → decide → write + audit in one transaction holding the governance state. */
    async applyProposedPhase(input) {
      return db.transaction().execute(async (trx) => {
        const state = await trx.selectFrom('governance_state').selectAll().forUpdate().executeTakeFirstOrThrow();
        const current = PhaseSchema.parse(state.current_phase);
        // A retry of the attempt that applied finds it applied.
        if (state.active_proposal_id === input.proposalId && current === input.targetPhase) return { applied: true };
        const check = checkPhaseStillFrom(current, input.fromPhase, input.targetPhase);
        if (!check.ok) return { applied: false, reason: check.reason, phase: current };
        await writeAppliedPhase(trx, {
          proposalId: input.proposalId,
          targetPhase: input.targetPhase,
          at: input.at,
          from: current,
        });
        await closeProposalRecord(trx, input.proposalId, 'applied');
        return { applied: true };
      });
    },

    async loadPromotion(input) {
      const found = await openRecord(input.proposalId, 'promotion');
      const parsed = found.ok ? RecordedPromotionSchema.safeParse(found.record.terms) : undefined;
      if (found.ok && parsed?.success) return { found: true, terms: parsed.data };
      const reason = found.ok ? `Warden's record for ${input.proposalId} does not hold valid terms` : found.reason;
      const subject = found.ok ? `strategy:${found.record.subject}` : `proposal:${input.proposalId}`;
      await auditRefusal(AuditKind.strategy.promotionRefused, input, subject, reason);
      return { found: false, reason };
    },

    closePromotion: ({ proposalId, status }) => closeProposalRecord(db, proposalId, status),
  };
}
