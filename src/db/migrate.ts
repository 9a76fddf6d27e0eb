import { type Kysely, type MigrationResultSet, Migrator, NO_MIGRATIONS } from 'kysely';
import type { Database } from './database';
import { migrations } from './migrations';

function migrator(db: Kysely<Database>): Migrator {
  return new Migrator({ db, provider: { getMigrations: async () => migrations } });
}

export interface MigrationReport {
  applied: { name: string; direction: 'Up' | 'Down'; status: 'Success' | 'Error' | 'NotExecuted' }[];
}

function report(result: MigrationResultSet): MigrationReport {
  if (result.error) {
    const error = result.error instanceof Error ? result.error : new Error(String(result.error));
    throw error;
  }
  return {
    applied: (result.results ?? []).map((r) => ({ name: r.migrationName, direction: r.direction, status: r.status })),
  };
}

export async function migrateToLatest(db: Kysely<Database>): Promise<MigrationReport> {
  return report(await migrator(db).migrateToLatest());
}

/** Rolls back one migration, or all of them with `all`. */
export async function migrateDown(db: Kysely<Database>, { all = false } = {}): Promise<MigrationReport> {
  const m = migrator(db);
  return report(all ? await m.migrateTo(NO_MIGRATIONS) : await m.migrateDown());
}
