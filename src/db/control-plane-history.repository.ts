import { type Kysely, sql } from 'kysely';
import { AuditKind } from '../domain/audit/kinds';
import type { AuthorityChange } from '../domain/control-plane/loosening';
import { CONTROL_PLANE_SUBJECT } from '../domain/control-plane/rules';
import type { Database } from './database';

// What the control plane's own audit trail says about its past, read by the
// persist activity in its transaction: the events are the record, so nothing
// else has to be kept in step with them.

/** When go-live last went from on to off (an applied change whose before had it on and after off), or null. */
export async function lastGoLiveOffAt(db: Kysely<Database>): Promise<Date | null> {
  const row = await db
    .selectFrom('audit_event')
    .select('at')
    .where('kind', '=', AuditKind.controlPlane.goLiveSet)
    .where('subject', '=', CONTROL_PLANE_SUBJECT)
    .where(sql<boolean>`details->'before'->>'goLiveEnabled' = 'true' and details->'after'->>'goLiveEnabled' = 'false'`)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.at ?? null;
}

/** The changes of `changeRequestId` the control plane has already applied under its authority. */
export async function appliedUnderChangeRequest(
  db: Kysely<Database>,
  changeRequestId: string,
): Promise<AuthorityChange[]> {
  const rows = await db
    .selectFrom('audit_event')
    .select(sql<unknown>`details->'authority'->'change'`.as('change'))
    .where('kind', 'in', [
      AuditKind.controlPlane.goLiveSet,
      AuditKind.controlPlane.applyModeSet,
      AuditKind.controlPlane.engineRestrictionCleared,
    ])
    .where('subject', '=', CONTROL_PLANE_SUBJECT)
    .where(sql<boolean>`details->'authority'->>'changeRequestId' = ${changeRequestId}`)
    .execute();
  return rows.map((r) => r.change as AuthorityChange);
}
