import type { Kysely, Selectable, Transaction } from 'kysely';
import type { CommandOutcomeRecord } from '../domain/autonomy/activities';
import { type AutonomyMetrics, type CommandOutcome, computeMetrics } from '../domain/autonomy/metrics';
import { AuditKind } from '../domain/audit/kinds';
import { appendAuditEvent } from './audit.repository';
import type { Database } from './database';

/** A repository call runs on the pool or inside the caller's transaction. */
type Db = Kysely<Database> | Transaction<Database>;

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
