import { type Kysely, sql } from 'kysely';
import type { PendingDelivery } from '../domain/notifications/activities';
import type { NotificationPayload } from '../domain/notifications/rules';
import { AuditKind } from '../domain/audit/kinds';
import { appendAuditEvent } from './audit.repository';
import type { Database, DeliveryStatus } from './database';

// Notifications are enqueued by appendAuditEvent, in the transaction of the event they announce.

export interface DeliveryView {
  webhook: string;
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  lastAttemptAt: string | null;
  deliveredAt: string | null;
}

export interface NotificationView {
  id: string;
  at: string;
  kind: string;
  subject: string;
  summary: string;
  details: Record<string, unknown>;
  auditEventId: string;
  /** False until the dispatcher has made a delivery for each configured webhook. */
  routed: boolean;
  deliveries: DeliveryView[];
}

/**
 * Newest first. `pendingOnly`: those not yet routed or with a delivery still
 * pending. Plain JSON, for the CLI, the API and the local ops endpoint.
 */
export async function listNotifications(
  db: Kysely<Database>,
  { limit = 50, pendingOnly = false }: { limit?: number; pendingOnly?: boolean } = {},
): Promise<NotificationView[]> {
  let query = db.selectFrom('notification').selectAll().orderBy('id', 'desc').limit(limit);
  if (pendingOnly) {
    query = query.where((eb) =>
      eb.or([
        eb('routed_at', 'is', null),
        eb.exists(
          eb
            .selectFrom('notification_delivery as d')
            .select('d.id')
            .whereRef('d.notification_id', '=', 'notification.id')
            .where('d.status', '=', 'pending'),
        ),
      ]),
    );
  }
  const rows = await query.execute();
  if (rows.length === 0) return [];
  const deliveries = await db
    .selectFrom('notification_delivery')
    .selectAll()
    .where(
      'notification_id',
      'in',
      rows.map((r) => String(r.id)),
    )
    .orderBy('webhook')
    .execute();
  return rows.map((r) => ({
    id: String(r.id),
    at: r.at.toISOString(),
    kind: r.kind,
    subject: r.subject,
    summary: r.summary,
    details: r.details,
    auditEventId: String(r.audit_event_id),
    routed: r.routed_at !== null,
    deliveries: deliveries
      .filter((d) => String(d.notification_id) === String(r.id))
      .map((d) => ({
        webhook: d.webhook,
        status: d.status,
        attempts: d.attempts,
        lastError: d.last_error,
        lastAttemptAt: d.last_attempt_at?.toISOString() ?? null,
        deliveredAt: d.delivered_at?.toISOString() ?? null,
      })),
  }));
}

/**
 * Gives each notification not yet routed one pending delivery per webhook
 * configured now. A webhook added later is not sent the history.
 */
export async function routeNotifications(
  db: Kysely<Database>,
  webhooks: readonly string[],
  batch = 500,
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const rows = await trx
      .selectFrom('notification')
      .select('id')
      .where('routed_at', 'is', null)
      .orderBy('id')
      .limit(batch)
      .forUpdate()
      .skipLocked()
      .execute();
    if (rows.length === 0) return 0;
    const ids = rows.map((r) => String(r.id));
    if (webhooks.length > 0) {
      await trx
        .insertInto('notification_delivery')
        .values(ids.flatMap((id) => webhooks.map((webhook) => ({ notification_id: id, webhook }))))
        .onConflict((oc) => oc.columns(['notification_id', 'webhook']).doNothing())
        .execute();
    }
    await trx.updateTable('notification').set({ routed_at: new Date() }).where('id', 'in', ids).execute();
    return ids.length;
  });
}

/**
 * The oldest pending deliveries, at most `perWebhook` for each webhook
 * (counting those the caller has in flight), minus those in flight and any
 * webhook the caller is not taking more for.
 */
