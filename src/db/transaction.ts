import type { Kysely, Transaction } from 'kysely';
import type { Database } from './database';

/** A repository call runs on the pool or inside the caller's transaction. */
export type Db = Kysely<Database> | Transaction<Database>;

/** Why a write happens, carried into its audit event: the change request that applied it, if any. */
export interface WriteContext {
  changeRequestId?: string;
}

/**
 * Runs `work` in the caller's transaction when given one, else in a new one: a setter then serves both its
 * own callers and a change request applying many changes at once (one transaction, all or nothing).
 */
export function inTransaction<T>(db: Db, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db as Transaction<Database>) : db.transaction().execute(work);
}
