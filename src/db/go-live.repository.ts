import { AuditKind } from '../domain/audit/kinds';
import { redactToken } from '../domain/identity/redact';
import { spendApprovalToken } from './approval-tokens.repository';
import type { Kysely, Selectable } from 'kysely';
import type { StepRecording } from '../domain/go-live/activities';
import type { PlaybookStatus, StepRecord, StepRefusal } from '../domain/go-live/playbook';
import type { OperatorSessionView, SystemSnapshot } from '../domain/go-live/sessions';
import { appendAuditEvent, recordAuditEvent } from './audit.repository';
import { readControlPlaneState } from './control-plane.repository';
import type { Database, GoLivePlaybookTable, OperatorSessionTable } from './database';
import { type HealthOptions, readHealth } from './health.repository';

const playbookSubject = (id: string) => `playbook:${id}`;
const sessionSubject = (id: string) => `session:${id}`;

/** The control plane's go-live guard: some playbook ran all nine steps. */
export async function hasCompletedPlaybook(db: Kysely<Database>): Promise<boolean> {
  const row = await db
    .selectFrom('go_live_playbook')
    .select('id')
    .where('status', '=', 'completed')
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export interface PlaybookRecord {
  id: string;
  status: PlaybookStatus;
  steps: StepRecord[];
  startedBy: string;
  startedAt: string;
  completedAt: string | null;
  environment: string;
}

function toPlaybook(row: Selectable<GoLivePlaybookTable>): PlaybookRecord {
  return {
    id: row.id,
    status: row.status,
    steps: row.steps,
    startedBy: row.started_by,
    startedAt: row.started_at.toISOString(),
    completedAt: row.completed_at?.toISOString() ?? null,
    environment: row.environment,
  };
}

export async function readPlaybook(db: Kysely<Database>, id: string): Promise<PlaybookRecord | undefined> {
  const row = await db.selectFrom('go_live_playbook').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toPlaybook(row);
}

/**
 * A run of the playbook (re)opens its row: a new run under the same id starts
 * over, so go-live needs it finished again. `runId` keys the audit event, so
 * a retried call appends it once.
 */
export async function openPlaybook(
  db: Kysely<Database>,
  input: { id: string; runId: string; startedBy: string; startedAt: Date; environment: string },
): Promise<PlaybookRecord> {
  return db.transaction().execute(async (trx) => {
    const values = {
      status: 'in_progress' as const,
      steps: '[]',
      started_by: input.startedBy,
      started_at: input.startedAt,
      completed_at: null,
      environment: input.environment,
    };
    const row = await trx
      .insertInto('go_live_playbook')
      .values({ id: input.id, ...values })
      .onConflict((oc) => oc.column('id').doUpdateSet(values))
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAuditEvent(trx, {
      actor: input.startedBy,
      kind: AuditKind.goLive.playbookStarted,
      subject: playbookSubject(input.id),
      details: { runId: input.runId, environment: input.environment },
      idempotencyKey: `go-live:${input.runId}:started`,
    });
    return toPlaybook(row);
  });
}

/**
 * Appends one done step with its audit event, and uses up the signed approval
 * token that vouched for it. A retry finds the step already there and does nothing.
 */
export async function recordPlaybookStep(
  db: Kysely<Database>,
  input: { id: string; runId: string; record: StepRecord; token?: { tokenId: string; subject: string } },
): Promise<StepRecording> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('go_live_playbook')
      .selectAll()
      .where('id', '=', input.id)
      .forUpdate()
      .executeTakeFirstOrThrow();
    if (row.steps.some((s) => s.step === input.record.step)) return { recorded: true };
    if (row.status !== 'in_progress')
      return { recorded: false, problem: `step: playbook ${input.id} is ${row.status}` };
    if (input.token) {
      const usedFor = `${playbookSubject(input.id)}:${input.runId}:${input.record.step}`;
      if (!(await spendApprovalToken(trx, input.token, usedFor)))
        return { recorded: false, problem: `token: already used (token ${input.token.tokenId})` };
    }
    await trx
      .updateTable('go_live_playbook')
      .set({ steps: JSON.stringify([...row.steps, input.record]) })
      .where('id', '=', input.id)
      .execute();
    await appendAuditEvent(trx, {
      actor: input.record.actor,
      kind: AuditKind.goLive.stepCompleted,
      subject: playbookSubject(input.id),
      details: { runId: input.runId, ...input.record, position: row.steps.length + 1 },
      idempotencyKey: `go-live:${input.runId}:step:${input.record.step}`,
    });
    return { recorded: true };
  });
}

