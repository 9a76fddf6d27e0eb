import type { Kysely } from 'kysely';
import { type NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { Config } from '../src/config';
import type { Database } from '../src/db/database';
import { workflowsEntry } from '../src/tools';

/** The `warden` worker: every workflow and activity, wired to one database. */
export async function createWardenWorker(deps: { connection: NativeConnection; config: Config; db: Kysely<Database> }): Promise<Worker> {
  return Worker.create({
    connection: deps.connection,
    namespace: deps.config.temporal.namespace,
    taskQueue: deps.config.temporal.taskQueue,
    workflowsPath: workflowsEntry,
    activities: createActivities({ db: deps.db }),
  });
}
