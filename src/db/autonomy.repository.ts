import type { Kysely, Transaction } from 'kysely';
import type { AutonomyContext } from '../domain/autonomy/activities';
import { type ApproverRole, type Phase, type PhaseDefinition, whitelistFor } from '../domain/autonomy/phases';
import { AuditKind } from '../domain/audit/kinds';
import { appendAuditEvent, recordAuditEvent } from './audit.repository';
import type { Database } from './database';
import { type WriteContext, inTransaction } from './transaction';

// Autonomy's phases, approvers and governance state. Command records and metrics live in
// command-records.repository, readiness and the weekly report in governance-reports.repository,
// expansion proposals in expansion-proposals.repository, breakers in breakers.repository.

/** A repository call runs on the pool or inside the caller's transaction. */
type Db = Kysely<Database> | Transaction<Database>;

export async function loadPhaseDefinitions(db: Kysely<Database>): Promise<PhaseDefinition[]> {
  const rows = await db.selectFrom('autonomy_phase').selectAll().orderBy('ordinal').execute();
  return rows.map((r) => ({
    phase: r.phase as Phase,
    ordinal: r.ordinal,
    addedCommands: r.added_commands,
    allCommands: r.all_commands,
    validationDays: r.validation_days,
    requiredRoles: r.required_roles as ApproverRole[],
  }));
}

export async function setPhaseDefinition(db: Kysely<Database>, d: PhaseDefinition, actor: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('autonomy_phase')
      .set({
        added_commands: JSON.stringify(d.addedCommands),
        all_commands: d.allCommands,
        validation_days: d.validationDays,
        required_roles: JSON.stringify(d.requiredRoles),
      })
      .where('phase', '=', d.phase)
      .execute();
    await appendAuditEvent(trx, {
      actor,
      kind: AuditKind.autonomy.phaseDefinitionSet,
      subject: `phase:${d.phase}`,
      details: { definition: d },
    });
  });
}

export interface GovernanceState {
  phase: Phase;
  phaseSince: string;
  pausedCommandTypes: string[];
  activeProposalId: string | null;
  lastReportAt: string | null;
  lastReportId: string | null;
}

export async function readGovernanceState(db: Kysely<Database>): Promise<GovernanceState> {
  const r = await db.selectFrom('governance_state').selectAll().executeTakeFirstOrThrow();
  return {
    phase: r.current_phase as Phase,
    phaseSince: r.phase_since.toISOString(),
    pausedCommandTypes: r.paused_command_types,
    activeProposalId: r.active_proposal_id,
    lastReportAt: r.last_report_at?.toISOString() ?? null,
    lastReportId: r.last_report_id === null ? null : String(r.last_report_id),
  };
}

export async function listApprovers(db: Db): Promise<Record<ApproverRole, string[]>> {
  const rows = await db.selectFrom('autonomy_approver').select(['role', 'approver']).orderBy('approver').execute();
  const byRole: Record<ApproverRole, string[]> = { tech_lead: [], ops_lead: [], product_lead: [], exec_sponsor: [] };
  for (const r of rows) byRole[r.role as ApproverRole].push(r.approver);
  return byRole;
}

export async function addApprover(
  db: Db,
  role: ApproverRole,
  approver: string,
  actor: string,
  context: WriteContext = {},
): Promise<void> {
  await inTransaction(db, async (trx) => {
    await trx
      .insertInto('autonomy_approver')
      .values({ role, approver, added_by: actor })
      .onConflict((oc) => oc.columns(['role', 'approver']).doNothing())
      .execute();
    await appendAuditEvent(trx, {
      actor,
      kind: AuditKind.autonomy.approverAdded,
      subject: `role:${role}`,
      details: { approver, ...context },
    });
  });
}

/** Takes a name off a role's allowlist (tightening: it approves nothing from now on). True when it was on it. */
export async function removeApprover(
  db: Db,
  role: ApproverRole,
  approver: string,
  actor: string,
  context: WriteContext = {},
): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const removed = await trx
      .deleteFrom('autonomy_approver')
      .where('role', '=', role)
      .where('approver', '=', approver)
      .returning('approver')
      .execute();
    if (removed.length === 0) return false;
    await appendAuditEvent(trx, {
      actor,
      kind: AuditKind.autonomy.approverRemoved,
      subject: `role:${role}`,
      details: { approver, ...context },
    });
    return true;
  });
}

/** What a command needs to know before it runs: the phase, its whitelist, paused types, approvers. */
export async function loadAutonomyContext(db: Kysely<Database>): Promise<AutonomyContext> {
  const [state, phases, approvers] = await Promise.all([
    readGovernanceState(db),
    loadPhaseDefinitions(db),
    listApprovers(db),
  ]);
  return {
    phase: state.phase,
    whitelist: whitelistFor(phases, state.phase),
    pausedCommandTypes: state.pausedCommandTypes,
    approvers,
  };
}

/** Every approval in: the phase widens now and this proposal is the one under validation. */
export async function applyPhase(
  db: Kysely<Database>,
  input: { proposalId: string; targetPhase: Phase; at: string },
): Promise<void> {
  await db.transaction().execute(async (trx: Transaction<Database>) => {
    const state = await trx.selectFrom('governance_state').selectAll().forUpdate().executeTakeFirstOrThrow();
    if (state.active_proposal_id === input.proposalId && state.current_phase === input.targetPhase) return;
    await writeAppliedPhase(trx, { ...input, from: state.current_phase });
  });
}

/** Widens the phase to the proposal's target and audits it; the caller holds governance_state's row lock. */
export async function writeAppliedPhase(
  trx: Transaction<Database>,
  input: { proposalId: string; targetPhase: Phase; at: string; from: string },
): Promise<void> {
  await trx
    .updateTable('governance_state')
    .set({
      current_phase: input.targetPhase,
      phase_since: new Date(input.at),
      active_proposal_id: input.proposalId,
      updated_at: new Date(),
    })
    .execute();
  await appendAuditEvent(trx, {
    actor: 'autonomy',
    kind: AuditKind.autonomy.phaseApplied,
    subject: `phase:${input.targetPhase}`,
    details: { from: input.from, proposalId: input.proposalId },
  });
}

export async function finishValidation(db: Kysely<Database>, proposalId: string): Promise<void> {
  await db
    .updateTable('governance_state')
    .set({ active_proposal_id: null, updated_at: new Date() })
    .where('active_proposal_id', '=', proposalId)
    .execute();
  await recordAuditEvent(db, {
    actor: 'autonomy',
    kind: AuditKind.autonomy.phaseValidated,
    subject: `proposal:${proposalId}`,
    details: {},
    idempotencyKey: `validated:${proposalId}`,
  });
}
