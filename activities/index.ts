import type { Kysely } from 'kysely';
import type { Database } from '../src/db/database';
import { createControlPlaneActivities } from './control-plane';

export interface ActivityDeps {
  db: Kysely<Database>;
}

/** Every activity the `warden` worker serves, closed over its dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createControlPlaneActivities(deps),
  };
}

export type WardenActivities = ReturnType<typeof createActivities>;
