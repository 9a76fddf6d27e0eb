import type { Kysely, Selectable, Transaction } from 'kysely';
import { AuditKind } from '../domain/audit/kinds';
import { appendAuditEvent } from './audit.repository';
import type { Database } from './database';
import type { ProposalRecordTable } from './tables/autonomy';

// Warden's own record of a proposal: what expansionProposal and strategyPromotion load their terms
// from, keyed by the proposal's workflow id. Only Warden writes it (the governance cycle, a trade
// outcome that earns a promotion, an operator in an approver role); a workflow's start payload never does.

/** A repository call runs on the pool or inside the caller's transaction. */
type Db = Kysely<Database> | Transaction<Database>;

export type ProposalKind = ProposalRecordTable['kind'];

export interface ProposalRecord {
  id: string;
  kind: ProposalKind;
  subject: string;
  from: string;
  to: string;
  terms: Record<string, unknown>;
  requestedBy: string;
  createdAt: string;
  closedAt: string | null;
  closedStatus: string | null;
}

const toRecord = (r: Selectable<ProposalRecordTable>): ProposalRecord => ({
  id: r.id,
  kind: r.kind,
  subject: r.subject,
  from: r.from_state,
  to: r.to_state,
  terms: r.terms,
  requestedBy: r.requested_by,
  createdAt: r.created_at.toISOString(),
  closedAt: r.closed_at?.toISOString() ?? null,
  closedStatus: r.closed_status,
});

export interface NewProposal {
  id: string;
  kind: ProposalKind;
  subject: string;
  from: string;
  to: string;
  terms: Record<string, unknown>;
  requestedBy: string;
}

/**
 * Records a proposal, or reopens a closed one under the same id with new terms. An open record is left
 * as it is (a retry, or a second trade that earns the same promotion). True when this call wrote it;
 * each write is audited in the same transaction.
 */
export async function recordProposal(db: Kysely<Database>, p: NewProposal): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const values = {
      kind: p.kind,
      subject: p.subject,
      from_state: p.from,
      to_state: p.to,
      terms: JSON.stringify(p.terms),
      requested_by: p.requestedBy,
      created_at: new Date(),
      closed_at: null,
      closed_status: null,
    };
    const written = await trx
      .insertInto('proposal_record')
      .values({ id: p.id, ...values })
      .onConflict((oc) => oc.column('id').doUpdateSet(values).where('proposal_record.closed_at', 'is not', null))
      .returning('id')
      .executeTakeFirst();
    if (!written) return false;
    await appendAuditEvent(trx, {
      actor: p.requestedBy,
      kind: AuditKind.proposalRecord.recorded,
      subject: p.kind === 'expansion' ? `proposal:${p.id}` : `strategy:${p.subject}`,
      details: { proposalId: p.id, kind: p.kind, from: p.from, to: p.to, terms: p.terms },
    });
    return true;
  });
}

export async function findProposalRecord(db: Db, id: string): Promise<ProposalRecord | undefined> {
  const row = await db.selectFrom('proposal_record').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toRecord(row) : undefined;
}

/** Open records of one kind (and subject), newest first. */
export async function listOpenProposalRecords(db: Db, kind: ProposalKind, subject?: string): Promise<ProposalRecord[]> {
  let q = db
    .selectFrom('proposal_record')
    .selectAll()
    .where('kind', '=', kind)
    .where('closed_at', 'is', null)
    .orderBy('created_at', 'desc');
  if (subject !== undefined) q = q.where('subject', '=', subject);
  return (await q.execute()).map(toRecord);
}

/** Closes an open record: its workflow reached an end (or applied), so a later run for the id is refused. */
export async function closeProposalRecord(db: Db, id: string, status: string): Promise<void> {
  await db
    .updateTable('proposal_record')
    .set({ closed_at: new Date(), closed_status: status })
    .where('id', '=', id)
    .where('closed_at', 'is', null)
    .execute();
}
