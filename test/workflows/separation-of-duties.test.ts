import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../activities';
import { WardenClient } from '../../src/client';
import { listAuditEvents } from '../../src/db/audit.repository';
import { addApprover, loadPhaseDefinitions } from '../../src/db/autonomy.repository';
import { recordExpansionProposal } from '../../src/db/expansion-proposals.repository';
import { upsertRiskPolicy } from '../../src/db/risk.repository';
import { recordPromotion } from '../../src/db/strategy.repository';
import type { CommandExecutor } from '../../src/domain/autonomy/activities';
import type { ExecuteDealInput, ExecuteDealResult } from '../../src/domain/deals/types';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { promotionProposalId } from '../../src/domain/strategy/messages';
import { commandExecution } from '../../workflows/command-execution';
import { expansionProposal } from '../../workflows/expansion-proposal';
import {
  approveCommandSignal,
  approveOrderSignal,
  approvePromotionSignal,
  approveSignal,
  commandStatusQuery,
  dealProgressQuery,
  proposalStatusQuery,
  promotionStatusQuery,
  rejectCommandSignal,
} from '../../workflows/messages';
import { CONTROL_PLANE_WORKFLOW_ID } from '../../workflows/names';
import { strategyPromotion } from '../../workflows/strategy-promotion';
import {
  createTestDatabase,
  createTimeSkippingEnv,
  TEST_SETTINGS,
  type TestDatabase,
  uniqueName,
  workflowBundle,
} from '../helpers';
import { seedStrategy } from '../support/strategies';

