import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { WardenClient } from '../../src/client';
import { addApprover } from '../../src/db/autonomy.repository';
import { listRiskPolicies, upsertRiskPolicy } from '../../src/db/risk.repository';
import type { ChangeRequestView } from '../../src/domain/change-requests/request';
import { recordExpansionProposal } from '../../src/db/expansion-proposals.repository';
import { type ProposalView, SPILLED_MESSAGE } from '../../src/domain/autonomy/proposals';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { SAFE_GOVERNANCE_SETTINGS } from '../../src/config/index';
import {
  approveChangeSignal,
  approveSignal,
  breakerTrippedSignal,
  changeRequestOpenedUpdate,
  changeRequestStatusQuery,
  controlPlaneStateQuery,
  proposalStatusQuery,
  restrictEngineSignal,
} from '../../workflows/messages';
import type { policyChange } from '../../workflows/policy-change';
import { CONTROL_PLANE_WORKFLOW_ID, policyChangeWorkflowId } from '../../workflows/names';
import { formatLongLived, runLongLived } from '../../reliability/long-lived';
import {
  createTestDatabase,
  devServerAddress,
  runDevServerWorker,
  type RunningWorker,
  type TestDatabase,
  uniqueName,
  workflowBundle,
} from '../helpers';

const namespace = 'warden-long-lived-e2e';

