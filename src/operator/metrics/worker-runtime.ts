import type { TelemetryOptions } from '@temporalio/worker';

/**
 * Temporal Core's own Prometheus exporter (pollers, task slots, latencies,
 * sticky cache, requests to the frontend), served on a port of its own: Core
 * runs it, not prom-client, so it cannot share Warden's registry. It must be
 * part of `Runtime.install`, before the first NativeConnection; 0 turns it off.
 */
export function workerRuntimeTelemetry(port: number, host: string): TelemetryOptions | undefined {
  if (port === 0) return undefined;
  return { metrics: { prometheus: { bindAddress: `${host}:${port}` } } };
}

/** Every worker runtime series starts with Core's default prefix. */
export const WORKER_RUNTIME_METRIC_PREFIX = 'temporal_';

/**
 * The worker runtime series the dashboard charts (Core's names with its
 * defaults: no `_total` on counters, durations in milliseconds).
 */
export const WORKER_RUNTIME_METRICS = [
  'temporal_workflow_task_execution_latency',
  'temporal_workflow_task_schedule_to_start_latency',
  'temporal_activity_execution_latency',
  'temporal_local_activity_execution_latency',
  'temporal_activity_schedule_to_start_latency',
  'temporal_worker_task_slots_available',
  'temporal_num_pollers',
  'temporal_sticky_cache_size',
  'temporal_request',
  'temporal_request_failure',
  'temporal_workflow_completed',
  'temporal_workflow_failed',
  'temporal_workflow_task_execution_failed',
  'temporal_activity_execution_failed',
] as const;
