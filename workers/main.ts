// The production worker: connects to the configured Temporal and PostgreSQL.
import { WardenClient } from '../src/client';
import { loadConfig, watchdogScheduleSettings } from '../src/config';
import { openDatabase } from '../src/db/connect';
import { migrateToLatest } from '../src/db/migrate';
import { connectClient, connectWorkerConnection } from '../src/temporal/connection';
import { applyWatchdogSchedules } from '../src/watchdogs/schedules';
import { createGovernanceMetrics, serveMetrics } from '../src/metrics/governance-metrics';
import { createWardenWorker } from './create-worker';

async function main(): Promise<void> {
  const config = loadConfig();
  const database = await openDatabase(config);
  await migrateToLatest(database.db);
  const connection = await connectWorkerConnection(config.temporal);
  const client = await connectClient(config.temporal);
  const metrics = config.metricsPort > 0 ? await serveMetrics(createGovernanceMetrics(database.db), config.metricsPort) : undefined;
  try {
    const worker = await createWardenWorker({ connection, config, db: database.db, client });
    const running = worker.run();
    try {
      await new WardenClient(client, config.temporal.taskQueue).ensureControlPlane();
      await applyWatchdogSchedules(client, watchdogScheduleSettings(config));
    } catch (error) {
      worker.shutdown();
      await running;
      throw error;
    }
    await running;
  } finally {
    await metrics?.close();
    await client.connection.close();
    await connection.close();
    await database.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
