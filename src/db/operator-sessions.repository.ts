import type { Kysely, Selectable, Transaction } from 'kysely';
import { AuditKind } from '../domain/audit/kinds';
import type { OperatorSessionView, SystemSnapshot } from '../domain/go-live/sessions';
import { appendAuditEvent } from './audit.repository';
import { readControlPlaneState } from './control-plane.repository';
import type { Database, OperatorSessionTable } from './database';
import { type HealthOptions, readHealth } from './health.repository';

// Go-live's operator sessions, each opened and closed with a snapshot of the system (the playbook: go-live.repository.ts).
const sessionSubject = (id: string) => `session:${id}`;

/** Control-plane state, capital band and R/Y/G health, as operators saw them at one moment. */
export async function captureSnapshot(
  db: Kysely<Database>,
  options: HealthOptions,
  at = new Date(),
): Promise<SystemSnapshot> {
  const [controlPlane, { band, ...health }, playbook] = await Promise.all([
    readControlPlaneState(db),
    readHealth(db, options, at),
    db
      .selectFrom('go_live_playbook')
      .select(['id', 'status', 'steps'])
      .orderBy('started_at', 'desc')
      .limit(1)
      .executeTakeFirst(),
  ]);
  return {
    at: at.toISOString(),
    controlPlane,
    band,
    health,
    playbook: playbook ? { id: playbook.id, status: playbook.status, steps: playbook.steps.length } : null,
  };
}

function toSession(row: Selectable<OperatorSessionTable>): OperatorSessionView {
  return {
    sessionId: row.id,
    operator: row.operator,
    status: row.status,
    startedAt: row.started_at.toISOString(),
    endedAt: row.ended_at?.toISOString() ?? null,
    startNotes: row.start_notes,
    endNotes: row.end_notes,
    startSnapshot: row.start_snapshot,
    endSnapshot: row.end_snapshot,
  };
}

/** Stores a new session with its start snapshot; a retry returns the session as first stored. */
export async function openOperatorSession(
  db: Kysely<Database>,
  input: { sessionId: string; operator: string; notes: string | null; startedAt: Date; snapshot: SystemSnapshot },
): Promise<OperatorSessionView> {
  return db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('operator_session')
      .values({
        id: input.sessionId,
        operator: input.operator,
        status: 'active',
        started_at: input.startedAt,
        start_notes: input.notes,
        start_snapshot: JSON.stringify(input.snapshot),
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!inserted) return storedSession(trx, input.sessionId);
    await appendAuditEvent(trx, {
      at: input.startedAt,
      actor: input.operator,
      kind: AuditKind.goLive.sessionStarted,
      subject: sessionSubject(input.sessionId),
      details: {
        notes: input.notes,
        health: input.snapshot.health.status,
        band: input.snapshot.band.band,
        goLive: input.snapshot.controlPlane.goLiveEnabled,
      },
      idempotencyKey: `operator-session:${input.sessionId}:started`,
    });
    return toSession(inserted);
  });
}

/** The session as stored: what a retried open or close answers. */
async function storedSession(trx: Transaction<Database>, sessionId: string): Promise<OperatorSessionView> {
  return toSession(
    await trx.selectFrom('operator_session').selectAll().where('id', '=', sessionId).executeTakeFirstOrThrow(),
  );
}

/** Ends an active session with its end snapshot; a retry returns the session as ended the first time. */
export async function closeOperatorSession(
  db: Kysely<Database>,
  input: { sessionId: string; actor: string; notes: string | null; endedAt: Date; snapshot: SystemSnapshot },
): Promise<OperatorSessionView> {
  return db.transaction().execute(async (trx) => {
    const ended = await trx
      .updateTable('operator_session')
      .set({
        status: 'ended',
        ended_at: input.endedAt,
        end_notes: input.notes,
        end_snapshot: JSON.stringify(input.snapshot),
      })
      .where('id', '=', input.sessionId)
      .where('status', '=', 'active')
      .returningAll()
      .executeTakeFirst();
    if (!ended) return storedSession(trx, input.sessionId);
    await appendAuditEvent(trx, {
      at: input.endedAt,
      actor: input.actor,
      kind: AuditKind.goLive.sessionEnded,
      subject: sessionSubject(input.sessionId),
      details: {
        operator: ended.operator,
        notes: input.notes,
        health: input.snapshot.health.status,
        band: input.snapshot.band.band,
        goLive: input.snapshot.controlPlane.goLiveEnabled,
      },
      idempotencyKey: `operator-session:${input.sessionId}:ended`,
    });
    return toSession(ended);
  });
}

export async function listOperatorSessions(
  db: Kysely<Database>,
  filter: { activeOnly?: boolean; limit?: number } = {},
): Promise<OperatorSessionView[]> {
  let query = db
    .selectFrom('operator_session')
    .selectAll()
    .orderBy('started_at', 'desc')
    .limit(filter.limit ?? 100);
  if (filter.activeOnly) query = query.where('status', '=', 'active');
  return (await query.execute()).map(toSession);
}
