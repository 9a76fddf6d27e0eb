import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

// Notifications to operators and their webhook deliveries.

/** Seed 004's notification queue: one row per audit event worth telling operators about. */
export interface NotificationTable {
  id: ColumnType<string, never, never>;
  at: ColumnType<Date, Date, never>;
  kind: string;
  subject: string;
  summary: string;
  details: ColumnType<Record<string, unknown>, string, never>;
  audit_event_id: ColumnType<string, string, never>;
  routed_at: ColumnType<Date | null, never, Date>;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One notification to one configured webhook. */
export interface NotificationDeliveryTable {
  id: ColumnType<string, never, never>;
  notification_id: ColumnType<string, string, never>;
  webhook: ColumnType<string, string, never>;
  status: ColumnType<DeliveryStatus, DeliveryStatus | undefined, DeliveryStatus>;
  attempts: Generated<number>;
  last_error: string | null;
  last_attempt_at: Date | null;
  delivered_at: Date | null;
}

export type NotificationRow = Selectable<NotificationTable>;
export type NewNotification = Insertable<NotificationTable>;
export type NotificationUpdate = Updateable<NotificationTable>;

export type NotificationDeliveryRow = Selectable<NotificationDeliveryTable>;
export type NewNotificationDelivery = Insertable<NotificationDeliveryTable>;
export type NotificationDeliveryUpdate = Updateable<NotificationDeliveryTable>;
