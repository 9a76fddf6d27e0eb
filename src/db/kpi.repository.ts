import type { Kysely } from 'kysely';
import type { Database } from './database';

export interface KpiEvent {
  domain: string;
  metric: string;
  success?: boolean | null;
  value?: number | null;
  at?: Date;
  source: string;
  /** A retried recorder passes the same key; the event is stored once. */
  key?: string;
}

export async function recordKpiEvent(db: Kysely<Database>, event: KpiEvent): Promise<void> {
  await db
    .insertInto('kpi_event')
    .values({
      idempotency_key: event.key ?? null,
      domain: event.domain,
      metric: event.metric,
      success: event.success ?? null,
      value: event.value ?? null,
      ...(event.at ? { at: event.at } : {}),
      source: event.source,
    })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .execute();
}