export type PlaybookClosing =
  { closed: true; playbook: PlaybookRecord } | { closed: false; problem: string; playbook: PlaybookRecord | null };

/**
 * Marks an in-progress playbook completed or abandoned, with its audit event.
 * Only a close that happened is audited: a retry of it finds its event and
 * answers `closed` again; a close of a playbook that is missing or already
 * closed otherwise is refused with what is stored, and writes nothing.
 */
export async function closePlaybook(
  db: Kysely<Database>,
  input: { id: string; runId: string; status: 'completed' | 'abandoned'; actor: string; reason?: string; at: Date },
): Promise<PlaybookClosing> {
  const idempotencyKey = `go-live:${input.runId}:${input.status}`;
  return db.transaction().execute(async (trx): Promise<PlaybookClosing> => {
    const row = await trx
      .selectFrom('go_live_playbook')
      .selectAll()
      .where('id', '=', input.id)
      .forUpdate()
      .executeTakeFirst();
    if (!row) return { closed: false, problem: `close: no playbook ${input.id}`, playbook: null };
    const done = await trx
      .selectFrom('audit_event')
      .select('id')
      .where('idempotency_key', '=', idempotencyKey)
      .executeTakeFirst();
    if (done) return { closed: true, playbook: toPlaybook(row) };
    if (row.status !== 'in_progress')
      return { closed: false, problem: `close: playbook ${input.id} is ${row.status}`, playbook: toPlaybook(row) };
    const closed = await trx
      .updateTable('go_live_playbook')
      .set({ status: input.status, completed_at: input.status === 'completed' ? input.at : null })
      .where('id', '=', input.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAuditEvent(trx, {
      at: input.at,
      actor: input.actor,
      kind: input.status === 'completed' ? AuditKind.goLive.playbookCompleted : AuditKind.goLive.playbookAbandoned,
      subject: playbookSubject(input.id),
      details: { runId: input.runId, ...(input.reason ? { reason: input.reason } : {}) },
      idempotencyKey,
    });
    return { closed: true, playbook: toPlaybook(closed) };
  });
}

/**
 * A refused step changes nothing but leaves a trace: who tried which step, and
 * why not. An approval token is left out: refused, it is still unspent, and
 * audit readers must not be able to use it.
 */
export async function auditPlaybookRefusal(
  db: Kysely<Database>,
  input: { id: string; refusal: StepRefusal; payload: unknown; key: string },
): Promise<void> {
  const { actor, ...refusal } = input.refusal;
  const payload = redactToken(input.payload);
  await recordAuditEvent(db, {
    actor,
    kind: input.refusal.reason === 'invalid_payload' ? AuditKind.goLive.messageRejected : AuditKind.goLive.stepRefused,
    subject: playbookSubject(input.id),
    details: { ...refusal, payload: payload ?? null },
    idempotencyKey: `go-live-refusal:${input.key}`,
  });
}

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
    if (!inserted)
      return toSession(
        await trx
          .selectFrom('operator_session')
          .selectAll()
          .where('id', '=', input.sessionId)
          .executeTakeFirstOrThrow(),
      );
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
    if (!ended)
      return toSession(
        await trx
          .selectFrom('operator_session')
          .selectAll()
          .where('id', '=', input.sessionId)
          .executeTakeFirstOrThrow(),
      );
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
