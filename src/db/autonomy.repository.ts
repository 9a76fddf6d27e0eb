import type { Kysely, Selectable, Transaction } from 'kysely';
import type { AutonomyContext, CommandOutcomeRecord } from '../domain/autonomy/activities';
import { type AutonomyMetrics, type CommandOutcome, computeMetrics } from '../domain/autonomy/metrics';
import {
  type ApproverRole,
  nextPhase,
  type Phase,
  type PhaseDefinition,
  whitelistFor,
} from '../domain/autonomy/phases';
import { expansionTermsFor, type ProposalView, type RecordedProposalTerms } from '../domain/autonomy/proposals';
import { assessReadiness, type ReadinessReport } from '../domain/autonomy/readiness';
import { ATTESTABLE_ITEMS } from '../domain/autonomy/readiness-checklist';
import { ErrorType } from '../domain/shared/errors';
import { AuditKind, type ProposalEvent } from '../domain/audit/kinds';
import { appendAuditEvent, recordAuditEvent, verifyAuditChain } from './audit.repository';
import { closeProposalRecord, listOpenProposalRecords, recordProposal } from './proposal-records.repository';
import type { Database } from './database';

// The breakers' SQL lives in breakers.repository; operators' callers keep importing these from here.
export { listBreakerEvents, listBreakerRules, resolveBreakerEvent, setBreakerRule } from './breakers.repository';

const DAY_MS = 86_400_000;

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
  db: Kysely<Database>,
  role: ApproverRole,
  approver: string,
  actor: string,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('autonomy_approver')
      .values({ role, approver, added_by: actor })
      .onConflict((oc) => oc.columns(['role', 'approver']).doNothing())
      .execute();
    await appendAuditEvent(trx, {
      actor,
      kind: AuditKind.autonomy.approverAdded,
      subject: `role:${role}`,
      details: { approver },
    });
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

function toOutcome(r: Selectable<Database['command_record']>): CommandOutcome {
  return { commandType: r.command_type, status: r.status, approval: r.approval, at: r.at };
}

export async function outcomesSince(db: Db, since: Date, until: Date): Promise<CommandOutcome[]> {
  return (
    await db.selectFrom('command_record').selectAll().where('at', '>', since).where('at', '<=', until).execute()
  ).map(toOutcome);
}

/** One outcome, its incident if any, one audit event; retried with the same command id, stored once. */
export async function recordCommandOutcome(db: Kysely<Database>, o: CommandOutcomeRecord): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('command_record')
      .values({
        command_id: o.commandId,
        command_type: o.commandType,
        phase: o.phase,
        autonomous: o.autonomous,
        status: o.status,
        approval: o.approval,
        approver: o.approver,
        role: o.role,
        detail: o.detail,
        at: new Date(o.at),
      })
      .onConflict((oc) => oc.column('command_id').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) return;
    if (o.incident) {
      await trx
        .insertInto('incident')
        .values({
          command_id: o.commandId,
          severity: o.incident.severity,
          autonomous: o.autonomous,
          description: o.incident.description,
          at: new Date(o.at),
        })
        .execute();
    }
    await appendAuditEvent(trx, {
      actor: o.approver ?? 'autonomy',
      kind: AuditKind.command[o.status],
      subject: `command:${o.commandId}`,
      details: { ...o },
      idempotencyKey: `command:${o.commandId}`,
    });
  });
}

/** Seed 002's metrics collector: one window, persisted as a snapshot. */
export async function collectMetrics(
  db: Kysely<Database>,
  since: Date,
  until: Date,
): Promise<AutonomyMetrics & { windowStart: string; windowEnd: string }> {
  const metrics = computeMetrics(await outcomesSince(db, since, until));
  await db
    .insertInto('metrics_snapshot')
    .values({ window_start: since, window_end: until, metrics: JSON.stringify(metrics) })
    .execute();
  return { ...metrics, windowStart: since.toISOString(), windowEnd: until.toISOString() };
}

export class UnknownChecklistItemError extends Error {
  override name = ErrorType.UnknownChecklistItem;
}

export async function attest(
  db: Kysely<Database>,
  input: { item: string; passed: boolean; note?: string; actor: string },
): Promise<void> {
  if (!ATTESTABLE_ITEMS.includes(input.item))
    throw new UnknownChecklistItemError(
      `${input.item} is not an attestable checklist item; expected one of ${ATTESTABLE_ITEMS.join(', ')}`,
    );
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('readiness_attestation')
      .values({ item: input.item, passed: input.passed, note: input.note ?? null, attested_by: input.actor })
      .execute();
    await appendAuditEvent(trx, {
      actor: input.actor,
      kind: AuditKind.readiness.attested,
      subject: `checklist:${input.item}`,
      details: { passed: input.passed, note: input.note ?? null },
    });
  });
}

