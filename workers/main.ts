// The production worker: connects to the configured Temporal and PostgreSQL.
import { Runtime } from '@temporalio/worker';
import { loadConfig } from '../src/config/index';
import { workerRuntimeTelemetry } from '../src/operator/metrics/worker-runtime';
import { runWarden, wire } from './wire';

async function main(): Promise<void> {
  const config = loadConfig();
  // Before any NativeConnection: the runtime's telemetry is fixed at install.
  const telemetryOptions = workerRuntimeTelemetry(config.workerMetricsPort, '0.0.0.0');
  if (telemetryOptions) Runtime.install({ telemetryOptions });
  const wiring = await wire(config, { host: '0.0.0.0' });
  try {
    await runWarden(wiring, config, { host: '0.0.0.0' });
  } finally {
    await wiring.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
