// The production worker: connects to the configured Temporal and PostgreSQL.
import { Runtime } from '@temporalio/worker';
import { WardenClient } from '../src/client';
import { loadConfig, watchdogScheduleSettings } from '../src/config/index';
import { openDatabase } from '../src/db/connect';
import { migrateToLatest } from '../src/db/migrate';
import { connectClient, connectWorkerConnection } from '../src/temporal/connection';
import { applyWatchdogSchedules } from '../src/temporal/schedules';
import { createGovernanceMetrics, serveMetrics } from '../src/operator/metrics/governance-metrics';
import { workerRuntimeTelemetry } from '../src/operator/metrics/worker-runtime';
import { createApiServer, serveApi } from '../src/operator/api/server';
import { createWardenWorker } from './create-worker';

async function main(): Promise<void> {
  const config = loadConfig();
  // Before any NativeConnection: the runtime's telemetry is fixed at install.
  const telemetryOptions = workerRuntimeTelemetry(config.workerMetricsPort, '0.0.0.0');
  if (telemetryOptions) Runtime.install({ telemetryOptions });
  const database = await openDatabase(config);
  await migrateToLatest(database.db);
  const connection = await connectWorkerConnection(config.temporal);
  const client = await connectClient(config.temporal);
  const registry = createGovernanceMetrics(database.db, { capitalBands: config.capitalBands });
  const metrics = config.metricsPort > 0 ? await serveMetrics(registry, config.metricsPort) : undefined;
  let api: { close(): Promise<void> } | undefined;
  try {
    const worker = await createWardenWorker({ connection, config, db: database.db, client });
    const running = worker.run();
    try {
      const warden = new WardenClient(client, config.temporal.taskQueue);
      await warden.ensureControlPlane();
      await warden.ensureNotificationDispatch();
      await applyWatchdogSchedules(client, watchdogScheduleSettings(config));
      if (config.apiPort > 0) api = await serveApi(createApiServer({ db: database.db, warden, temporal: client, config, registry }, { rateLimitPerMinute: config.rateLimitPerMinute }), config.apiPort);
    } catch (error) {
      worker.shutdown();
      await running;
      throw error;
    }
    await running;
  } finally {
    await api?.close();
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
