import type { Kysely, Selectable } from 'kysely';
import { AuditKind } from '../domain/audit/kinds';
import type { StepRecording } from '../domain/go-live/activities';
import { type PlaybookStatus, signOffProblem, type StepRecord, type StepRefusal } from '../domain/go-live/playbook';
import { approvalAudience } from '../domain/identity/audience';
import { redactToken } from '../domain/identity/redact';
import { storablePayload } from '../domain/shared/validation';
import { spendApprovalToken } from './approval-tokens.repository';
import { appendAuditEvent, recordAuditEvent } from './audit.repository';
import type { Database, GoLivePlaybookTable } from './database';

const playbookSubject = (id: string) => `playbook:${id}`;

/** The one request a playbook step's approval token is spent by: the step, in this run. */
export const playbookStepRequest = (runId: string, step: string) => `go-live:${runId}:step:${step}`;

/** The control plane's go-live guard: when a playbook last ran all nine steps, or null if none has. */
export async function latestPlaybookCompletion(db: Kysely<Database>): Promise<Date | null> {
  const row = await db
    .selectFrom('go_live_playbook')
    .select((eb) => eb.fn.max('completed_at').as('at'))
    .where('status', '=', 'completed')
    .executeTakeFirst();
  return row?.at ?? null;
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
    // Before any token is spent: a refused sign-off leaves the token unused.
    const separation = input.record.step === 'sign_off' ? signOffProblem(row.steps, input.record.actor) : null;
    if (separation !== null) return { recorded: false, problem: separation, reason: 'separation_of_duties' };
    if (input.token) {
      // Signed for this step of this playbook; this run's step is the one request that may spend it.
      const spent = await spendApprovalToken(trx, input.token, {
        audience: approvalAudience(input.id, input.record.step),
        requestKey: playbookStepRequest(input.runId, input.record.step),
      });
      if (!spent.ok) return { recorded: false, problem: spent.problem };
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
  // Refused, so untrusted: bounded and free of control characters, and never the token.
  const payload = storablePayload(redactToken(input.payload ?? null));
  await recordAuditEvent(db, {
    actor,
    kind: input.refusal.reason === 'invalid_payload' ? AuditKind.goLive.messageRejected : AuditKind.goLive.stepRefused,
    subject: playbookSubject(input.id),
    details: { ...refusal, payload },
    idempotencyKey: `go-live-refusal:${input.key}`,
  });
}
