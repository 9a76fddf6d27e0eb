import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';

// The append-only, hash-chained audit log.

export interface AuditEventTable {
  id: ColumnType<string, never, never>;
  at: ColumnType<Date, Date, never>;
  actor: string;
  kind: string;
  subject: string;
  details: ColumnType<Record<string, unknown>, string, never>;
  /** Set when a retried writer must not append the same event twice. */
  idempotency_key: string | null;
  /** Which of the log's hash chains the event extends (src/db/audit.repository.ts). */
  chain: ColumnType<number, number | undefined, never>;
  prev_hash: string;
  hash: string;
}

export type AuditEventRow = Selectable<AuditEventTable>;
export type NewAuditEvent = Insertable<AuditEventTable>;
export type AuditEventUpdate = Updateable<AuditEventTable>;
