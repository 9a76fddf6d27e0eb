import { Client, Connection } from '@temporalio/client';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureChromium } from '../../scripts/debian-tools.mjs';
import { createApiServer, serveApi } from '../../src/operator/api/server';
import { WardenClient } from '../../src/client';
import { loadConfig } from '../../src/config/index';
import { createApiKey } from '../../src/db/api-keys.repository';
import { createControlPlaneActivities } from '../../activities/control-plane';
import { createGovernanceMetrics } from '../../src/operator/metrics/governance-metrics';
import {
  createTestDatabase,
  devServerAddress,
  markGoLivePlaybookCompleted,
  TEST_SETTINGS,
  type TestDatabase,
  uniqueName,
} from '../helpers';
import { listRiskPolicies, upsertRiskPolicy } from '../../src/db/risk.repository';
import { useApiServer } from './api-server';
import { addApprover } from '../../src/db/autonomy.repository';
import { armControlPlane } from '../support/change-requests';
import { readControlPlaneState } from '../../src/db/control-plane.repository';
import { commandExecution } from '../../workflows/command-execution';

// The read-only operator page in a real headless Chromium, over the real API
// and database. No worker: the page only reads.
describe('operator page', () => {
  let t: TestDatabase;
  let client: Client;
  let api: { port: number; close(): Promise<void> };
  let browser: Browser;
  let analystKey: string;
  let viewerKey: string;

  beforeAll(async () => {
    t = await createTestDatabase();
    client = new Client({ connection: await Connection.connect({ address: devServerAddress() }) });
    const taskQueue = uniqueName('operator-page');
    const config = loadConfig({ TEMPORAL_ADDRESS: devServerAddress(), WARDEN_TASK_QUEUE: taskQueue });
    api = await serveApi(
      createApiServer(
        {
          db: t.db,
          warden: new WardenClient(client, taskQueue),
          temporal: client,
          config,
          registry: createGovernanceMetrics(t.db),
        },
        { rateLimitPerMinute: 1000 },
      ),
      0,
      '127.0.0.1',
    );
    analystKey = (await createApiKey(t.db, { identity: 'ana', roles: ['analyst'], actor: 'test' })).key;
    viewerKey = (await createApiKey(t.db, { identity: 'oz', roles: ['operator'], actor: 'test' })).key;
    browser = await chromium.launch({
      executablePath: ensureChromium(),
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await client?.connection.close();
    await t?.drop();
  });

  it('asks for a key, then shows health, the control plane, the review and the audit tail; a refused read is said, not hidden', async () => {
    await createControlPlaneActivities({ db: t.db, settings: TEST_SETTINGS }).persistControlPlaneChange({
      changeId: 'page-1',
      change: { kind: 'engageKillSwitch', source: 'operator', actor: 'olga', reason: 'page drill' },
    });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${api.port}/`);
    await expect.poll(() => page.textContent('#problem')).toContain('Enter an API key');

    await page.fill('#key', analystKey);
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('#health .badge'), { timeout: 10_000 }).toBe('RED');
    expect(await page.textContent('#health')).toContain(
      'kill_switch_engaged: kill switch engaged by operator: page drill',
    );
    expect(await page.textContent('#control-plane')).toContain('ENGAGED (halt) by olga (operator)');
    expect(await page.textContent('#control-plane')).toContain('tradinghalted');
    expect(await page.textContent('#broke')).toContain('killSwitchEngagements: 1');
    expect(await page.textContent('#audit')).toContain('control_plane.kill_switch_engaged by olga');

    // An operator may read the state but not the audit log: the page says so.
    await page.fill('#key', viewerKey);
    await page.click('button[type=submit]');
    await expect
      .poll(() => page.textContent('#audit'), { timeout: 10_000 })
      .toContain('this key may not read the audit log');

    // A revoked or wrong key shows the API's own answer.
    await page.fill('#key', 'wk_000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('#problem'), { timeout: 10_000 }).toBe('unknown API key');
    await page.close();
  });
});

// The approvals queue, end to end: a worker runs the change request's workflow, the API signs each
// decision (production mode), and two people approve from the page in Chromium.
describe('approvals on the operator page', () => {
  const { env, keys, as, taskQueue } = useApiServer({
    label: 'approvals-page',
    worker: true,
    namespace: 'warden-approvals-page-e2e',
  });
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: ensureChromium(),
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('each approver sees the request in their queue and approves it from the page; the requester does not; it applies', async () => {
    const RISK = {
      maxDailyLoss: 500,
      maxDailyExposure: 10_000,
      maxOpenRisk: 2_000,
      maxActionsPerDay: 50,
      enabled: true,
    };
    await upsertRiskPolicy(env.t.db, { engine: 'RETAIL', ...RISK }, 'setup');
    const opened = await as('owner', 'POST', '/change-requests', {
      changes: [{ kind: 'risk_policy', target: 'RETAIL', after: { ...RISK, maxDailyLoss: 900 } }],
      reason: 'new season',
    });
    expect(opened).toMatchObject({ status: 201, body: { status: 'pending' } });
    const { id } = opened.body as { id: string };

    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${env.api.port}/`);
    /** The queue as `key` sees it, asked again until `expected` holds (visibility trails a moment). */
    const queueOf = async (key: string, expected: (queue: string) => boolean) => {
      await page.fill('#key', key);
      let queue = '';
      await expect
        .poll(
          async () => {
            await page.click('#key-form button');
            await page.waitForTimeout(300);
            queue = (await page.textContent('#approvals')) ?? '';
            return expected(queue);
          },
          { timeout: 15_000, interval: 200 },
        )
        .toBe(true);
      return queue;
    };
    const item = `#approvals li:has-text("Change request ${id}")`;

    // The requester may not approve their own request: it is not in their queue.
    expect(await queueOf(keys.owner, (q) => q.includes('nothing awaits your roles'))).not.toContain(id);

    for (const role of ['risk_officer', 'manager'] as const) {
      const queue = await queueOf(keys[role], (q) => q.includes(id));
      expect(queue).toContain(`Change request ${id} by owner-user: new season (risk_policy RETAIL)`);
      expect(queue).toContain(`as ${role}`);
      await page.fill(`${item} input`, `checked by ${role}`);
      await page.click(`${item} button:text("Approve")`);
      await expect
        .poll(() => page.textContent('#decided'), { timeout: 10_000 })
        .toContain(`approved: Change request ${id}`);
    }
    await expect
      .poll(async () => (await as('analyst', 'GET', `/change-requests/${id}`)).body.status, { timeout: 15_000 })
      .toBe('applied');
    expect((await listRiskPolicies(env.t.db)).find((p) => p.engine === 'RETAIL')?.maxDailyLoss).toBe(900);
    const { body } = await as('analyst', 'GET', `/change-requests/${id}`);
    expect(body.approvals).toEqual([
      expect.objectContaining({ actor: 'risk_officer-user', role: 'risk_officer', comment: 'checked by risk_officer' }),
      expect.objectContaining({ actor: 'manager-user', role: 'manager', comment: 'checked by manager' }),
    ]);
    // Decided, it leaves every queue.
    await queueOf(keys.manager, (q) => !q.includes(id));
    await page.close();
  });

  it('a command waiting for its approver is declined from the page with a reason, and ends rejected with it', async () => {
    await markGoLivePlaybookCompleted(env.t.db);
    await armControlPlane(env.t.db, env.warden, { goLive: true, applyMode: 'live', reason: 'page test' });
    // Applied before the command's first gate reads it (under a full run's load the signals trail).
    await expect
      .poll(async () => {
        const state = await readControlPlaneState(env.t.db);
        return state.goLiveEnabled && state.applyMode === 'live';
      })
      .toBe(true);
    await addApprover(env.t.db, 'tech_lead', 'engineer-user', 'setup');
    const commandId = uniqueName('cmd');
    const handle = await env.client.workflow.start(commandExecution, {
      taskQueue,
      workflowId: `command-${commandId}`,
      args: [
        { commandId, commandType: 'SET_DRUM', params: {}, requestedBy: 'roaster-agent', approvalTimeoutSeconds: 600 },
      ],
    });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${env.api.port}/`);
    await page.fill('#key', keys.engineer);
    const item = `#approvals li:has-text("Command ${commandId}")`;
    await expect
      .poll(
        async () => {
          await page.click('#key-form button');
          await page.waitForTimeout(300);
          return page.locator(item).count();
        },
        { timeout: 15_000, interval: 200 },
      )
      .toBe(1);
    expect(await page.textContent(item)).toContain('as tech_lead');
    await page.fill(`${item} input`, 'drum not cleaned');
    await page.click(`${item} button:text("Decline")`);
    await expect
      .poll(() => page.textContent('#decided'), { timeout: 10_000 })
      .toContain(`declined: Command ${commandId}`);
    expect(await handle.result()).toMatchObject({ status: 'rejected', detail: 'drum not cleaned' });
    await page.close();
  });
});