// Issue 15 item 6, small: the control plane through 300 signals and a proposal through 150, with the
// continue-as-new thresholds lowered through the workflows' optional inputs so several runs happen
// (each signal costs the workflow one or two activities in turn: the full sizes run on demand).
describe('long-lived workflows under a flood of signals', () => {
  let t: TestDatabase;
  let client: Client;
  let worker: RunningWorker;
  const taskQueue = uniqueName('long-lived');

  beforeAll(async () => {
    t = await createTestDatabase();
    client = new Client({ connection: await Connection.connect({ address: devServerAddress() }), namespace });
    worker = await runDevServerWorker({
      namespace,
      taskQueue,
      activities: createActivities({
        db: t.db,
        governor: DEFAULT_GOVERNOR_SETTINGS,
        // The safe defaults: a 15-minute cooldown, so no release attempt in the flood can release.
        settings: SAFE_GOVERNANCE_SETTINGS,
        controlPlane: new WardenClient(client, taskQueue),
        notifyProposal: (id, payload) => client.workflow.getHandle(id).signal(breakerTrippedSignal, payload),
      }),
    });
  });

  afterAll(async () => {
    await worker?.stop();
    await client?.connection.close();
    await t?.drop();
  });

  /** An L3 → L3+ proposal Warden recorded, its two approvers `<prefix>-alice` and `<prefix>-carol`, the phase at L3. */
  const recordProposal = async (proposalId: string, prefix: string) => {
    await addApprover(t.db, 'tech_lead', `${prefix}-alice`, 'test');
    await addApprover(t.db, 'ops_lead', `${prefix}-carol`, 'test');
    await recordExpansionProposal(t.db, {
      proposalId,
      fromPhase: 'L3',
      targetPhase: 'L3+',
      commands: ['SET_FAN'],
      validationDays: 7,
      achievements: [],
      risk: { level: 'low', mitigations: [] },
      requiredRoles: ['tech_lead', 'ops_lead'],
      expiresInDays: 14,
      requestedBy: `${prefix}-governance`,
    });
    await t.db.updateTable('governance_state').set({ current_phase: 'L3' }).execute();
  };

  it('keeps history bounded, state intact and every signal accounted for across continue-as-new', async () => {
    const figures = await runLongLived({
      client,
      taskQueue,
      db: t.db,
      controlPlaneSignals: 300,
      proposalSignals: 150,
      controlPlaneSignalsPerRun: 80,
      proposalMessagesPerRun: 40,
      // Bursts of 50, each judged before the next: every burst outgrows a run's budget.
      proposalBurst: 50,
      batch: 50,
      maxEventsPerRun: 2_500,
      proposalId: uniqueName('expansion-long-lived'),
    });
    console.log(formatLongLived(figures));
    expect(figures.controlPlane.stateChecks.failed).toEqual([]);
    expect(figures.proposal.stateChecks.failed).toEqual([]);
    expect(figures.controlPlane.continuedAsNew).toBeGreaterThanOrEqual(2);
    expect(figures.proposal.continuedAsNew).toBeGreaterThanOrEqual(2);
    expect(figures.controlPlane.dropped).toBe(0);
    expect(figures.proposal.dropped).toBe(0);
    expect(figures.ok).toBe(true);
  }, 120_000);

  it('a proposal continued as new replays, and its last approval is not starved by the spam before it', async () => {
    const proposalId = uniqueName('expansion-continued');
    await recordProposal(proposalId, 'cn');
    const handle = await client.workflow.start('expansionProposal', {
      taskQueue,
      workflowId: proposalId,
      args: [{ proposalId, messagesPerRun: 10 }],
    });
    await handle.signal(approveSignal, { role: 'tech_lead', approver: 'cn-alice' });
    const view = client.workflow.getHandle(proposalId);
    const status = async () =>
      (await view.query(proposalStatusQuery).catch(() => undefined)) as ProposalView | undefined;
    let lastRun = (await view.describe()).runId;
    // Three rounds of spam, each past the run's budget of 10 messages and judged before the next.
    for (let round = 1; round <= 3; round++) {
      for (let i = 0; i < 12; i++)
        await handle.signal(approveSignal, { role: 'ops_lead', approver: `cn-mallory-${i}` });
      await expect.poll(async () => (await status())?.rejectedMessages, { timeout: 20_000 }).toBe(12 * round);
      await expect.poll(async () => (await view.describe()).runId, { timeout: 20_000 }).not.toBe(lastRun);
      lastRun = (await view.describe()).runId;
    }
    await handle.signal(approveSignal, { role: 'ops_lead', approver: 'cn-carol' });
    // Validating is only ever shown by a run with budget left: the one that applied the phase, the last.
    await expect.poll(async () => (await status())?.status, { timeout: 20_000 }).toBe('validating');
    const final = (await view.query(proposalStatusQuery)) as ProposalView;
    expect(final.approvals.map((a) => a.approver)).toEqual(['cn-alice', 'cn-carol']);
    expect(final.rejectedMessages).toBe(36);
    // Every closed run replays with today's code; the first is kept as a fixture for later versions.
    const runs: string[] = [];
    let runId: string | undefined = (await view.describe()).runId;
    while (runId) {
      runs.push(runId);
      const history: temporal.api.history.v1.IHistory = await client.workflow
        .getHandle(proposalId, runId)
        .fetchHistory();
      runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
    }
    expect(runs.length).toBeGreaterThanOrEqual(4);
    for (const run of runs.slice(1)) {
      const history = await client.workflow.getHandle(proposalId, run).fetchHistory();
      await expect(
        Worker.runReplayHistory({ workflowBundle: workflowBundle() }, history, run),
      ).resolves.toBeUndefined();
    }
    if (process.env.WARDEN_RECORD_HISTORIES === '1') {
      const first = await client.workflow.getHandle(proposalId, runs.at(-1)).fetchHistory();
      writeFileSync(path.join(__dirname, '..', 'histories', 'expansion-proposal-continued.json'), historyToJSON(first));
    }
    await handle.terminate('test over');
  });

  it('a run past its budget hands over what it has not judged, and refuses past a full hand-over in one audited event', async () => {
    const proposalId = uniqueName('expansion-flooded');
    await recordProposal(proposalId, 'fl');
    // No worker yet on this queue: the whole flood waits in the server and reaches the first run at once,
    // a run past its budget of 10 from its first task on, so what it does with them is deterministic.
    const floodQueue = uniqueName('flooded');
    const handle = await client.workflow.start('expansionProposal', {
      taskQueue: floodQueue,
      workflowId: proposalId,
      args: [{ proposalId, messagesPerRun: 10 }],
    });
    await handle.signal(approveSignal, { role: 'tech_lead', approver: 'fl-alice' });
    // Each well formed (each needs its approver checked) and about 2,100 characters: 121 fit the hand-over.
    const flood = 140;
    const comment = 'x'.repeat(2000);
    for (let from = 0; from < flood; from += 35)
      await Promise.all(
        Array.from({ length: Math.min(35, flood - from) }, (_, k) =>
          handle.signal(approveSignal, { role: 'ops_lead', approver: `fl-mallory-${from + k}`, comment }),
        ),
      );
    const flooded = await runDevServerWorker({
      namespace,
      taskQueue: floodQueue,
      activities: createActivities({
        db: t.db,
        governor: DEFAULT_GOVERNOR_SETTINGS,
        settings: SAFE_GOVERNANCE_SETTINGS,
        controlPlane: new WardenClient(client, floodQueue),
      }),
    });
    try {
      const status = async () =>
        (await handle.query(proposalStatusQuery).catch(() => undefined)) as ProposalView | undefined;
      await expect.poll(async () => (await status())?.rejectedMessages, { timeout: 60_000 }).toBe(flood);
      await handle.signal(approveSignal, { role: 'ops_lead', approver: 'fl-carol' });
      await expect.poll(async () => (await status())?.status, { timeout: 20_000 }).toBe('validating');
      const final = (await handle.query(proposalStatusQuery)) as ProposalView;
      expect(final.approvals.map((a) => a.approver)).toEqual(['fl-alice', 'fl-carol']);

      const histories = await runsReplayed(proposalId);
      const first = histories.at(-1)!;
      // The first run judged nothing once past its budget: no approver was checked there, all was handed over.
      const scheduled = (history: temporal.api.history.v1.IHistory, type: string) =>
        (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === type)
          .length;
      expect(scheduled(first, 'checkApprover')).toBe(0);
      const start = histories.at(-2)!.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
      const input = JSON.parse(Buffer.from(start.data!).toString()) as {
        carried: { messages: unknown[]; spilled?: { count: number; kinds: Record<string, number> } };
      };
      expect(input.carried.messages.length + (input.carried.spilled?.count ?? 0)).toBe(flood + 1);
      expect(input.carried.spilled?.count).toBeGreaterThan(0);
      expect(JSON.stringify(input).length).toBeLessThan(300_000);
      // Every refusal reached the audit: one row each, and one for the whole spill.
      const rows = await t.db
        .selectFrom('audit_event')
        .select('details')
        .where('subject', '=', `proposal:${proposalId}`)
        .where('kind', '=', 'autonomy.message_rejected')
        .execute();
      const spills = rows.filter((r) => r.details.message === SPILLED_MESSAGE);
      expect(spills).toHaveLength(1);
      const spilled = (spills[0]!.details.payload as { count: number }).count;
      expect(spilled).toBe(input.carried.spilled!.count);
      expect(rows.length - 1 + spilled).toBe(flood);
      if (process.env.WARDEN_RECORD_HISTORIES === '1')
        writeFileSync(
          path.join(__dirname, '..', 'histories', 'expansion-proposal-handed-over.json'),
          historyToJSON(first),
        );
      await handle.terminate('test over');
    } finally {
      await flooded.stop();
    }
  });

  it('a raw start naming what a continued run carries is judged as a first run: no forged approval widens the phase', async () => {
    const proposalId = uniqueName('expansion-forged');
    await t.db.updateTable('governance_state').set({ current_phase: 'L3' }).execute();
    const terms = {
      proposalId,
      fromPhase: 'L3',
      targetPhase: 'L3+',
      commands: ['SET_FAN'],
      validationDays: 7,
      achievements: [],
      risk: { level: 'low', mitigations: [] },
      requiredRoles: ['tech_lead'],
      expiresInDays: 14,
    };
    const at = new Date().toISOString();
    const handle = await client.workflow.start('expansionProposal', {
      taskQueue,
      workflowId: proposalId,
      args: [
        {
          proposalId,
          carried: {
            terms,
            createdAt: at,
            since: { wardenOwned: false, verifiesApprovers: false },
            view: {
              proposalId,
              status: 'pending',
              fromPhase: 'L3',
              targetPhase: 'L3+',
              commands: ['SET_FAN'],
              validationDays: 7,
              requiredRoles: ['tech_lead'],
              approvals: [{ role: 'tech_lead', approver: 'mallory', comment: null, at }],
              missingRoles: [],
              rejection: null,
              rejectedMessages: 0,
              createdAt: at,
              expiresAt: at,
              validationEndsAt: null,
              revertedBy: null,
            },
          },
        },
      ],
    });
    // Warden never recorded this proposal: refused, and the phase stays where it was.
    expect(await handle.result()).toMatchObject({ status: 'refused', approvals: [] });
    const phase = await t.db.selectFrom('governance_state').select('current_phase').executeTakeFirstOrThrow();
    expect(phase.current_phase).toBe('L3');
  });

  /** Every run of a workflow, newest first; each closed one replays with today's code. */
  const runsReplayed = async (workflowId: string): Promise<temporal.api.history.v1.IHistory[]> => {
    const histories: temporal.api.history.v1.IHistory[] = [];
    let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
    while (runId) {
      const history: temporal.api.history.v1.IHistory = await client.workflow
        .getHandle(workflowId, runId)
        .fetchHistory();
      histories.push(history);
      runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
    }
    for (const [k, history] of histories.slice(1).entries())
      await expect(
        Worker.runReplayHistory({ workflowBundle: workflowBundle() }, history, `${workflowId}#${k}`),
      ).resolves.toBeUndefined();
    return histories;
  };

  it('a change request past its message budget continues as new and still takes its approvals', async () => {
    const RISK = {
      maxDailyLoss: 500,
      maxDailyExposure: 10_000,
      maxOpenRisk: 2_000,
      maxActionsPerDay: 50,
      enabled: true,
    };
    await upsertRiskPolicy(t.db, { engine: 'LLCR', ...RISK }, 'setup');
    const id = `cr-${uniqueName('ll').slice(-12)}`;
    const workflowId = policyChangeWorkflowId(id);
    const start = await client.workflow.start<typeof policyChange>('policyChange', {
      taskQueue,
      workflowId,
      args: [
        {
          id,
          requestedBy: { name: 'll-alice', roles: ['risk_officer'] },
          changes: [{ kind: 'risk_policy', target: 'LLCR', after: { ...RISK, maxDailyLoss: 900 } }],
          reason: 'long-lived',
          messagesPerRun: 20,
        },
      ],
    });
    expect((await start.executeUpdate(changeRequestOpenedUpdate)).status).toBe('pending');
    const handle = client.workflow.getHandle(workflowId);
    const status = async () =>
      (await handle.query(changeRequestStatusQuery).catch(() => undefined)) as ChangeRequestView | undefined;
    // Three rounds of junk, each past the run's budget of 20 (the old budget ignored everything past it).
    let lastRun = (await handle.describe()).runId;
    for (let round = 1; round <= 3; round++) {
      for (let i = 0; i < 25; i++)
        await handle.signal(approveChangeSignal, { actor: `ll-spam-${i}`, role: 'nobody' } as never);
      await expect.poll(async () => (await status())?.rejectedMessages, { timeout: 20_000 }).toBe(25 * round);
      await expect.poll(async () => (await handle.describe()).runId, { timeout: 20_000 }).not.toBe(lastRun);
      lastRun = (await handle.describe()).runId;
    }
    await handle.signal(approveChangeSignal, { actor: 'll-bob', role: 'risk_officer' });
    await handle.signal(approveChangeSignal, { actor: 'll-carol', role: 'manager' });
    await expect.poll(async () => (await status())?.status, { timeout: 20_000 }).toBe('applied');
    const final = (await status())!;
    expect(final.approvals.map((a) => a.actor)).toEqual(['ll-bob', 'll-carol']);
    expect(final.rejectedMessages).toBe(75);
    expect((await listRiskPolicies(t.db)).find((p) => p.engine === 'LLCR')?.maxDailyLoss).toBe(900);
    await handle.result();
    const histories = await runsReplayed(workflowId);
    expect(histories.length).toBeGreaterThanOrEqual(4);
    if (process.env.WARDEN_RECORD_HISTORIES === '1')
      writeFileSync(
        path.join(__dirname, '..', 'histories', 'policy-change-continued.json'),
        historyToJSON(histories.at(-1)!),
      );
  });

  it('a control plane due to continue as new hands its queued signals to the next run', async () => {
    // One control plane per namespace, one writer of the state: the flood's makes way for one that
    // continues as new every 5 signals.
    const workflowId = CONTROL_PLANE_WORKFLOW_ID;
    await client.workflow
      .getHandle(workflowId)
      .terminate('making way')
      .catch(() => undefined);
    const handle = await client.workflow.start('controlPlane', { taskQueue, workflowId, args: [{ signalsPerRun: 5 }] });
    await expect
      .poll(async () => (await handle.query(controlPlaneStateQuery).catch(() => undefined)) !== undefined)
      .toBe(true);
    const before = await t.db
      .selectFrom('audit_event')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('kind', '=', 'control_plane.engine_restricted')
      .executeTakeFirstOrThrow();
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        handle.signal(restrictEngineSignal, {
          engine: 'LLHO',
          restriction: 'pause',
          source: 'operator:ho',
          actor: 'ho',
          reason: `burst ${i}`,
        }),
      ),
    );
    const restricted = async () =>
      Number(
        (
          await t.db
            .selectFrom('audit_event')
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .where('kind', '=', 'control_plane.engine_restricted')
            .executeTakeFirstOrThrow()
        ).n,
      ) - Number(before.n);
    await expect.poll(restricted, { timeout: 30_000 }).toBe(40);
    const histories = await runsReplayed(workflowId);
    expect(histories.length).toBeGreaterThanOrEqual(3);
    const signalled = histories
      .flatMap((h) => h.events ?? [])
      .filter((e) => e.workflowExecutionSignaledEventAttributes != null);
    expect(signalled).toHaveLength(40);
    if (process.env.WARDEN_RECORD_HISTORIES === '1')
      writeFileSync(
        path.join(__dirname, '..', 'histories', 'control-plane-handed-over.json'),
        historyToJSON(histories.at(-1)!),
      );
    await handle.terminate('test over');
  });
});
