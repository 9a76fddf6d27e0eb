import type { Kysely } from 'kysely';
import type { Registry } from 'prom-client';
import type { Database, DeliveryStatus } from '../../db/database';
import { undeliveredCount } from '../../db/notifications.repository';
import { dbGauges } from './db-gauge';

const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const satisfies readonly DeliveryStatus[];

/** Seed 004's notification queue: a growing backlog or any failed delivery means operators may not be hearing about incidents. */
export function registerNotificationMetrics(registry: Registry, db: Kysely<Database>): void {
  const gauge = dbGauges(registry, 'warden_');
  gauge(
    'notifications_undelivered',
    'Notifications not yet delivered: pending webhook deliveries plus notifications not yet routed',
    [],
    async (g) => {
      g.set(await undeliveredCount(db));
    },
  );
  gauge('notification_deliveries', 'Webhook deliveries by status', ['status'], async (g) => {
    const rows = await db
      .selectFrom('notification_delivery')
      .select(['status', db.fn.countAll<string>().as('n')])
      .groupBy('status')
      .execute();
    for (const status of DELIVERY_STATUSES) g.set({ status }, Number(rows.find((r) => r.status === status)?.n ?? 0));
  });
}
