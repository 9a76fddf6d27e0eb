import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import { type BreakerRule, type BreakerTrip, evaluateBreakers } from '../domain/autonomy/breakers';
import { type AutonomyMetrics, type CommandOutcome, type CommandStatus, computeMetrics, type IncidentSeverity } from '../domain/autonomy/metrics';
import { type ApproverRole, type Phase, type PhaseDefinition, whitelistFor } from '../domain/autonomy/phases';
import type { ProposalView } from '../domain/autonomy/proposals';
import { assessReadiness, ATTESTABLE_ITEMS, type ReadinessReport } from '../domain/autonomy/readiness';
import { appendAuditEvent, recordAuditEvent, verifyAuditChain } from './audit.repository';
import type { CircuitBreakerRuleTable, Database } from './database';

const DAY_MS = 86_400_000;

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
      .set({ added_commands: JSON.stringify(d.addedCommands), all_commands: d.allCommands, validation_days: d.validationDays, required_roles: JSON.stringify(d.requiredRoles) })
      .where('phase', '=', d.phase)
      .execute();
    await appendAuditEvent(trx, { actor, kind: 'autonomy.phase_definition_set', subject: `phase:${d.phase}`, details: { definition: d } });
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

export async function listApprovers(db: Kysely<Database>): Promise<Record<ApproverRole, string[]>> {
  const rows = await db.selectFrom('autonomy_approver').select(['role', 'approver']).orderBy('approver').execute();
  const byRole: Record<ApproverRole, string[]> = { tech_lead: [], ops_lead: [], product_lead: [], exec_sponsor: [] };
  for (const r of rows) byRole[r.role as ApproverRole].push(r.approver);
  return byRole;
}

export async function addApprover(db: Kysely<Database>, role: ApproverRole, approver: string, actor: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('autonomy_approver').values({ role, approver, added_by: actor }).onConflict((oc) => oc.columns(['role', 'approver']).doNothing()).execute();
    await appendAuditEvent(trx, { actor, kind: 'autonomy.approver_added', subject: `role:${role}`, details: { approver } });
  });
}

/** What a command needs to know before it runs: the phase, its whitelist, paused types, approvers. */
export async function loadAutonomyContext(db: Kysely<Database>) {
  const [state, phases, approvers] = await Promise.all([readGovernanceState(db), loadPhaseDefinitions(db), listApprovers(db)]);
  return { phase: state.phase, whitelist: whitelistFor(phases, state.phase), pausedCommandTypes: state.pausedCommandTypes, approvers };
}
export type AutonomyContext = Awaited<ReturnType<typeof loadAutonomyContext>>;

function toOutcome(r: Selectable<Database['command_record']>): CommandOutcome {
  return { commandType: r.command_type, status: r.status, approval: r.approval, at: r.at };
}

async function outcomesSince(db: Kysely<Database>, since: Date, until: Date): Promise<CommandOutcome[]> {
  return (await db.selectFrom('command_record').selectAll().where('at', '>', since).where('at', '<=', until).execute()).map(toOutcome);
}

function toRule(r: Selectable<CircuitBreakerRuleTable>): BreakerRule {
  return { name: r.name, enabled: r.enabled, condition: r.condition, window: r.window, action: r.action, alertSeverity: r.alert_severity };
}

export async function listBreakerRules(db: Kysely<Database>): Promise<BreakerRule[]> {
  return (await db.selectFrom('circuit_breaker_rule').selectAll().orderBy('name').execute()).map(toRule);
}

/** Callers validate with BreakerRuleSchema first: a malformed condition never reaches the table. */
export async function setBreakerRule(db: Kysely<Database>, rule: BreakerRule, actor: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const values = { enabled: rule.enabled, condition: rule.condition, window: rule.window, action: rule.action, alert_severity: rule.alertSeverity, updated_by: actor, updated_at: new Date() };
    await trx.insertInto('circuit_breaker_rule').values({ name: rule.name, ...values }).onConflict((oc) => oc.column('name').doUpdateSet(values)).execute();
    await appendAuditEvent(trx, { actor, kind: 'breaker.rule_set', subject: `breaker:${rule.name}`, details: { rule } });
  });
}

