import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { WardenClient } from '../../src/client';
import { recordAuditEvent } from '../../src/db/audit.repository';
import { AuditKind } from '../../src/domain/audit/kinds';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { governanceCycle, type FridayPromotion } from '../../workflows/governance-cycle';
import { policyChangeWorkflowId } from '../../workflows/names';
import {
  TEST_SETTINGS,
  connectDevServer,
  createTestDatabase,
  type TestDatabase,
  uniqueName,
  workflowBundle,
} from '../helpers';

const DAY_MS = 86_400_000;
const day = (msAgo: number) => new Date(Date.now() - msAgo).toISOString().slice(0, 10);

describe('governanceCycle: seed 000 Friday promotion (dev server)', () => {
  let env: TestWorkflowEnvironment;
  let t: TestDatabase;
  let taskQueue: string;
  let warden: WardenClient;
  const opened: string[] = [];

  beforeAll(async () => {
    env = await connectDevServer();
  });
  afterAll(async () => {
    for (const id of opened)
      await env.client.workflow
        .getHandle(id)
        .terminate('test over')
        .catch(() => undefined);
    await env.teardown();
  });
  beforeEach(async () => {
    t = await createTestDatabase();
    taskQueue = uniqueName('governance-cycle');
    warden = new WardenClient(env.client, taskQueue);
  });
  afterEach(async () => {
    await t.drop();
  });

  const worker = () =>
    Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: createActivities({
        db: t.db,
        governor: DEFAULT_GOVERNOR_SETTINGS,
        controlPlane: warden,
        settings: TEST_SETTINGS,
      }),
    });
  /** A sandbox day as the trial recorder leaves it. */
  const scorecard = (domain: string, msAgo: number, trials: number, successes: number, avgConfidence: number) =>
    t.db
      .insertInto('heimdall_scorecard_day')
      .values({ domain, day: day(msAgo), trials, successes, confidence_sum: avgConfidence * trials })
      .execute();
  const policy = (domain: string) =>
    t.db
      .selectFrom('heimdall_policy')
      .select(['min_confidence_prod', 'prod_use_enabled'])
      .where('domain', '=', domain)
      .executeTakeFirstOrThrow();
  const runCycle = async () => {
    const workflowId = uniqueName('governance-cycle');
    const result = await env.client.workflow.execute(governanceCycle, { taskQueue, workflowId });
    const saved = await t.db
      .selectFrom('governance_report')
      .select('report')
      .where('id', '=', result.reportId)
      .executeTakeFirstOrThrow();
    return { result, workflowId, heimdall: (saved.report as { heimdall: FridayPromotion }).heimdall };
  };

  it('a good week opens one change request, and nothing changes until people approve it', async () => {
    // WHOLESALE_OFFER (92%, 75 trials, 82%, off): 100 trials at 90% and 0.95 over two days of the week.
    await scorecard('WHOLESALE_OFFER', 0, 50, 45, 0.95);
    await scorecard('WHOLESALE_OFFER', DAY_MS, 50, 45, 0.95);
    // BUYER_MATCH: enough trials, 66% success: nothing.
    await scorecard('BUYER_MATCH', 2 * DAY_MS, 60, 40, 0.97);

    const w = await worker();
    await w.runUntil(async () => {
      const { result, workflowId, heimdall } = await runCycle();
      const id = `friday-${day(0)}`;
      opened.push(policyChangeWorkflowId(id));
      expect(result).toMatchObject({ expand: false, changeRequestId: id });

      const handle = env.client.workflow.getHandle(policyChangeWorkflowId(id));
      await expect.poll(async () => (await warden.changeRequestStatus(id)).status, { timeout: 15_000 }).toBe('pending');
      const view = await warden.changeRequestStatus(id);
      expect(view.requestedBy).toEqual({ name: 'warden:governance-cycle', roles: [] });
      expect(view.changes).toEqual([
        expect.objectContaining({
          kind: 'heimdall_policy',
          target: 'WHOLESALE_OFFER',
          before: { minConfidenceProd: 0.92, minSandboxTrials: 75, minSandboxSuccessRate: 0.82, prodUseEnabled: false },
          after: { minConfidenceProd: 0.935, minSandboxTrials: 75, minSandboxSuccessRate: 0.82, prodUseEnabled: true },
          direction: 'loosen',
        }),
      ]);
      // Opened, not applied.
      expect(await policy('WHOLESALE_OFFER')).toEqual({ min_confidence_prod: 0.92, prod_use_enabled: false });
      expect(heimdall).toMatchObject({ changeRequestId: id, opened: true, held: null });
      expect(heimdall.domains.find((d) => d.domain === 'WHOLESALE_OFFER')).toMatchObject({
        proposed: ['minConfidenceProd', 'prodUseEnabled'],
        week: { trials: 100, successes: 90 },
      });
      expect(heimdall.domains.find((d) => d.domain === 'BUYER_MATCH')).toMatchObject({ proposed: [], after: null });
      if (process.env.WARDEN_RECORD_HISTORIES === '1')
        writeFileSync(
          path.join(__dirname, '..', 'histories', 'governance-cycle-friday-promotion.json'),
          historyToJSON(await env.client.workflow.getHandle(workflowId).fetchHistory()),
        );

      // A second run the same day finds today's request instead of opening a twin.
      const again = await runCycle();
      expect(again.result.changeRequestId).toBe(id);
      expect(again.heimdall).toMatchObject({ changeRequestId: id, opened: false });

      // One approval is not enough; both slots filled, it applies.
      await warden.approveChangeRequest(id, { actor: 'rita', role: 'risk_officer' });
      expect(await policy('WHOLESALE_OFFER')).toEqual({ min_confidence_prod: 0.92, prod_use_enabled: false });
      await warden.approveChangeRequest(id, { actor: 'mike', role: 'manager' });
      await expect.poll(async () => (await warden.changeRequestStatus(id)).status, { timeout: 15_000 }).toBe('applied');
      expect(await policy('WHOLESALE_OFFER')).toEqual({ min_confidence_prod: 0.935, prod_use_enabled: true });
      await handle.result();
    });
  });

  it('a poor week, or a week with a tripwire firing, opens none', async () => {
    // 70% success: neither the seed's >80% nor the policy's 82%.
    await scorecard('WHOLESALE_OFFER', 0, 100, 70, 0.95);
    const w = await worker();
    await w.runUntil(async () => {
      const poor = await runCycle();
      expect(poor.result.changeRequestId).toBeNull();
      expect(poor.heimdall).toMatchObject({ changeRequestId: null, opened: false, held: null });
      expect(poor.heimdall.domains.every((d) => d.after === null)).toBe(true);

      // The same trials at 90%, but a regression tripwire fired this week: held back.
      await t.db.updateTable('heimdall_scorecard_day').set({ successes: 90 }).execute();
      await recordAuditEvent(t.db, {
        actor: 'tripwire',
        kind: AuditKind.tripwire.triggered,
        subject: 'tripwire:WHOLESALE/contract_rate',
        details: { policy: 'WHOLESALE/contract_rate', action: 'THROTTLE' },
      });
      const held = await runCycle();
      expect(held.result.changeRequestId).toBeNull();
      expect(held.heimdall.held).toContain('1 regression tripwire firing(s)');
    });
    const requests = await t.db.selectFrom('change_request').select('id').execute();
    expect(requests).toEqual([]);
  });
});