// Invariant 8: whoever asked for something never approves it, on every
// approval path. The requester is refused by the worker's approval check
// (recorded in history), audited, and someone else's approval still counts.
describe('separation of duties on every approval path (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  let t: TestDatabase;
  let taskQueue: string;
  let warden: WardenClient;
  const executeDeal = vi.fn<(input: ExecuteDealInput) => Promise<ExecuteDealResult>>(async () => ({
    realizedLoss: 0,
    pnl: 1,
  }));
  const executeCommand = vi.fn<CommandExecutor['executeCommand']>(async () => ({}));

  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });
  beforeEach(async (ctx) => {
    t = await createTestDatabase();
    taskQueue = uniqueName(ctx.task.name.slice(0, 30).replaceAll(' ', '-'));
    warden = new WardenClient(env.client, taskQueue);
    await t.db.updateTable('control_plane_state').set({ go_live_enabled: true, apply_mode: 'live' }).execute();
    for (const name of ['alice', 'ALICE', 'bob']) await addApprover(t.db, 'tech_lead', name, 'setup');
  });
  afterEach(async () => {
    await env.client.workflow
      .getHandle(CONTROL_PLANE_WORKFLOW_ID)
      .terminate('test over')
      .catch(() => undefined);
    await t.drop();
  });

  const worker = () =>
    Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: createActivities({
        db: t.db,
        governor: { ...DEFAULT_GOVERNOR_SETTINGS, maxPerHour: 1000, maxPer5Min: 1000 },
        controlPlane: warden,
        executor: { executeDeal },
        commandExecutor: { executeCommand },
        settings: TEST_SETTINGS,
      }),
    });
  const refusals = async () =>
    (await listAuditEvents(t.db, { kind: 'autonomy.message_rejected' }))
      .map((e) => String(e.details.problem))
      .reverse();
  const SELF =
    /^actor: alice (requested|submitted) this \w+; approval must come from someone else \(separation of duties\)$/i;

  it('a command: its submitter may not approve it (but may withdraw it); another approver may', async () => {
    await t.db.updateTable('governance_state').set({ current_phase: 'L3+' }).execute();
    await (
      await worker()
    ).runUntil(async () => {
      const start = (commandId: string) =>
        env.client.workflow.start(commandExecution, {
          taskQueue,
          workflowId: `command-${commandId}`,
          args: [{ commandId, commandType: 'SET_DRUM', params: {}, requestedBy: 'alice' }],
        });
      const approved = await start(uniqueName('cmd'));
      await expect
        .poll(async () => (await approved.query(commandStatusQuery)).stage, { timeout: 10_000 })
        .toBe('awaiting_approval');
      await approved.signal(approveCommandSignal, { approver: 'alice', role: 'tech_lead' });
      await expect.poll(async () => (await approved.query(commandStatusQuery)).rejectedMessages).toBe(1);
      expect((await approved.query(commandStatusQuery)).stage).toBe('awaiting_approval');
      await approved.signal(approveCommandSignal, { approver: 'bob', role: 'tech_lead' });
      expect(await approved.result()).toMatchObject({ status: 'succeeded', autonomous: false });
      const withdrawn = await start(uniqueName('cmd'));
      await withdrawn.signal(rejectCommandSignal, { approver: 'alice', role: 'tech_lead', comment: 'not now' });
      expect(await withdrawn.result()).toMatchObject({ status: 'rejected', detail: 'not now' });
    });
    expect(executeCommand).toHaveBeenCalledTimes(1);
    expect(await refusals()).toEqual([expect.stringMatching(SELF)]);
    expect(await t.db.selectFrom('command_record').select(['approval', 'approver']).orderBy('id').execute()).toEqual([
      { approval: 'approved', approver: 'bob' },
      { approval: 'rejected', approver: 'alice' },
    ]);
  });

  it('an order: whoever requested the deal may not approve it, in any spelling', async () => {
    for (const engine of ['GLOBAL', 'STRAT'])
      await upsertRiskPolicy(
        t.db,
        {
          engine,
          maxDailyLoss: null,
          maxDailyExposure: null,
          maxOpenRisk: null,
          maxActionsPerDay: null,
          enabled: true,
        },
        'setup',
      );
    await seedStrategy(t.db, {
      id: 'mr-1',
      enabled: true,
      level: 'L2',
      paused: false,
      pausedReason: null,
      capital: 100_000,
      tokenRequired: false,
      healthFloor: 0.25,
    });
    await (
      await worker()
    ).runUntil(async () => {
      const deal = await warden.startDeal({
        dealId: uniqueName('d'),
        engine: 'STRAT',
        symbol: 'S1',
        amount: 100,
        requestedBy: 'alice',
        strategyId: 'mr-1',
      });
      await expect
        .poll(async () => (await deal.query(dealProgressQuery)).stage, { timeout: 10_000 })
        .toBe('awaiting_order_approval');
      await deal.signal(approveOrderSignal, { approver: 'alice', role: 'tech_lead' });
      await deal.signal(approveOrderSignal, { approver: 'ALICE', role: 'tech_lead' });
      await expect.poll(refusals, { timeout: 10_000 }).toHaveLength(2);
      expect((await deal.query(dealProgressQuery)).stage).toBe('awaiting_order_approval');
      await deal.signal(approveOrderSignal, { approver: 'bob', role: 'tech_lead' });
      expect(await deal.result()).toMatchObject({ status: 'executed' });
    });
    expect(executeDeal).toHaveBeenCalledTimes(1);
    expect(await refusals()).toEqual([expect.stringMatching(SELF), expect.stringMatching(SELF)]);
  });

  it('a promotion and an expansion proposal: the requester under another spelling is refused too', async () => {
    await recordPromotion(t.db, {
      strategyId: 'mr-1',
      from: 'L2',
      to: 'L3',
      evidence: { trades: 50 },
      expiresInDays: 7,
      requestedBy: 'alice',
    });
    const def = (await loadPhaseDefinitions(t.db)).find((p) => p.phase === 'L3+')!;
    const proposalId = uniqueName('expansion');
    await recordExpansionProposal(t.db, {
      proposalId,
      fromPhase: 'L3',
      targetPhase: 'L3+',
      commands: def.addedCommands,
      validationDays: def.validationDays!,
      achievements: ['readiness 78/80'],
      risk: { level: 'medium', mitigations: ['breakers'] },
      requiredRoles: def.requiredRoles,
      expiresInDays: 14,
      requestedBy: 'alice',
    });
    await (
      await worker()
    ).runUntil(async () => {
      const promotion = await env.client.workflow.start(strategyPromotion, {
        taskQueue,
        workflowId: promotionProposalId('mr-1', 'L3'),
        args: [{ strategyId: 'mr-1', from: 'L2', to: 'L3', evidence: {}, approvers: {} }],
      });
      await promotion.signal(approvePromotionSignal, { approver: 'ALICE', role: 'tech_lead' });
      await expect
        .poll(async () => (await promotion.query(promotionStatusQuery)).refused, { timeout: 10_000 })
        .toEqual([expect.stringMatching(SELF)]);
      expect((await promotion.query(promotionStatusQuery)).status).toBe('pending');
      const proposal = await env.client.workflow.start(expansionProposal, {
        taskQueue,
        workflowId: proposalId,
        args: [{ proposalId }],
      });
      await proposal.signal(approveSignal, { role: 'tech_lead', approver: 'ALICE' });
      await expect
        .poll(async () => (await proposal.query(proposalStatusQuery)).rejectedMessages, { timeout: 10_000 })
        .toBe(1);
      expect((await proposal.query(proposalStatusQuery)).approvals).toEqual([]);
      await promotion.terminate('test over');
      await proposal.terminate('test over');
    });
    expect(await refusals()).toEqual([expect.stringMatching(SELF)]);
  });
});