export interface BreakerEvaluation {
  trips: (BreakerTrip & { eventId: string })[];
}

/**
 * Evaluates every enabled rule and applies what newly trips: revert_to_l3 at
 * once, pause_command_type for that type, alert_only just records. A rule
 * with an unresolved event for the same scope does not trip again.
 */
export async function evaluateAndApplyBreakers(db: Kysely<Database>, now: Date): Promise<BreakerEvaluation> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(${0x4252_4b52})`.execute(trx); // "BRKR"
    const rules = (await trx.selectFrom('circuit_breaker_rule').selectAll().execute()).map(toRule);
    const since = new Date(now.getTime() - DAY_MS);
    const outcomes = await outcomesSince(trx, since, now);
    const incidents = await trx.selectFrom('incident').select(['severity', 'autonomous', 'at']).where('at', '>', since).where('at', '<=', now).execute();
    const open = await trx.selectFrom('circuit_breaker_event').select(['rule_name', 'command_type']).where('resolved_at', 'is', null).execute();
    const result: BreakerEvaluation = { trips: [] };
    for (const trip of evaluateBreakers(rules, outcomes, incidents, now)) {
      if (open.some((o) => o.rule_name === trip.rule && o.command_type === trip.commandType)) continue;
      const event = await trx
        .insertInto('circuit_breaker_event')
        .values({ rule_name: trip.rule, action: trip.action, alert_severity: trip.alertSeverity, command_type: trip.commandType, observed: trip.observed, detail: trip.detail, at: now, resolved_at: null, resolved_by: null, resolution: null })
        .returning('id')
        .executeTakeFirstOrThrow();
      const state = await trx.selectFrom('governance_state').selectAll().forUpdate().executeTakeFirstOrThrow();
      if (trip.action === 'revert_to_l3' && state.current_phase !== 'L3') {
        await trx.updateTable('governance_state').set({ current_phase: 'L3', phase_since: now, active_proposal_id: null, updated_at: now }).execute();
        // Written with the revert, so the proposal is told even if the activity is retried.
        if (state.active_proposal_id) await trx.updateTable('circuit_breaker_event').set({ reverted_proposal_id: state.active_proposal_id }).where('id', '=', event.id).execute();
      }
      if (trip.action === 'pause_command_type' && trip.commandType && !state.paused_command_types.includes(trip.commandType)) {
        await trx.updateTable('governance_state').set({ paused_command_types: JSON.stringify([...state.paused_command_types, trip.commandType]), updated_at: now }).execute();
      }
      await appendAuditEvent(trx, {
        actor: 'circuit-breaker',
        kind: `breaker.${trip.action}`,
        subject: `breaker:${trip.rule}`,
        details: { eventId: String(event.id), ...trip, fromPhase: state.current_phase },
      });
      result.trips.push({ ...trip, eventId: String(event.id) });
    }
    return result;
  });
}

export interface CommandOutcomeRecord {
  commandId: string;
  commandType: string;
  phase: Phase;
  autonomous: boolean;
  status: CommandStatus;
  approval: 'approved' | 'rejected' | 'timed_out' | 'refused_paused' | null;
  approver: string | null;
  role: string | null;
  detail: string | null;
  incident: { severity: IncidentSeverity; description: string } | null;
  at: string;
}

/** One outcome, its incident if any, one audit event; retried with the same command id, stored once. */
export async function recordCommandOutcome(db: Kysely<Database>, o: CommandOutcomeRecord): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('command_record')
      .values({ command_id: o.commandId, command_type: o.commandType, phase: o.phase, autonomous: o.autonomous, status: o.status, approval: o.approval, approver: o.approver, role: o.role, detail: o.detail, at: new Date(o.at) })
      .onConflict((oc) => oc.column('command_id').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) return;
    if (o.incident) {
      await trx.insertInto('incident').values({ command_id: o.commandId, severity: o.incident.severity, autonomous: o.autonomous, description: o.incident.description, at: new Date(o.at) }).execute();
    }
    await appendAuditEvent(trx, {
      actor: o.approver ?? 'autonomy',
      kind: `command.${o.status}`,
      subject: `command:${o.commandId}`,
      details: { ...o },
      idempotencyKey: `command:${o.commandId}`,
    });
  });
}

/** Reverts whose proposal has not been told yet (the outbox). */
export async function pendingRevertNotices(db: Kysely<Database>) {
  return db
    .selectFrom('circuit_breaker_event')
    .select(['id', 'rule_name', 'detail', 'reverted_proposal_id'])
    .where('reverted_proposal_id', 'is not', null)
    .where('notified_at', 'is', null)
    .orderBy('id')
    .execute();
}

export async function markRevertNoticed(db: Kysely<Database>, eventId: string): Promise<void> {
  await db.updateTable('circuit_breaker_event').set({ notified_at: new Date() }).where('id', '=', eventId).execute();
}

export async function listBreakerEvents(db: Kysely<Database>, { unresolvedOnly = false } = {}) {
  let q = db.selectFrom('circuit_breaker_event').selectAll().orderBy('id', 'desc').limit(50);
  if (unresolvedOnly) q = q.where('resolved_at', 'is', null);
  return (await q.execute()).map((e) => ({
    id: String(e.id),
    rule: e.rule_name,
    action: e.action,
    alertSeverity: e.alert_severity,
    commandType: e.command_type,
    observed: e.observed,
    detail: e.detail,
    at: e.at.toISOString(),
    resolvedAt: e.resolved_at?.toISOString() ?? null,
    resolvedBy: e.resolved_by,
    resolution: e.resolution,
  }));
}

/** Resolving a pause event also lifts the pause on its command type. */
export async function resolveBreakerEvent(db: Kysely<Database>, id: string, actor: string, resolution: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const event = await trx.selectFrom('circuit_breaker_event').selectAll().where('id', '=', id).where('resolved_at', 'is', null).forUpdate().executeTakeFirst();
    if (!event) return false;
    await trx.updateTable('circuit_breaker_event').set({ resolved_at: new Date(), resolved_by: actor, resolution }).where('id', '=', id).execute();
    if (event.action === 'pause_command_type' && event.command_type) {
      const state = await trx.selectFrom('governance_state').selectAll().forUpdate().executeTakeFirstOrThrow();
      await trx.updateTable('governance_state').set({ paused_command_types: JSON.stringify(state.paused_command_types.filter((t) => t !== event.command_type)), updated_at: new Date() }).execute();
    }
    await appendAuditEvent(trx, { actor, kind: 'breaker.resolved', subject: `breaker:${event.rule_name}`, details: { eventId: id, resolution } });
    return true;
  });
}

/** Seed 002's metrics collector: one window, persisted as a snapshot. */
export async function collectMetrics(db: Kysely<Database>, since: Date, until: Date): Promise<AutonomyMetrics & { windowStart: string; windowEnd: string }> {
  const metrics = computeMetrics(await outcomesSince(db, since, until));
  await db.insertInto('metrics_snapshot').values({ window_start: since, window_end: until, metrics: JSON.stringify(metrics) }).execute();
  return { ...metrics, windowStart: since.toISOString(), windowEnd: until.toISOString() };
}

export class UnknownChecklistItemError extends Error {
  override name = 'UnknownChecklistItem';
}

export async function attest(db: Kysely<Database>, input: { item: string; passed: boolean; note?: string; actor: string }): Promise<void> {
  if (!ATTESTABLE_ITEMS.includes(input.item)) throw new UnknownChecklistItemError(`${input.item} is not an attestable checklist item; expected one of ${ATTESTABLE_ITEMS.join(', ')}`);
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('readiness_attestation').values({ item: input.item, passed: input.passed, note: input.note ?? null, attested_by: input.actor }).execute();
    await appendAuditEvent(trx, { actor: input.actor, kind: 'readiness.attested', subject: `checklist:${input.item}`, details: { passed: input.passed, note: input.note ?? null } });
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
  const rules = await db.selectFrom('circuit_breaker_rule').select(db.fn.countAll<string>().as('n')).where('enabled', '=', true).executeTakeFirstOrThrow();
  const lastKill = await db.selectFrom('audit_event').select('at').where('kind', '=', 'control_plane.kill_switch_engaged').orderBy('id', 'desc').limit(1).executeTakeFirst();
  const attestations = await db
    .selectFrom('readiness_attestation')
    .selectAll()
    .where('id', 'in', db.selectFrom('readiness_attestation').select((eb) => eb.fn.max('id').as('id')).groupBy('item'))
    .execute();
  const report = assessReadiness({
    daysAtPhase: (now.getTime() - Date.parse(state.phaseSince)) / DAY_MS,
    metrics,
    criticalAutonomousIncidents: Number(critical.n),
    enabledBreakerRules: Number(rules.n),
    killSwitchExercisedWithinDays: lastKill ? (now.getTime() - lastKill.at.getTime()) / DAY_MS : null,
    auditChainIntact: (await verifyAuditChain(db)).ok,
    attestations: Object.fromEntries(attestations.map((a) => [a.item, { passed: a.passed, by: a.attested_by, at: a.attested_at.toISOString() }])),
  });
  await db.insertInto('readiness_assessment').values({ at: now, score: report.score, status: report.status, report: JSON.stringify(report) }).execute();
  return report;
}

export async function saveProposal(db: Kysely<Database>, view: ProposalView, actor: string, event: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const now = new Date();
    const values = { status: view.status, detail: JSON.stringify(view), updated_at: now };
    await trx
      .insertInto('expansion_proposal')
      .values({ id: view.proposalId, from_phase: view.fromPhase, target_phase: view.targetPhase, created_at: new Date(view.createdAt), ...values })
      .onConflict((oc) => oc.column('id').doUpdateSet(values))
      .execute();
    await appendAuditEvent(trx, {
      actor,
      kind: `proposal.${event}`,
      subject: `proposal:${view.proposalId}`,
      details: { status: view.status, targetPhase: view.targetPhase, approvals: view.approvals, rejection: view.rejection },
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
export async function applyPhase(db: Kysely<Database>, input: { proposalId: string; targetPhase: Phase; at: string }): Promise<void> {
  await db.transaction().execute(async (trx: Transaction<Database>) => {
    const state = await trx.selectFrom('governance_state').selectAll().forUpdate().executeTakeFirstOrThrow();
    if (state.active_proposal_id === input.proposalId && state.current_phase === input.targetPhase) return;
    await trx.updateTable('governance_state').set({ current_phase: input.targetPhase, phase_since: new Date(input.at), active_proposal_id: input.proposalId, updated_at: new Date() }).execute();
    await appendAuditEvent(trx, { actor: 'autonomy', kind: 'autonomy.phase_applied', subject: `phase:${input.targetPhase}`, details: { from: state.current_phase, proposalId: input.proposalId } });
  });
}

export async function finishValidation(db: Kysely<Database>, proposalId: string): Promise<void> {
  await db.updateTable('governance_state').set({ active_proposal_id: null, updated_at: new Date() }).where('active_proposal_id', '=', proposalId).execute();
  await recordAuditEvent(db, { actor: 'autonomy', kind: 'autonomy.phase_validated', subject: `proposal:${proposalId}`, details: {}, idempotencyKey: `validated:${proposalId}` });
}

export async function saveGovernanceReport(db: Kysely<Database>, report: Record<string, unknown>, proposalId: string | null, at: string): Promise<string> {
  return db.transaction().execute(async (trx) => {
    const row = await trx.insertInto('governance_report').values({ at: new Date(at), report: JSON.stringify(report), proposal_id: proposalId }).returning('id').executeTakeFirstOrThrow();
    await trx.updateTable('governance_state').set({ last_report_at: new Date(at), last_report_id: String(row.id), updated_at: new Date() }).execute();
    await appendAuditEvent(trx, { actor: 'governance-cycle', kind: 'governance.report', subject: `report:${row.id}`, details: { decision: report.decision, proposalId } });
    return String(row.id);
  });
}
