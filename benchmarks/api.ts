// `npm run bench:api`: latency of the operator API against a dev server and
// real PostgreSQL — a read from the database, the Monday review, and a write
// that goes through the control plane's update and back. Figures only.
import { performance } from 'node:perf_hooks';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createApiServer, serveApi } from '../src/operator/api/server';
import { WardenClient } from '../src/client';
import { loadConfig } from '../src/config/index';
import { createApiKey } from '../src/db/api-keys.repository';
import { createGovernanceMetrics } from '../src/operator/metrics/governance-metrics';
import { DEFAULT_GOVERNOR_SETTINGS } from '../src/domain/permits/rules';
import { workflowsEntry } from '../src/config/paths';
import { createScratchDatabase, percentile, createWardenDevServer } from '../test/support/processes';
import { runBenchmark } from './run';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const database = await createScratchDatabase('warden_bench_api');
  const db = database.db;
  const env = await createWardenDevServer();
  const taskQueue = 'bench-api';
  const warden = new WardenClient(env.client, taskQueue);
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: workflowsEntry, logger: new DefaultLogger('WARN') }),
    activities: createActivities({ db, governor: DEFAULT_GOVERNOR_SETTINGS, controlPlane: warden }),
  });
  const config = loadConfig({
    TEMPORAL_ADDRESS: env.address,
    WARDEN_TASK_QUEUE: taskQueue,
    WARDEN_RATE_LIMIT_PER_MINUTE: '100000',
  });
  const { key } = await createApiKey(db, { identity: 'bench', roles: ['owner'], actor: 'bench' });
  const api = await serveApi(
    createApiServer(
      { db, warden, temporal: env.client, config, registry: createGovernanceMetrics(db) },
      { rateLimitPerMinute: config.rateLimitPerMinute },
    ),
    0,
    '127.0.0.1',
  );
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`http://127.0.0.1:${api.port}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    await response.arrayBuffer();
    if (response.status >= 400) throw new Error(`${method} ${path}: ${response.status}`);
  };
  const time = async (label: string, n: number, request: (i: number) => Promise<void>) => {
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      await request(i);
      samples.push(performance.now() - started);
    }
    console.log(
      `${label.padEnd(44)} n=${String(n).padStart(4)}  p50 ${percentile(samples, 50).toFixed(1).padStart(6)} ms  p99 ${percentile(samples, 99).toFixed(1).padStart(6)} ms`,
    );
  };

  await worker.runUntil(async () => {
    await warden.ensureControlPlane();
    await warden.waitForControlPlane(0);
    for (let i = 0; i < 20; i++) await call('GET', '/control-plane'); // warm-up
    await time('GET /control-plane (key, RBAC, database)', REQUESTS, () => call('GET', '/control-plane'));
    await time('GET /review (the Monday review)', Math.ceil(REQUESTS / 4), () => call('GET', '/review'));
    // A control-plane update, persisted: the kill switch (the apply mode towards live is a change request now).
    await time('POST /control-plane/kill-switch/engage (update)', REQUESTS, (i) =>
      call('POST', '/control-plane/kill-switch/engage', { reason: `bench ${i}` }),
    );
    await time('GET /openapi.json (no key)', REQUESTS, () => call('GET', '/openapi.json'));
  });
  await api.close();
  await env.teardown();
  await database.drop();
}

runBenchmark(main);
