import type { Kysely } from 'kysely';
import { type ApproverRole, nextPhase } from '../domain/autonomy/phases';
import { expansionTermsFor, type ProposalView, type RecordedProposalTerms } from '../domain/autonomy/proposals';
import { ErrorType } from '../domain/shared/errors';
import { AuditKind, type ProposalEvent } from '../domain/audit/kinds';
import { appendAuditEvent } from './audit.repository';
import { listApprovers, loadPhaseDefinitions, readGovernanceState } from './autonomy.repository';
import { closeProposalRecord, listOpenProposalRecords, recordProposal } from './proposal-records.repository';
import type { Database } from './database';

/** A proposal's end (or its phase applied): Warden's record closes, so no later run can use it. */
const CLOSES_RECORD: readonly ProposalEvent[] = ['rejected', 'expired', 'applied', 'stale'];

export async function saveProposal(
  db: Kysely<Database>,
  view: ProposalView,
  actor: string,
  event: ProposalEvent,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    if (CLOSES_RECORD.includes(event)) await closeProposalRecord(trx, view.proposalId, view.status);
    const now = new Date();
    const values = { status: view.status, detail: JSON.stringify(view), updated_at: now };
    await trx
      .insertInto('expansion_proposal')
      .values({
        id: view.proposalId,
        from_phase: view.fromPhase,
        target_phase: view.targetPhase,
        created_at: new Date(view.createdAt),
        ...values,
      })
      .onConflict((oc) => oc.column('id').doUpdateSet(values))
      .execute();
    await appendAuditEvent(trx, {
      actor,
      kind: AuditKind.proposal[event],
      subject: `proposal:${view.proposalId}`,
      details: {
        status: view.status,
        targetPhase: view.targetPhase,
        approvals: view.approvals,
        rejection: view.rejection,
      },
      // The actor too: racing approvals judged in one drain are saved with the same view, one save per approver.
      // And when it was made: a closed proposal reopened under its id (the same phase the same day) is another.
      idempotencyKey: `proposal:${view.proposalId}:${view.createdAt}:${event}:${actor}:${view.approvals.length}:${view.status}`,
    });
  });
}

export async function listProposals(db: Kysely<Database>, { openOnly = false } = {}): Promise<ProposalView[]> {
  let q = db.selectFrom('expansion_proposal').select('detail').orderBy('created_at', 'desc').limit(50);
  if (openOnly) q = q.where('status', 'in', ['pending', 'validating']);
  return (await q.execute()).map((r) => r.detail as unknown as ProposalView);
}

/** Warden's record of an expansion proposal (written by the governance cycle or an operator's proposal). */
export function recordExpansionProposal(db: Kysely<Database>, terms: RecordedProposalTerms): Promise<boolean> {
  return recordProposal(db, {
    id: terms.proposalId,
    kind: 'expansion',
    subject: 'autonomy',
    from: terms.fromPhase,
    to: terms.targetPhase,
    terms: { ...terms },
    requestedBy: terms.requestedBy,
  });
}

export class ProposalRefusedError extends Error {
  override name = ErrorType.ProposalRefused;
}

/**
 * An operator's expansion proposal: one step up from the current phase, on the next phase's own terms
 * (commands, validation period, required roles). The requester must hold an autonomy approver role and
 * may not approve it; nothing is recorded while another proposal is open.
 */
export async function proposeExpansion(
  db: Kysely<Database>,
  input: { requestedBy: string; role: ApproverRole; expiresInDays?: number; reason: string; at?: Date },
): Promise<RecordedProposalTerms> {
  const approvers = await listApprovers(db);
  if (!(approvers[input.role] ?? []).includes(input.requestedBy))
    throw new ProposalRefusedError(`role: ${input.requestedBy} is not on the allowlist for ${input.role}`);
  const state = await readGovernanceState(db);
  const next = nextPhase(state.phase);
  const def = (await loadPhaseDefinitions(db)).find((p) => p.phase === next);
  if (!next || !def || def.validationDays === null)
    throw new ProposalRefusedError(`phase: ${state.phase} is the last phase; there is nothing to widen to`);
  const open = [...(await listProposals(db, { openOnly: true }))].map((p) => p.proposalId);
  open.push(...(await listOpenProposalRecords(db, 'expansion')).map((r) => r.id));
  if (open.length > 0) throw new ProposalRefusedError(`proposal: ${[...new Set(open)].join(', ')} is still open`);
  const terms = expansionTermsFor({
    phase: state.phase,
    next: { ...def, validationDays: def.validationDays },
    at: input.at ?? new Date(),
    achievements: [`proposed by ${input.requestedBy} (${input.role}): ${input.reason}`],
    requestedBy: input.requestedBy,
    ...(input.expiresInDays !== undefined ? { expiresInDays: input.expiresInDays } : {}),
  });
  if (!(await recordExpansionProposal(db, terms)))
    throw new ProposalRefusedError(`proposal: ${terms.proposalId} is already open`);
  return terms;
}
