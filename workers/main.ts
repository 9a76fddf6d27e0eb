// The production worker: connects to the configured Temporal and PostgreSQL.
import { Runtime } from '@temporalio/worker';
import { createSimulatedCommandExecutor, createSimulatedExecutor } from '../activities/executors/simulated';
import { loadConfig } from '../src/config/index';
import { createLogger, temporalLogger } from '../src/config/logging';
import { workerRuntimeTelemetry } from '../src/operator/metrics/worker-runtime';
import { runWarden, wire } from './wire';

async function main(): Promise<void> {
  const config = loadConfig();
  // Before any NativeConnection: the runtime's telemetry is fixed at install.
  const telemetryOptions = workerRuntimeTelemetry(config.workerMetricsPort, '0.0.0.0');
  const logger = createLogger(config.logLevel ?? 'info');
  Runtime.install({
    logger: temporalLogger(logger.child({ component: 'worker' })),
    ...(telemetryOptions ? { telemetryOptions } : {}),
  });
  // No fake fills in production: the simulated executors only when asked for explicitly.
  const extras = config.simulatedExecutors
    ? { executor: createSimulatedExecutor(), commandExecutor: createSimulatedCommandExecutor() }
    : {};
  if (config.simulatedExecutors)
    logger.warn('WARDEN_SIMULATED_EXECUTORS=true: deals and commands without an executor queue get fake fills');
  const wiring = await wire(config, { host: '0.0.0.0', extras });
  try {
    await runWarden(wiring, config, { host: '0.0.0.0', logger });
  } finally {
    await wiring.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
