import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActivities } from '../../activities';
import type { CommandExecutor } from '../../src/domain/autonomy/activities';
import type { CommandExecutionInput } from '../../src/domain/autonomy/commands';
import { WardenClient } from '../../src/client';
import type { GovernanceSettings } from '../../src/config/index';
import { listAuditEvents } from '../../src/db/audit.repository';
import { listNotifications } from '../../src/db/notifications.repository';
import { addApprover, readGovernanceState } from '../../src/db/autonomy.repository';
import { listBreakerEvents, resolveBreakerEvent, setBreakerRule } from '../../src/db/breakers.repository';
import { setCommandPolicy } from '../../src/db/command-policies.repository';
import type { ExecutionClass } from '../../src/domain/control-plane/types';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { commandExecution } from '../../workflows/command-execution';
import { approveCommandSignal, commandStatusQuery, rejectCommandSignal } from '../../workflows/messages';
import {
  createTestDatabase,
  createTimeSkippingEnv,
  patchCost,
  type TestDatabase,
  uniqueName,
  workflowBundle,
  TEST_SETTINGS,
} from '../helpers';
import { testApprovalKeys } from '../support/approval-keys';

describe('commandExecution workflow (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  let t: TestDatabase;
  let taskQueue: string;
  let executeCommand: ReturnType<typeof vi.fn<CommandExecutor['executeCommand']>>;

  beforeAll(async () => {
    env = await createTimeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });
  beforeEach(async () => {
    t = await createTestDatabase();
    taskQueue = uniqueName('commands');
    executeCommand = vi.fn(async () => ({}));
    await addApprover(t.db, 'tech_lead', 'alice', 'setup');
    await t.db.updateTable('governance_state').set({ current_phase: 'L3+' }).execute();
    // Commands are governed actions: they execute only with go-live on, outside dry_run.
    await controlPlane({ go_live_enabled: true, apply_mode: 'live' });
  });
  afterEach(async () => {
    await t.drop();
  });

  /** The persisted control-plane state the gates read (the control-plane workflow is not what these tests are about). */
  const controlPlane = (state: {
    go_live_enabled?: boolean;
    apply_mode?: 'dry_run' | 'testnet' | 'live';
    kill_switch_engaged?: boolean;
  }) => t.db.updateTable('control_plane_state').set(state).execute();
  const worker = (settings: GovernanceSettings = TEST_SETTINGS, served = true) =>
    Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: createActivities({
        db: t.db,
        governor: DEFAULT_GOVERNOR_SETTINGS,
        controlPlane: new WardenClient(env.client, taskQueue),
        ...(served ? { commandExecutor: { executeCommand } } : {}),
        settings,
      }),
    });
  const command = (commandType: string, overrides: Partial<CommandExecutionInput> = {}): CommandExecutionInput => ({
    commandId: uniqueName('cmd'),
    commandType,
    params: { value: 1 },
    requestedBy: 'roaster-agent',
    ...overrides,
  });
  const start = (input: CommandExecutionInput) =>
    env.client.workflow.start(commandExecution, { taskQueue, workflowId: `command-${input.commandId}`, args: [input] });
  const records = () =>
    t.db
      .selectFrom('command_record')
      .select(['command_type', 'status', 'autonomous', 'approval', 'approver'])
      .orderBy('id')
      .execute();

  it('runs a whitelisted command on its own, admitted in one local activity', async () => {
    const { result, activities, cost } = await (
      await worker()
    ).runUntil(async () => {
      const handle = await start(command('SET_FAN'));
      const done = await handle.result();
      const events = (await handle.fetchHistory()).events ?? [];
      const scheduled = events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
      const local = events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
      return { result: done, activities: { scheduled, local: local.length }, cost: patchCost({ events }) };
    });
    // One patch for the command's generation (its marker and the SDK's upsert); its stage, then its outcome.
    expect(cost).toEqual({ patches: ['command-generation-2026-12-rolls'], upserts: 3 });
    // The context and the first gate in one local activity: no activity task of their own on the queue.
    expect(activities).toEqual({ scheduled: ['checkCommandGate', 'executeCommand', 'recordCommandOutcome'], local: 1 });
    expect(result).toMatchObject({
      status: 'succeeded',
      autonomous: true,
      phase: 'L3+',
      executionClass: 'PROD_EXEC',
      applyMode: 'live',
    });
    // A command type without a policy is PROD_EXEC; the executor is told the class and the apply mode.
    expect(executeCommand).toHaveBeenCalledWith({
      commandId: expect.any(String),
      commandType: 'SET_FAN',
      params: { value: 1 },
      executionClass: 'PROD_EXEC',
      applyMode: 'live',
    });
    expect(await records()).toEqual([
      { command_type: 'SET_FAN', status: 'succeeded', autonomous: true, approval: null, approver: null },
    ]);
  });

  it('holds any other command for a human: approved runs, rejected does not', async () => {
    await (
      await worker()
    ).runUntil(async () => {
      const approved = await start(command('SET_DRUM'));
      await expect
        .poll(async () => (await approved.query(commandStatusQuery)).stage, { timeout: 10_000 })
        .toBe('awaiting_approval');
      // Operators are told: who may approve, and until when (one notification, however often the task replays).
      await expect
        .poll(async () => (await listNotifications(t.db, {})).map((n) => [n.kind, n.summary]), { timeout: 10_000 })
        .toEqual([
          [
            'approval_waiting',
            expect.stringMatching(
              /^Command cmd-[0-9a-f-]+ \(SET_DRUM\) waits for approval by tech_lead until \d{4}-\d\d-\d\dT/,
            ),
          ],
        ]);
      // The Web UI's current details say what it waits for, in words.
      const metadata = (await approved.query('__temporal_workflow_metadata')) as { currentDetails: string };
      expect(metadata.currentDetails).toMatch(
        /^Command cmd-[0-9a-f-]+ \(SET_DRUM\) waits for approveCommand or rejectCommand from tech_lead until /,
      );
      await approved.signal(approveCommandSignal, { approver: 'mallory', role: 'tech_lead' });
      await approved.signal(approveCommandSignal, { approver: 'alice', role: 'tech_lead', comment: 'drum check done' });
      expect(await approved.result()).toMatchObject({ status: 'succeeded', autonomous: false });
      expect((await approved.query(commandStatusQuery)).rejectedMessages).toBe(1);

      // Since command-generation: every patched path (the upserts, the waiting audit) on one marker.
      if (process.env.WARDEN_RECORD_HISTORIES === '1')
        writeFileSync(
          path.join(__dirname, '..', 'histories', 'command-execution-generation-approved.json'),
          historyToJSON(await approved.fetchHistory()),
        );
      const rejected = await start(command('PREHEAT'));
      await rejected.signal(rejectCommandSignal, {
        approver: 'alice',
        role: 'tech_lead',
        comment: 'not during cleaning',
      });
      expect(await rejected.result()).toMatchObject({ status: 'rejected', detail: 'not during cleaning' });
    });
    expect(executeCommand).toHaveBeenCalledTimes(1);
    expect(await records()).toEqual([
      { command_type: 'SET_DRUM', status: 'succeeded', autonomous: false, approval: 'approved', approver: 'alice' },
      { command_type: 'PREHEAT', status: 'rejected', autonomous: false, approval: 'rejected', approver: 'alice' },
    ]);
    expect((await listAuditEvents(t.db, { kind: 'autonomy.message_rejected' }))[0]!.details).toMatchObject({
      problem: 'approver: mallory is not on the allowlist for tech_lead',
    });
  });

  it('signed approvals: an unsigned approval is refused and audited, a signed one runs the command', async () => {
    const keys = testApprovalKeys();
    await (
      await worker({ ...TEST_SETTINGS, approvals: keys.settings('test').approvals })
    ).runUntil(async () => {
      const handle = await start(command('SET_DRUM'));
      await expect
        .poll(async () => (await handle.query(commandStatusQuery)).stage, { timeout: 10_000 })
        .toBe('awaiting_approval');
      await handle.signal(approveCommandSignal, { approver: 'alice', role: 'tech_lead' });
      await expect
        .poll(async () => (await handle.query(commandStatusQuery)).rejectedMessages, { timeout: 10_000 })
        .toBe(1);
      expect(executeCommand).not.toHaveBeenCalled();
      const audience = `${handle.workflowId}:approve`;
      const token = await keys.issue(t.db, { subject: 'alice', roles: ['engineer'], audience });
      await handle.signal(approveCommandSignal, { approver: 'alice', role: 'tech_lead', token });
      expect(await handle.result()).toMatchObject({ status: 'succeeded', autonomous: false });
      if (process.env.WARDEN_RECORD_HISTORIES === '1') {
        writeFileSync(
          path.join(__dirname, '..', 'histories', 'command-execution-generation-signed.json'),
          historyToJSON(await handle.fetchHistory()),
        );
      }
    });
    expect(await records()).toEqual([
      { command_type: 'SET_DRUM', status: 'succeeded', autonomous: false, approval: 'approved', approver: 'alice' },
    ]);
    const [refusal] = await listAuditEvents(t.db, { kind: 'autonomy.message_rejected' });
    expect(refusal!.details).toMatchObject({ problem: expect.stringMatching(/^token: signed approvals are on/) });
  });

  it('a waiting command hands over to a new run after its message budget: refusals and the decision carry on, announced once', async () => {
    await (
      await worker()
    ).runUntil(async () => {
      const handle = await start(command('SET_DRUM', { messagesPerRun: 10, approvalTimeoutSeconds: 3600 }));
      await expect
        .poll(async () => (await handle.query(commandStatusQuery)).stage, { timeout: 10_000 })
        .toBe('awaiting_approval');
      // Engaged while it waits: the run that takes over decides nothing again (a flood must not end the
      // command), and the pre-execute check is still what stops it.
      await controlPlane({ kill_switch_engaged: true });
      // A flood of refused decisions: one run used to keep them all, until the server's history limit ended it.
      for (let i = 0; i < 12; i += 1)
        await handle.signal(approveCommandSignal, { approver: `spam-${i}`, role: 'tech_lead' });
      await expect
        .poll(async () => (await handle.describe()).runId, { timeout: 10_000 })
        .not.toBe(handle.firstExecutionRunId);
      await expect
        .poll(async () => (await handle.query(commandStatusQuery)).rejectedMessages, { timeout: 10_000 })
        .toBe(12);
      const first = env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
      const [started] = (await first.fetchHistory()).events ?? [];
      expect((await first.describe()).status.name).toBe('CONTINUED_AS_NEW');
      expect(await handle.query(commandStatusQuery)).toMatchObject({ stage: 'awaiting_approval', autonomous: false });
      await controlPlane({ kill_switch_engaged: false });
      await handle.signal(approveCommandSignal, { approver: 'alice', role: 'tech_lead' });
      expect(await handle.result()).toMatchObject({ status: 'succeeded', autonomous: false });
      if (process.env.WARDEN_RECORD_HISTORIES === '1')
        for (const [name, h] of [
          ['rolled-over', await first.fetchHistory()],
          ['continued', await handle.fetchHistory()],
        ] as const)
          writeFileSync(path.join(__dirname, '..', 'histories', `command-execution-${name}.json`), historyToJSON(h));
      return started;
    });
    expect(executeCommand).toHaveBeenCalledTimes(1);
    expect(await records()).toMatchObject([{ status: 'succeeded', approval: 'approved', approver: 'alice' }]);
    expect(await listAuditEvents(t.db, { kind: 'autonomy.message_rejected' })).toHaveLength(12);
    expect(await listAuditEvents(t.db, { kind: 'approval.waiting' })).toHaveLength(1);
  });

  it("a continued command keeps the first run's deadline: rejected at it, not a full timeout later", async () => {
    const result = await (
      await worker()
    ).runUntil(async () => {
      const handle = await start(command('ABORT', { messagesPerRun: 10, approvalTimeoutSeconds: 4 * 3600 }));
      // Two hours into the wait: a new run that counted its own timeout would wait six in all.
      await env.sleep('2 hours');
      for (let i = 0; i < 10; i += 1)
        await handle.signal(approveCommandSignal, { approver: `spam-${i}`, role: 'tech_lead' });
      await expect
        .poll(async () => (await handle.describe()).runId, { timeout: 10_000 })
        .not.toBe(handle.firstExecutionRunId);
      const done = await handle.result();
      const { startTime } = await env.client.workflow
        .getHandle(handle.workflowId, handle.firstExecutionRunId)
        .describe();
      const { closeTime } = await handle.describe();
      return { done, waited: closeTime!.getTime() - startTime.getTime() };
    });
    expect(result.done).toMatchObject({ status: 'rejected', detail: 'approval_timeout' });
    expect(result.waited).toBeGreaterThanOrEqual(4 * 3600 * 1000);
    expect(result.waited).toBeLessThan(4.5 * 3600 * 1000);
  });

  it('a command waiting for approval times out and is rejected', async () => {
    const result = await (
      await worker()
    ).runUntil(async () => (await start(command('ABORT', { approvalTimeoutSeconds: 4 * 3600 }))).result());
    expect(result).toMatchObject({ status: 'rejected', detail: 'approval_timeout' });
    expect(executeCommand).not.toHaveBeenCalled();
    expect(await records()).toMatchObject([{ status: 'rejected', approval: 'timed_out' }]);
  });

  it('a failure trips High Error Rate: back to L3 at once', async () => {
    executeCommand.mockRejectedValue(new Error('fan controller unreachable'));
    await (
      await worker()
    ).runUntil(async () => {
      expect(await (await start(command('SET_FAN'))).result()).toMatchObject({ status: 'failed', autonomous: true });
    });
    expect(await readGovernanceState(t.db)).toMatchObject({ phase: 'L3' });
    expect(await listBreakerEvents(t.db)).toMatchObject([
      { rule: 'High Error Rate', action: 'revert_to_l3', observed: 1 },
    ]);
  });

  it('three failures of one type pause it; paused commands are refused until the event is resolved', async () => {
    // Only the per-type rule here: High Error Rate would revert to L3 at the first failure.
    await setBreakerRule(
      t.db,
      {
        name: 'High Error Rate',
        enabled: false,
        condition: 'errorRate > 0.05',
        window: '5m',
        action: 'revert_to_l3',
        alertSeverity: 'high',
      },
      'test',
    );
    executeCommand.mockRejectedValue(new Error('fan controller unreachable'));
    // A plain client keeps the server's clock locked: the three failures must fall in one 5-minute window.
    const locked = new Client({ connection: env.connection });
    const start = (input: CommandExecutionInput) =>
      locked.workflow.start(commandExecution, { taskQueue, workflowId: `command-${input.commandId}`, args: [input] });
    await (
      await worker()
    ).runUntil(async () => {
      for (let i = 0; i < 3; i++)
        expect(await (await start(command('SET_FAN'))).result()).toMatchObject({
          status: 'failed',
          detail: 'fan controller unreachable',
        });
      expect((await readGovernanceState(t.db)).pausedCommandTypes).toEqual(['SET_FAN']);
      expect(await (await start(command('SET_FAN'))).result()).toMatchObject({
        status: 'refused',
        reason: 'command_type_paused',
      });
      const [event] = await listBreakerEvents(t.db, { unresolvedOnly: true });
      expect(event).toMatchObject({ rule: 'Repeated Command Failures', commandType: 'SET_FAN', observed: 3 });
      expect(await readGovernanceState(t.db)).toMatchObject({ phase: 'L3+' });
      await resolveBreakerEvent(t.db, event!.id, 'ops', 'controller replaced');
      expect((await readGovernanceState(t.db)).pausedCommandTypes).toEqual([]);
      executeCommand.mockResolvedValue({});
      expect(await (await start(command('SET_FAN'))).result()).toMatchObject({ status: 'succeeded' });
    });
    expect(executeCommand).toHaveBeenCalledTimes(3 * 3 + 1);
  });

  it('refuses a bad input, naming the field', async () => {
    await (
      await worker()
    ).runUntil(async () => {
      const error = await (
        await start({ ...command('SET_FAN'), commandType: 'set fan' })
      )
        .result()
        .catch((e: unknown) => e);
      expect((error as { cause?: { message?: string } }).cause?.message).toBe(
        'invalid commandExecution input: commandType: expected a command type in capitals, e.g. SET_POWER',
      );
      // What only a continued run carries (a spent deadline, no refusals) is refused from a raw start.
      const carried = { ...command('SET_FAN'), carried: { deadline: 0, rejectedMessages: 0 } };
      const lied = await (await start(carried)).result().catch((e: unknown) => e);
      expect((lied as { cause?: { message?: string } }).cause?.message).toBe(
        'invalid commandExecution input: carried: unknown field',
      );
    });
    expect(executeCommand).not.toHaveBeenCalled();
  });
  // Issue 13, item 1: a command is a governed action. The gates read the persisted control-plane state.
  describe("governed by the control plane and its command type's policy", () => {
    const policy = (commandType: string, executionClass: ExecutionClass) =>
      setCommandPolicy(t.db, { commandType, executionClass, actor: 'risk-owner', reason: 'test' });
    const approveWhenWaiting = async (handle: Awaited<ReturnType<typeof start>>) => {
      await expect
        .poll(async () => (await handle.query(commandStatusQuery)).stage, { timeout: 10_000 })
        .toBe('awaiting_approval');
      await handle.signal(approveCommandSignal, { approver: 'alice', role: 'tech_lead' });
      return handle.result();
    };

    it('go-live off, kill switch engaged, or dry_run: neither a whitelisted nor an approved command reaches the executor', async () => {
      const results: unknown[] = [];
      await (
        await worker()
      ).runUntil(async () => {
        await controlPlane({ go_live_enabled: false });
        results.push(await (await start(command('SET_FAN'))).result());
        // Stopped at the start: nobody is asked to approve what could not run.
        results.push(await (await start(command('SET_DRUM'))).result());
        await controlPlane({ go_live_enabled: true, kill_switch_engaged: true });
        results.push(await (await start(command('SET_FAN'))).result());
        await controlPlane({ kill_switch_engaged: false, apply_mode: 'dry_run' });
        results.push(await (await start(command('SET_FAN'))).result());
        results.push(await approveWhenWaiting(await start(command('SET_DRUM'))));
      });
      expect(results).toMatchObject([
        { status: 'denied', gate: 'control_plane', reason: 'go_live_disabled', autonomous: true },
        { status: 'denied', gate: 'control_plane', reason: 'go_live_disabled', autonomous: false },
        { status: 'denied', gate: 'control_plane', reason: 'kill_switch_engaged', executionClass: 'PROD_EXEC' },
        { status: 'dry_run', applyMode: 'dry_run', detail: 'apply mode dry_run: not executed', autonomous: true },
        { status: 'dry_run', applyMode: 'dry_run', autonomous: false },
      ]);
      expect(executeCommand).not.toHaveBeenCalled();
      expect((await records()).map((r) => [r.status, r.approval])).toEqual([
        ['denied', null],
        ['denied', null],
        ['denied', null],
        ['dry_run', null],
        ['dry_run', 'approved'],
      ]);
      const [denied] = await listAuditEvents(t.db, { kind: 'command.denied', limit: 1 });
      expect(denied!.details).toMatchObject({ status: 'denied', executionClass: 'PROD_EXEC' });
      expect((denied!.details as { denial?: unknown }).denial).toMatchObject({ gate: 'control_plane' });
      expect(await listAuditEvents(t.db, { kind: 'command.dry_run' })).toHaveLength(2);
      // A denial is not a failure: High Error Rate (errorRate > 0.05) did not trip.
      expect(await listBreakerEvents(t.db)).toEqual([]);
      expect(await readGovernanceState(t.db)).toMatchObject({ phase: 'L3+' });
    });

    it('a kill switch engaged while the command waits for approval stops it at the pre-execute check', async () => {
      const result = await (
        await worker()
      ).runUntil(async () => {
        const handle = await start(command('SET_DRUM'));
        await expect
          .poll(async () => (await handle.query(commandStatusQuery)).stage, { timeout: 10_000 })
          .toBe('awaiting_approval');
        await controlPlane({ kill_switch_engaged: true });
        await handle.signal(approveCommandSignal, { approver: 'alice', role: 'tech_lead' });
        const result = await handle.result();
        if (process.env.WARDEN_RECORD_HISTORIES === '1') {
          writeFileSync(
            path.join(__dirname, '..', 'histories', 'command-execution-generation-killed.json'),
            historyToJSON(await handle.fetchHistory()),
          );
        }
        return result;
      });
      expect(result).toMatchObject({ status: 'denied', gate: 'control_plane', reason: 'kill_switch_engaged' });
      expect(executeCommand).not.toHaveBeenCalled();
      expect(await records()).toMatchObject([{ status: 'denied', approval: 'approved', approver: 'alice' }]);
    });

    it('OBSERVE_ONLY never calls the executor, even in live, and a producer cannot loosen it', async () => {
      await policy('SET_FAN', 'OBSERVE_ONLY');
      const result = await (
        await worker()
      ).runUntil(async () => (await start(command('SET_FAN', { executionClass: 'PROD_EXEC' }))).result());
      expect(result).toMatchObject({
        status: 'dry_run',
        executionClass: 'OBSERVE_ONLY',
        detail: 'OBSERVE_ONLY: observed, not executed',
      });
      expect(executeCommand).not.toHaveBeenCalled();
    });

    it('SANDBOX_EXEC never executes in live: the executor is told testnet, and it runs while the kill switch is engaged', async () => {
      await policy('SET_FAN', 'SANDBOX_EXEC');
      const results: unknown[] = [];
      await (
        await worker()
      ).runUntil(async () => {
        results.push(await (await start(command('SET_FAN'))).result());
        await controlPlane({ kill_switch_engaged: true });
        results.push(await (await start(command('SET_FAN', { executionClass: 'PROD_EXEC' }))).result());
        // A producer may ask for stricter: SET_POWER has no policy (PROD_EXEC), asked as SANDBOX_EXEC.
        results.push(await (await start(command('SET_POWER', { executionClass: 'SANDBOX_EXEC' }))).result());
        results.push(await (await start(command('SET_POWER'))).result());
      });
      expect(results).toMatchObject([
        { status: 'succeeded', executionClass: 'SANDBOX_EXEC', applyMode: 'testnet' },
        { status: 'succeeded', executionClass: 'SANDBOX_EXEC', applyMode: 'testnet' },
        { status: 'succeeded', executionClass: 'SANDBOX_EXEC', applyMode: 'testnet' },
        { status: 'denied', reason: 'kill_switch_engaged', executionClass: 'PROD_EXEC' },
      ]);
      expect(executeCommand.mock.calls.map(([c]) => [c.commandType, c.executionClass, c.applyMode])).toEqual([
        ['SET_FAN', 'SANDBOX_EXEC', 'testnet'],
        ['SET_FAN', 'SANDBOX_EXEC', 'testnet'],
        ['SET_POWER', 'SANDBOX_EXEC', 'testnet'],
      ]);
    });

    it("no executorTaskQueue and no executor on Warden's queue: denied no_executor (dry_run still ends as dry_run)", async () => {
      const results: unknown[] = [];
      await (
        await worker(TEST_SETTINGS, false)
      ).runUntil(async () => {
        results.push(await (await start(command('SET_FAN'))).result());
        await controlPlane({ apply_mode: 'dry_run' });
        results.push(await (await start(command('SET_FAN'))).result());
      });
      expect(results).toMatchObject([
        { status: 'denied', gate: 'executor', reason: 'no_executor' },
        { status: 'dry_run', applyMode: 'dry_run' },
      ]);
      expect(executeCommand).not.toHaveBeenCalled();
    });
  });
});
