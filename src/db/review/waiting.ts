import type { Kysely } from 'kysely';
import type { Database } from '../database';
import type { GoLivePlaybookRow } from '../tables/go-live';

/**
 * Go-live playbooks still in progress, newest first: what waits for a person,
 * as the tables hold it (open workflows are asked of Temporal, in
 * src/operator/review/waiting-workflows.ts).
 */
export async function listPlaybooksInProgress(db: Kysely<Database>): Promise<GoLivePlaybookRow[]> {
  return db
    .selectFrom('go_live_playbook')
    .selectAll()
    .where('status', '=', 'in_progress')
    .orderBy('started_at', 'desc')
    .execute();
}
