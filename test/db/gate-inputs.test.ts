import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admitDeal } from '../../activities/gates/admission';
import { claimDeal } from '../../activities/gates/claims';
import { releaseReservation, reserveExposure, settleResult } from '../../activities/gates/risk';
import { recordCommandOutcome } from '../../src/db/command-records.repository';
import { recordClaimOutcome } from '../../src/db/deal-claims.repository';
import { readGateRecords } from '../../src/db/gate-inputs.repository';
import { createRecommendation, recordSandboxTrial } from '../../src/db/heimdall.repository';
import { applyPolicyChanges, readPolicyDocument } from '../../src/db/policy-state.repository';
import { diffPolicyDocuments, type PolicyDocument } from '../../src/domain/change-requests/changes';
import { assembleGateInputs, replayWindow } from '../../src/domain/change-requests/replay-inputs';
import { replayPolicies } from '../../src/domain/change-requests/replay';
import type { DealResult } from '../../src/domain/deals/types';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { createTestDatabase, type TestDatabase } from '../helpers';

// What Warden records on the way (a claim, admission, the risk guard's events, a recommendation and its
// domain's trials, a command's record) is enough to replay the week: the fixture of
// test/unit/change-requests/replay-fixture.ts, made by the real gates instead of written by hand.
describe('the recorded gate inputs, read back for the replay', () => {
  let t: TestDatabase;
  let current: PolicyDocument;
  let recommendationId: string;
  const caps = { maxDailyLoss: null, maxOpenRisk: null, maxActionsPerDay: null, enabled: true };

  beforeAll(async () => {
    t = await createTestDatabase();
    const empty = await readPolicyDocument(t.db);
    const wanted: PolicyDocument = {
      ...empty,
      risk: {
        GLOBAL: { ...caps, maxDailyExposure: 1000 },
        WHOLESALE: { ...caps, maxDailyLoss: 50, maxDailyExposure: 300, maxActionsPerDay: 3 },
      },
      heimdall: {
        OFFERS: { minConfidenceProd: 0.7, minSandboxTrials: 2, minSandboxSuccessRate: 0.5, prodUseEnabled: false },
      },
      commandTypes: { DEPLOY: { executionClass: 'OBSERVE_ONLY' } },
    };
    await t.db
      .transaction()
      .execute((trx) =>
        applyPolicyChanges(trx, diffPolicyDocuments(empty, wanted), { actor: 'alice', changeRequestId: 'cr-seed' }),
      );
    // The control plane is its own writer; its row is set here as the fixture's state.
    await t.db.updateTable('control_plane_state').set({ go_live_enabled: true, apply_mode: 'testnet' }).execute();
    current = await readPolicyDocument(t.db);
    for (let i = 0; i < 3; i += 1) await recordSandboxTrial(t.db, { domain: 'OFFERS', success: true, confidence: 0.9 });
    recommendationId = (await createRecommendation(t.db, { domain: 'OFFERS', confidence: 0.9, actor: 'bot' })).id;

    const admit = (input: Parameters<typeof admitDeal>[1]) =>
      admitDeal({ db: t.db, governor: DEFAULT_GOVERNOR_SETTINGS, executorServed: true }, input);
    const deal = async (dealId: string, amount: number, loss: number | null, rec?: string) => {
      const run = { workflowId: `deal-${dealId}`, runId: 'run-1' };
      const terms = {
        engine: 'WHOLESALE',
        symbol: 'BTCUSDT',
        amount,
        executionClass: 'PROD_EXEC',
        strategyId: null,
        side: 'buy' as const,
      };
      await claimDeal(t.db, { dealId, terms, ...run, actor: 'bot' });
      await admit({
        dealId,
        engine: 'WHOLESALE',
        requestedClass: 'PROD_EXEC',
        recommendationId: rec,
        ownTaskQueue: 'warden',
      });
      const key = `deal:${dealId}`;
      const reserved = await reserveExposure(t.db, { key, engine: 'WHOLESALE', amount, actor: 'bot' });
      let result: DealResult;
      if (!reserved.ok)
        result = { status: 'denied', dealId, gate: 'risk', reason: reserved.reason, detail: reserved.detail };
      else if (loss === null) {
        await releaseReservation(t.db, { key, actor: 'bot', reason: 'dry_run' });
        result = { status: 'dry_run', dealId, applyMode: 'dry_run', permitId: 'p' };
      } else {
        await settleResult(t.db, { key, realizedLoss: loss, actor: 'bot' });
        result = {
          status: 'executed',
          dealId,
          applyMode: 'testnet',
          permitId: 'p',
          realizedLoss: loss,
          externalId: null,
        };
      }
      await recordClaimOutcome(t.db, { dealId, ...run, result });
    };
    await deal('d1', 200, 10);
    await deal('d2', 150, null, recommendationId);
    await deal('d3', 100, 0);
    await deal('d4', 40, null);
    await recordCommandOutcome(t.db, {
      commandId: 'c1',
      commandType: 'DEPLOY',
      phase: 'L3',
      autonomous: true,
      status: 'dry_run',
      approval: null,
      approver: null,
      role: null,
      detail: null,
      incident: null,
      at: new Date().toISOString(),
      executionClass: 'OBSERVE_ONLY',
      applyMode: 'dry_run',
    });
  });
  afterAll(async () => t?.drop());

  it('gives each deal what it asked, its reserve, its recommendation with the scorecard then, and its end', async () => {
    const inputs = assembleGateInputs(await readGateRecords(t.db, replayWindow(new Date())));
    expect(inputs.deals.map((d) => [d.dealId, d.amount])).toEqual([
      ['d1', 200],
      ['d2', 150],
      ['d3', 100],
      ['d4', 40],
    ]);
    const [d1, d2] = inputs.deals;
    expect(d1!.executor).toEqual({ settled: { at: expect.any(String), realizedLoss: 10 } });
    expect(d2!.admission).toMatchObject({ requestedClass: 'PROD_EXEC', recommendationId, executorServed: true });
    expect(d2!.recommendation).toEqual({ domain: 'OFFERS', confidence: 0.9 });
    expect(d2!.scorecard).toMatchObject({ trials: 3, successes: 3 });
    expect(inputs.commands).toEqual([
      expect.objectContaining({ commandId: 'c1', commandType: 'DEPLOY', autonomous: true, killSwitchEngaged: false }),
    ]);
  });

  it('replays them: the raised cap lets d2 and d4 past exposure, d4 then meets the action limit', async () => {
    const inputs = assembleGateInputs(await readGateRecords(t.db, replayWindow(new Date())));
    const proposed: PolicyDocument = {
      ...current,
      risk: { ...current.risk, WHOLESALE: { ...current.risk.WHOLESALE!, maxDailyExposure: 500 } },
      heimdall: { OFFERS: { ...current.heimdall.OFFERS!, prodUseEnabled: true } },
      commandTypes: { DEPLOY: { executionClass: 'SANDBOX_EXEC' } },
    };
    const report = replayPolicies(inputs, current, proposed);
    expect(report.replayed).toEqual({ deals: 4, commands: 1 });
    expect(report.counts).toEqual([
      { subject: 'deal', gate: 'risk', reason: 'daily_action_limit_reached', wouldNowDeny: 1, wouldNowAllow: 0 },
      { subject: 'deal', gate: 'risk', reason: 'daily_exposure_exceeded', wouldNowDeny: 0, wouldNowAllow: 2 },
    ]);
    expect(report.shifts).toEqual([{ subject: 'command', from: 'dry_run', to: 'testnet', count: 1 }]);
  });
});
