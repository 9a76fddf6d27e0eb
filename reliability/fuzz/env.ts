// What a fuzz run acts on: a migrated database, an in-process Warden worker
// on a dev server namespace (built the way the tests build one), the
// control plane, the operator API in-process (fastify inject) with a key
// holding every role, and the long-lived workflows the messages go to.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { createActivities } from '../../activities';
import { createSimulatedCommandExecutor, createSimulatedExecutor } from '../../activities/executors/simulated';
import { WardenClient } from '../../src/client';
import { loadConfig, SAFE_GOVERNANCE_SETTINGS, type GovernanceSettings } from '../../src/config/index';
import { createApiKey } from '../../src/db/api-keys.repository';
import type { Database } from '../../src/db/database';
import { DEFAULT_CAPITAL_BANDS } from '../../src/domain/capital/bands';
import { ROLES, type Identity } from '../../src/domain/identity/roles';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { createApiServer } from '../../src/operator/api/server';
import { createGovernanceMetrics } from '../../src/operator/metrics/governance-metrics';
import type { ApiDeps } from '../../src/operator/api/routes/shared';

/** Release rules loose enough for a harness: no cooldown, one approver (never the engager). */
export const FUZZ_SETTINGS: GovernanceSettings = {
  ...SAFE_GOVERNANCE_SETTINGS,
  environment: 'test',
  release: { cooldown: '0s', approvals: 1 },
};

export interface FuzzEnv {
  db: Kysely<Database>;
  namespace: string;
  taskQueue: string;
  client: Client;
  warden: WardenClient;
  app: FastifyInstance;
  deps: ApiDeps;
  /** A key holding every role, so a request gets past RBAC to its validation. */
  key: string;
  identity: Identity;
  stop(): Promise<void>;
}

export async function createFuzzEnv(options: {
  db: Kysely<Database>;
  address: string;
  namespace: string;
  workflowBundle: { code: string };
}): Promise<FuzzEnv> {
  const { db, address, namespace } = options;
  const taskQueue = `fuzz-${randomUUID()}`;
  // Histories holding 1 MB payloads come back in pages past gRPC's 4 MB default: the harness reads them whole.
  const client = new Client({
    connection: await Connection.connect({
      address,
      channelArgs: { 'grpc.max_receive_message_length': 256 * 1024 * 1024 },
    }),
    namespace,
  });
  const warden = new WardenClient(client, taskQueue);
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue,
    workflowBundle: options.workflowBundle,
    maxConcurrentWorkflowTaskExecutions: 100,
    maxConcurrentActivityTaskExecutions: 100,
    activities: createActivities({
      db,
      governor: { ...DEFAULT_GOVERNOR_SETTINGS, maxPerHour: 1_000_000, maxPer5Min: 1_000_000 },
      controlPlane: warden,
      commandExecutor: createSimulatedCommandExecutor(),
      executor: createSimulatedExecutor(),
      settings: FUZZ_SETTINGS,
    }),
  });
  const running = worker.run();
  await warden.ensureControlPlane();
  await warden.waitForControlPlane(0);
  await warden.ensureNotificationDispatch();

  const created = await createApiKey(db, { identity: 'fuzz-owner', roles: [...ROLES], actor: 'fuzz' });
  const config = loadConfig({ TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace, WARDEN_TASK_QUEUE: taskQueue });
  const deps: ApiDeps = {
    db,
    warden,
    temporal: client,
    config,
    registry: createGovernanceMetrics(db, { capitalBands: DEFAULT_CAPITAL_BANDS }),
  };
  const app = createApiServer(deps, { rateLimitPerMinute: 1_000_000_000, authFailuresPerMinute: 1_000_000_000 });
  await app.ready();
  return {
    db,
    namespace,
    taskQueue,
    client,
    warden,
    app,
    deps,
    key: created.key,
    identity: { name: 'fuzz-owner', roles: [...ROLES], keyId: created.view.id },
    async stop() {
      await app.close();
      // Already stopping (a second stop, or the worker shut itself down): shutdown() would throw.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
      await client.connection.close();
    },
  };
}
