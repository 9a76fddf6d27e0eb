import type { Kysely } from 'kysely';
import { type NativeConnection, Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { createActivities } from '../activities';
import type { CanaryChecks } from '../activities/watchdogs';
import { WardenClient } from '../src/client';
import { breakerTrippedSignal } from '../workflows/messages';
import { type Config, governanceSettingsOf } from '../src/config/index';
import type { Database } from '../src/db/database';
import { workflowsEntry } from '../src/config/paths';

/** The `warden` worker: every workflow and activity, wired to one database. */
export async function createWardenWorker(deps: {
  connection: NativeConnection;
  config: Config;
  db: Kysely<Database>;
  client: Client;
  canaryChecks?: CanaryChecks;
}): Promise<Worker> {
  return Worker.create({
    connection: deps.connection,
    namespace: deps.config.temporal.namespace,
    taskQueue: deps.config.temporal.taskQueue,
    workflowsPath: workflowsEntry,
    activities: createActivities({
      db: deps.db,
      governor: deps.config.governor,
      settings: governanceSettingsOf(deps.config),
      controlPlane: new WardenClient(deps.client, deps.config.temporal.taskQueue),
      notifyProposal: async (proposalId, payload) => {
        await deps.client.workflow.getHandle(proposalId).signal(breakerTrippedSignal, payload);
      },
      pingTemporal: async () => {
        await deps.client.workflowService.getSystemInfo({});
      },
      ...(deps.canaryChecks ? { canaryChecks: deps.canaryChecks } : {}),
    }),
  });
}
