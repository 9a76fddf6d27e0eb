import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { createApprovalActivities } from '../../activities/approvals';
import { createProposalActivities } from '../../activities/proposals';
import { recordProposal } from '../../src/db/proposal-records.repository';
import { addApprover } from '../../src/db/autonomy.repository';
import { DEFAULT_CAPITAL_BANDS } from '../../src/domain/capital/bands';
import { createControlPlaneActivities } from '../../activities/control-plane';
import { readHealth } from '../../src/db/health.repository';
import { recordKpiEvent } from '../../src/db/kpi.repository';
import { buildReview, type MondayReview } from '../../src/operator/review/monday-review';
import { reserveExposure } from '../../activities/gates/risk';
import { upsertRiskPolicy } from '../../src/db/risk.repository';
import { evaluateRegressionPolicies } from '../../activities/watchdogs';
import { setRegressionPolicy } from '../../src/db/watchdogs.repository';
import { listWaitingWorkflows } from '../../src/operator/review/waiting-workflows';
import { rejectPromotionSignal } from '../../workflows/messages';
import {
  createTestDatabase,
  devServerAddress,
  runDevServerWorker,
  TEST_SETTINGS,
  type TestDatabase,
  uniqueName,
} from '../helpers';
import { serveCliApi } from '../support/processes';

const bands = { capitalBands: DEFAULT_CAPITAL_BANDS };