/** The 80-point assessment from data and attestations, persisted. */
export async function assessAndStoreReadiness(db: Kysely<Database>, now: Date): Promise<ReadinessReport> {
  const state = await readGovernanceState(db);
  const metrics = computeMetrics(await outcomesSince(db, new Date(now.getTime() - 7 * DAY_MS), now));
  const critical = await db
    .selectFrom('incident')
    .select(db.fn.countAll<string>().as('n'))
    .where('severity', '=', 'critical')
    .where('autonomous', '=', true)
    .where('at', '>=', new Date(state.phaseSince))
    .executeTakeFirstOrThrow();
  const rules = await db
    .selectFrom('circuit_breaker_rule')
    .select(db.fn.countAll<string>().as('n'))
    .where('enabled', '=', true)
    .executeTakeFirstOrThrow();
  const lastKill = await db
    .selectFrom('audit_event')
    .select('at')
    .where('kind', '=', AuditKind.controlPlane.killSwitchEngaged)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  const attestations = await db
    .selectFrom('readiness_attestation')
    .selectAll()
    .where(
      'id',
      'in',
      db
        .selectFrom('readiness_attestation')
        .select((eb) => eb.fn.max('id').as('id'))
        .groupBy('item'),
    )
    .execute();
  const report = assessReadiness({
    daysAtPhase: (now.getTime() - Date.parse(state.phaseSince)) / DAY_MS,
    metrics,
    criticalAutonomousIncidents: Number(critical.n),
    enabledBreakerRules: Number(rules.n),
    killSwitchExercisedWithinDays: lastKill ? (now.getTime() - lastKill.at.getTime()) / DAY_MS : null,
    auditChainIntact: (await verifyAuditChain(db)).ok,
    attestations: Object.fromEntries(
      attestations.map((a) => [a.item, { passed: a.passed, by: a.attested_by, at: a.attested_at.toISOString() }]),
    ),
  });
  await db
    .insertInto('readiness_assessment')
    .values({ at: now, score: report.score, status: report.status, report: JSON.stringify(report) })
    .execute();
  return report;
}

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
      idempotencyKey: `proposal:${view.proposalId}:${event}:${view.approvals.length}:${view.status}`,
    });
  });
}

export async function listProposals(db: Kysely<Database>, { openOnly = false } = {}): Promise<ProposalView[]> {
  let q = db.selectFrom('expansion_proposal').select('detail').orderBy('created_at', 'desc').limit(50);
  if (openOnly) q = q.where('status', 'in', ['pending', 'validating']);
  return (await q.execute()).map((r) => r.detail as unknown as ProposalView);
}

/** Every approval in: the phase widens now and this proposal is the one under validation. */
export async function applyPhase(
  db: Kysely<Database>,
  input: { proposalId: string; targetPhase: Phase; at: string },
): Promise<void> {
  await db.transaction().execute(async (trx: Transaction<Database>) => {
    const state = await trx.selectFrom('governance_state').selectAll().forUpdate().executeTakeFirstOrThrow();
    if (state.active_proposal_id === input.proposalId && state.current_phase === input.targetPhase) return;
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
      details: { from: state.current_phase, proposalId: input.proposalId },
    });
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

/**
 * Stores the week's report, points the governance state at it and audits it,
 * once per key: a retry (same key) answers the first report's id and writes
 * nothing. Without a key from the workflow, the report's period (`at`) is the key.
 */
export async function saveGovernanceReport(
  db: Kysely<Database>,
  report: Record<string, unknown>,
  proposalId: string | null,
  at: string,
  key: string = `governance-report:at:${new Date(at).toISOString()}`,
): Promise<string> {
  return db.transaction().execute(async (trx) => {
    // A concurrent attempt with the same key waits here on the unique index, then finds the first one's row.
    const row = await trx
      .insertInto('governance_report')
      .values({ at: new Date(at), report: JSON.stringify(report), proposal_id: proposalId, idempotency_key: key })
      .onConflict((oc) => oc.column('idempotency_key').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!row) {
      const first = await trx
        .selectFrom('governance_report')
        .select('id')
        .where('idempotency_key', '=', key)
        .executeTakeFirstOrThrow();
      return String(first.id);
    }
    await trx
      .updateTable('governance_state')
      .set({ last_report_at: new Date(at), last_report_id: String(row.id), updated_at: new Date() })
      .execute();
    await appendAuditEvent(trx, {
      actor: 'governance-cycle',
      kind: AuditKind.governance.report,
      subject: `report:${row.id}`,
      details: { decision: report.decision, proposalId },
      idempotencyKey: `governance.report:${row.id}`,
    });
    return String(row.id);
  });
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