export async function pendingDeliveries(
  db: Kysely<Database>,
  {
    perWebhook,
    inFlight = [],
    skipWebhooks = [],
  }: { perWebhook: number; inFlight?: readonly string[]; skipWebhooks?: readonly string[] },
): Promise<PendingDelivery[]> {
  let ranked = db
    .selectFrom('notification_delivery')
    .select(['id', 'webhook', sql<number>`row_number() over (partition by webhook order by id)`.as('rank')])
    .where('status', '=', 'pending');
  if (skipWebhooks.length > 0) ranked = ranked.where('webhook', 'not in', [...skipWebhooks]);
  const rows = await db
    .selectFrom(ranked.as('r'))
    .select(['id', 'webhook'])
    .where('rank', '<=', perWebhook)
    .orderBy('id')
    .execute();
  const busy = new Set(inFlight);
  return rows.filter((r) => !busy.has(String(r.id))).map((r) => ({ deliveryId: String(r.id), webhook: r.webhook }));
}

export interface DeliveryToSend {
  status: DeliveryStatus;
  webhook: string;
  payload: Omit<NotificationPayload, 'environment'>;
}

export async function loadDelivery(db: Kysely<Database>, deliveryId: string): Promise<DeliveryToSend | undefined> {
  const row = await db
    .selectFrom('notification_delivery as d')
    .innerJoin('notification as n', 'n.id', 'd.notification_id')
    .select(['d.status', 'd.webhook', 'n.id', 'n.kind', 'n.subject', 'n.summary', 'n.details', 'n.at'])
    .where('d.id', '=', deliveryId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    status: row.status,
    webhook: row.webhook,
    payload: {
      id: String(row.id),
      kind: row.kind,
      subject: row.subject,
      summary: row.summary,
      details: row.details,
      at: row.at.toISOString(),
    },
  };
}

/** One attempt's outcome; only a pending delivery changes, so a late duplicate attempt is harmless. */
export async function recordDeliveryAttempt(
  db: Kysely<Database>,
  deliveryId: string,
  outcome: { delivered: true } | { delivered: false; error: string },
): Promise<void> {
  const at = new Date();
  await db
    .updateTable('notification_delivery')
    .set((eb) => ({
      attempts: eb('attempts', '+', 1),
      last_attempt_at: at,
      ...(outcome.delivered
        ? { status: 'delivered' as const, delivered_at: at }
        : { last_error: outcome.error.slice(0, 2000) }),
    }))
    .where('id', '=', deliveryId)
    .where('status', '=', 'pending')
    .execute();
}

/** Gives up on a delivery: a permanent refusal or retries exhausted. Audited once. */
export async function markDeliveryFailed(db: Kysely<Database>, deliveryId: string, error: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const failed = await trx
      .updateTable('notification_delivery')
      .set({ status: 'failed', last_error: error.slice(0, 2000) })
      .where('id', '=', deliveryId)
      .where('status', '=', 'pending')
      .returning(['notification_id', 'webhook', 'attempts'])
      .executeTakeFirst();
    if (!failed) return false;
    await appendAuditEvent(trx, {
      actor: 'notification-dispatch',
      kind: AuditKind.notification.deliveryFailed,
      subject: `notification:${String(failed.notification_id)}`,
      details: { deliveryId, webhook: failed.webhook, attempts: failed.attempts, error },
    });
    return true;
  });
}

/** Not yet delivered: pending deliveries plus notifications not routed yet (the backlog gauge). */
export async function undeliveredCount(db: Kysely<Database>): Promise<number> {
  const pending = await db
    .selectFrom('notification_delivery')
    .select(db.fn.countAll<string>().as('n'))
    .where('status', '=', 'pending')
    .executeTakeFirstOrThrow();
  const unrouted = await db
    .selectFrom('notification')
    .select(db.fn.countAll<string>().as('n'))
    .where('routed_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(pending.n) + Number(unrouted.n);
}