describe('the Monday review on PostgreSQL', () => {
  let t: TestDatabase;
  let denialReason: string;
  const started = new Date(Date.now() - 60_000);

  beforeAll(async () => {
    t = await createTestDatabase();
    const policy = { maxDailyLoss: null, maxOpenRisk: null, maxActionsPerDay: null, enabled: true };
    await upsertRiskPolicy(t.db, { engine: 'GLOBAL', ...policy, maxDailyExposure: 1000 }, 'alice');
    await upsertRiskPolicy(t.db, { engine: 'WHOLESALE', ...policy, maxDailyExposure: null }, 'alice');
    expect(
      await reserveExposure(t.db, { key: 'deal-1', engine: 'WHOLESALE', amount: 600, actor: 'test' }),
    ).toMatchObject({ ok: true });
    // The injected denial: a second 600 would take GLOBAL past its 1000 cap.
    const denied = await reserveExposure(t.db, { key: 'deal-2', engine: 'WHOLESALE', amount: 600, actor: 'test' });
    if (denied.ok) throw new Error('expected the second reserve to be denied');
    denialReason = denied.reason;

    // The fired tripwire: 100% contract rate, then 60%.
    await setRegressionPolicy(
      t.db,
      {
        domain: 'WHOLESALE',
        metric: 'contract_rate',
        engine: 'WHOLESALE',
        windowEvents: 5,
        baselineEvents: 10,
        maxDropFraction: 0.2,
        action: 'THROTTLE',
        enabled: true,
      },
      'alice',
    );
    const outcomes = [...Array<boolean>(10).fill(true), true, false, true, false, true];
    for (const [i, success] of outcomes.entries()) {
      await recordKpiEvent(t.db, {
        domain: 'WHOLESALE',
        metric: 'contract_rate',
        success,
        at: new Date(started.getTime() + i * 1000),
        source: 'test',
      });
    }
    expect((await evaluateRegressionPolicies(t.db, new Date())).fired).toHaveLength(1);
  });
  afterAll(async () => {
    await t.drop();
  });

  it('lists the injected denial by reason, the fired tripwire, and the capital band', async () => {
    const review = await buildReview(t.db, { since: started, ...bands });
    expect(review.denied.risk).toEqual([{ engine: 'WHOLESALE', reason: denialReason, count: 1 }]);
    expect(review.broke.tripwireFirings).toMatchObject({
      count: 1,
      latest: [{ policy: 'WHOLESALE/contract_rate', action: 'THROTTLE', baseline: 1, current: 0.6, dropFraction: 0.4 }],
    });
    expect(review.drifted.tripwires).toMatchObject([{ policy: 'WHOLESALE/contract_rate', dropFraction: 0.4 }]);
    expect(review.capital).toMatchObject({ band: 'C', usage: 0.6, committed: 600, cap: 1000 });
    expect(review.health.status).toBe('YELLOW');
    expect(review.health.reasons.map((r) => r.code)).toEqual(['tripwire_triggered', 'capital_band_c']);
    expect(review.awaitingApproval).toEqual({ proposals: [], killSwitchRelease: null, workflows: null, playbooks: [] });
    // Plain JSON: what GET /review and --json send.
    expect(JSON.parse(JSON.stringify(review))).toEqual(review);
  });

  it('reads only the period asked for', async () => {
    const review = await buildReview(t.db, {
      since: new Date(Date.now() + 60_000),
      until: new Date(Date.now() + 120_000),
      ...bands,
    });
    expect(review.denied.risk).toEqual([]);
    expect(review.broke.tripwireFirings).toEqual({ count: 0, latest: [] });
    // Standing state still shows: the tripwire stays triggered until reset.
    expect(review.drifted.tripwires).toHaveLength(1);
  });

  it('turns RED with the kill switch engaged, and the review names the engagement', async () => {
    await createControlPlaneActivities({ db: t.db, settings: TEST_SETTINGS }).persistControlPlaneChange({
      changeId: randomUUID(),
      change: { kind: 'engageKillSwitch', source: 'operator', actor: 'olga', reason: 'Monday drill' },
    });
    const health = await readHealth(t.db, bands);
    expect(health.status).toBe('RED');
    expect(health.reasons[0]).toEqual({
      status: 'RED',
      code: 'kill_switch_engaged',
      detail: 'kill switch engaged by operator: Monday drill',
    });
    expect(health.band.band).toBe('C');
    const review = await buildReview(t.db, { since: started, ...bands });
    expect(review.health.status).toBe('RED');
    expect(review.controlPlane).toMatchObject({ killSwitchEngaged: true, killSwitchSource: 'operator' });
    expect(review.broke.killSwitchEngagements).toMatchObject({
      count: 1,
      latest: [{ actor: 'olga', source: 'operator', reason: 'Monday drill' }],
    });
  });

  it('warden review --json prints the same review, with Temporal asked for waiting workflows', async () => {
    // An analyst's key, through the API: which asks Temporal for the workflows waiting on a person.
    const client = new Client({ connection: await Connection.connect({ address: devServerAddress() }) });
    const api = await serveCliApi({ db: t.db, client, taskQueue: uniqueName('review') });
    onTestFinished(async () => {
      await api.close();
      await client.connection.close();
    });
    const warden = api.cli(await api.key('ana', ['analyst']), { DATABASE_URL: t.url });
    const ran = await warden(['review', '--since', '1d', '--json']);
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    const review = JSON.parse(ran.stdout) as MondayReview;
    expect(review.health.status).toBe('RED');
    expect(review.denied.risk).toEqual([{ engine: 'WHOLESALE', reason: denialReason, count: 1 }]);
    expect(review.broke.tripwireFirings.count).toBe(1);
    expect(review.awaitingApproval.workflows).toEqual([]);

    const text = await warden(['review']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('health:        RED');
    expect(text.stdout).toContain(`risk reservations: WHOLESALE/${denialReason} 1`);

    const bad = await warden(['review', '--since', 'last week']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since');
  });
});

describe('what waits for approval in running workflows', () => {
  it('lists a pending strategy promotion, and not once it is decided', async () => {
    const taskQueue = uniqueName('review-waiting');
    const t = await createTestDatabase();
    // The promotion checks its approver through an activity before a decision counts.
    const worker = await runDevServerWorker({
      taskQueue,
      // …and loads its terms from Warden's promotion record (warden-owned-proposals).
      activities: {
        ...createApprovalActivities({ db: t.db, settings: TEST_SETTINGS }),
        ...createProposalActivities({ db: t.db }),
      },
    });
    const connection = await Connection.connect({ address: devServerAddress() });
    const client = new Client({ connection });
    try {
      const workflowId = uniqueName('promotion');
      const terms = { strategyId: 'mean-revert', from: 'L2', to: 'L3', evidence: {}, expiresInDays: 7 } as const;
      await addApprover(t.db, 'tech_lead', 'alice', 'setup');
      await recordProposal(t.db, {
        id: workflowId,
        kind: 'promotion',
        subject: terms.strategyId,
        from: terms.from,
        to: terms.to,
        terms: { ...terms, requestedBy: 'strategy-gate' },
        requestedBy: 'strategy-gate',
      });
      const handle = await client.workflow.start('strategyPromotion', {
        taskQueue,
        workflowId,
        args: [{ strategyId: 'mean-revert', from: 'L2', to: 'L3', evidence: {}, approvers: { tech_lead: ['alice'] } }],
      });
      await vi.waitFor(
        async () => {
          expect(await listWaitingWorkflows(client, taskQueue)).toEqual([
            {
              kind: 'strategy_promotion',
              workflowId,
              startedAt: expect.any(String),
              // Warden's record names no allowlist: any approver role on the approver table may decide.
              roles: ['tech_lead', 'ops_lead', 'product_lead', 'exec_sponsor'],
              detail: 'mean-revert: pending, awaits tech_lead or ops_lead or product_lead or exec_sponsor',
            },
          ]);
        },
        { timeout: 20_000, interval: 250 },
      );
      // Narrowed to roles: one that may decide sees it, one that may not does not.
      expect(await listWaitingWorkflows(client, taskQueue, { roles: ['ops_lead'] })).toHaveLength(1);
      expect(await listWaitingWorkflows(client, taskQueue, { roles: ['risk_officer'] })).toEqual([]);
      await handle.signal(rejectPromotionSignal, { approver: 'alice', role: 'tech_lead' });
      expect(await handle.result()).toMatchObject({ status: 'rejected' });
      await vi.waitFor(async () => expect(await listWaitingWorkflows(client, taskQueue)).toEqual([]), {
        timeout: 20_000,
        interval: 250,
      });
    } finally {
      await connection.close();
      await worker.stop();
      await t.drop();
    }
  });
});
