import type { Kysely } from 'kysely';
import { computeMetrics } from '../domain/autonomy/metrics';
import { assessReadiness, type ReadinessReport } from '../domain/autonomy/readiness';
import { ATTESTABLE_ITEMS } from '../domain/autonomy/readiness-checklist';
import { ErrorType } from '../domain/shared/errors';
import { AuditKind } from '../domain/audit/kinds';
import { appendAuditEvent, verifyAuditChain } from './audit.repository';
import { readGovernanceState } from './autonomy.repository';
import { outcomesSince } from './command-records.repository';
import type { Database } from './database';

const DAY_MS = 86_400_000;

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

/** Seed 002's read side: the stored weekly reports, newest first, each with its id and period. */
export async function listGovernanceReports(db: Kysely<Database>, limit: number) {
  const rows = await db
    .selectFrom('governance_report')
    .select(['id', 'at', 'report', 'proposal_id'])
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.map(reportView);
}

/** One stored report by id; undefined when there is none. */
export async function readGovernanceReport(db: Kysely<Database>, id: string) {
  const row = await db
    .selectFrom('governance_report')
    .select(['id', 'at', 'report', 'proposal_id'])
    .where('id', '=', id)
    .executeTakeFirst();
  return row && reportView(row);
}

function reportView(r: { id: string; at: Date; report: unknown; proposal_id: string | null }) {
  return { id: String(r.id), at: r.at.toISOString(), proposalId: r.proposal_id, report: r.report };
}

/** Seed 002's metrics snapshots (what each cycle measured), newest first; a range keeps those ending in it. */
export async function listMetricsSnapshots(
  db: Kysely<Database>,
  options: { limit: number; start?: Date | undefined; end?: Date | undefined },
) {
  const rows = await db
    .selectFrom('metrics_snapshot')
    .selectAll()
    .$if(options.start !== undefined, (q) => q.where('window_end', '>=', options.start!))
    .$if(options.end !== undefined, (q) => q.where('window_end', '<=', options.end!))
    .orderBy('id', 'desc')
    .limit(options.limit)
    .execute();
  return rows.map((r) => ({
    id: String(r.id),
    at: r.at.toISOString(),
    windowStart: r.window_start.toISOString(),
    windowEnd: r.window_end.toISOString(),
    metrics: r.metrics,
  }));
}
