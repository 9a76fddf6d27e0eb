import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll } from 'vitest';
import { createActivities } from '../../activities';
import { createSimulatedCommandExecutor } from '../../activities/executors/simulated';
import { createApiServer, serveApi } from '../../src/operator/api/server';
import { DEFAULT_CAPITAL_BANDS } from '../../src/domain/capital/bands';
import { WardenClient } from '../../src/client';
import { loadConfig } from '../../src/config/index';
import { createApiKey } from '../../src/db/api-keys.repository';
import { listAuditEvents } from '../../src/db/audit.repository';
import { ROLES, type Role } from '../../src/domain/identity/roles';
import { createGovernanceMetrics } from '../../src/operator/metrics/governance-metrics';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { toolPaths } from '../../src/config/paths';
import { exec } from '../support/processes';
import {
  createTestDatabase,
  devServerAddress,
  type RunningWorker,
  TEST_SETTINGS,
  runDevServerWorker,
  type TestDatabase,
  uniqueName,
} from '../helpers';
import { testApprovalKeys } from '../support/approval-keys';

// Its own namespace: the control plane is a singleton per namespace. Only the
// file that runs a worker starts workflows in it.
const API_NAMESPACE = 'warden-api-e2e';
/** The deployment's approval key pair: the API signs with the private key, the worker holds the public keys only. */
export const APPROVAL_KEYS = testApprovalKeys();
export const RECEIVER_SECRET = 'am-secret-0123456789abcdef';

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Served {
  port: number;
  close(): Promise<void>;
}

/**
 * The operator API on a real server, for one test file: a fresh database, an
 * API key per role, the API (and one with a limit of 4 requests a minute),
 * and, with `worker`, a worker and the control plane, so writes act through
 * workflows. Registers its own beforeAll and afterAll.
 */
export function useApiServer(options: { label: string; worker: boolean; namespace?: string }) {
  // A second file that runs a worker (and so a control plane) takes a namespace of its own.
  const namespace = options.namespace ?? API_NAMESPACE;
  const env = {} as {
    t: TestDatabase;
    client: Client;
    warden: WardenClient;
    worker?: RunningWorker;
    api: Served;
    strict: Served;
  };
  const keys = {} as Record<Role, string>;
  const taskQueue = uniqueName(options.label);
  const address = devServerAddress();
  const temporal = (...args: string[]) =>
    exec(toolPaths.temporal, [...args, '--address', address, '--namespace', namespace]);
  const config = loadConfig({
    TEMPORAL_ADDRESS: address,
    TEMPORAL_NAMESPACE: namespace,
    WARDEN_TASK_QUEUE: taskQueue,
    // Production: signed approvals are on without being asked for.
    WARDEN_ENV: 'production',
    ...APPROVAL_KEYS.env,
    WARDEN_ALERTMANAGER_RECEIVERS: `ops=${RECEIVER_SECRET}`,
  });

  const call = async (
    port: number,
    method: string,
    path: string,
    options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: {
        ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined
        ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) }
        : {}),
    });
    const text = await response.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: response.status, body, headers: response.headers };
  };
  const as = (role: Role, method: string, path: string, body?: unknown) =>
    call(env.api.port, method, path, { key: keys[role], ...(body !== undefined ? { body } : {}) });
  const refusedChanges = async (reason: RegExp) =>
    (await listAuditEvents(env.t.db, { kind: 'control_plane.change_refused' })).filter((e) =>
      reason.test(String((e.details as { outcome?: { reason?: string } }).outcome?.reason)),
    );

  beforeAll(async () => {
    env.t = await createTestDatabase();
    env.client = new Client({ connection: await Connection.connect({ address }), namespace });
    env.warden = new WardenClient(env.client, taskQueue);
    if (options.worker) {
      env.worker = await runDevServerWorker({
        namespace,
        taskQueue,
        activities: createActivities({
          db: env.t.db,
          governor: DEFAULT_GOVERNOR_SETTINGS,
          controlPlane: env.warden,
          // No default executors any more: the commands approved here run on Warden's own queue.
          commandExecutor: createSimulatedCommandExecutor(),
          settings: {
            ...TEST_SETTINGS,
            environment: 'production',
            release: { cooldown: '2s', approvals: 1 },
            approvals: APPROVAL_KEYS.settings('production').approvals,
          },
        }),
      });
      await env.warden.ensureControlPlane();
      await env.warden.waitForControlPlane(0);
    }
    for (const role of ROLES)
      keys[role] = (await createApiKey(env.t.db, { identity: `${role}-user`, roles: [role], actor: 'test' })).key;
    const deps = {
      db: env.t.db,
      warden: env.warden,
      temporal: env.client,
      config,
      registry: createGovernanceMetrics(env.t.db, { capitalBands: DEFAULT_CAPITAL_BANDS }),
    };
    env.api = await serveApi(createApiServer(deps, { rateLimitPerMinute: 1000 }), 0, '127.0.0.1');
    env.strict = await serveApi(
      createApiServer(deps, { rateLimitPerMinute: 4, rateLimitScope: 'strict' }),
      0,
      '127.0.0.1',
    );
  });

  afterAll(async () => {
    await env.api?.close();
    await env.strict?.close();
    await env.worker?.stop();
    await env.client?.connection.close();
    await env.t?.drop();
  });

  return { env, keys, config, taskQueue, temporal, call, as, refusedChanges };
}
