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
import { issueApprovalToken } from '../../src/security/approval-tokens';
import { listAuditEvents } from '../../src/db/audit.repository';
import {
  addApprover,
  listBreakerEvents,
  readGovernanceState,
  resolveBreakerEvent,
  setBreakerRule,
} from '../../src/db/autonomy.repository';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { commandExecution } from '../../workflows/command-execution';
import { approveCommandSignal, commandStatusQuery, rejectCommandSignal } from '../../workflows/messages';
import {
  createTestDatabase,
  createTimeSkippingEnv,
  type TestDatabase,
  uniqueName,
  workflowBundle,
  TEST_SETTINGS,
} from '../helpers';

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
  });
  afterEach(async () => {
    await t.drop();
  });

  const worker = (settings: GovernanceSettings = TEST_SETTINGS) =>
    Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: createActivities({
        db: t.db,
        governor: DEFAULT_GOVERNOR_SETTINGS,
        controlPlane: new WardenClient(env.client, taskQueue),
        commandExecutor: { executeCommand },
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

  it('runs a whitelisted command on its own', async () => {
    const result = await (await worker()).runUntil(async () => (await start(command('SET_FAN'))).result());
    expect(result).toMatchObject({ status: 'succeeded', autonomous: true, phase: 'L3+' });
    expect(executeCommand).toHaveBeenCalledWith(
      expect.objectContaining({ commandType: 'SET_FAN', params: { value: 1 } }),
    );
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
      await approved.signal(approveCommandSignal, { approver: 'mallory', role: 'tech_lead' });
      await approved.signal(approveCommandSignal, { approver: 'alice', role: 'tech_lead', comment: 'drum check done' });
      expect(await approved.result()).toMatchObject({ status: 'succeeded', autonomous: false });
      expect((await approved.query(commandStatusQuery)).rejectedMessages).toBe(1);

      if (process.env.WARDEN_RECORD_HISTORIES === '1') {
        writeFileSync(
          path.join(__dirname, '..', 'histories', 'command-execution-approved.json'),
          historyToJSON(await approved.fetchHistory()),
        );
      }
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
      problem: 'mallory is not on the allowlist for tech_lead',
    });
  });

  it('signed approvals: an unsigned approval is refused and audited, a signed one runs the command', async () => {
    const key = 'command-signing-key-0123456789abcdef';
    await (
      await worker({ ...TEST_SETTINGS, approvals: { signed: true, signingKey: key } })
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
      const { token } = issueApprovalToken({
        subject: 'alice',
        roles: ['engineer'],
        environment: 'test',
        ttlMs: 600_000,
        key,
      });
      await handle.signal(approveCommandSignal, { approver: 'alice', role: 'tech_lead', token });
      expect(await handle.result()).toMatchObject({ status: 'succeeded', autonomous: false });
      if (process.env.WARDEN_RECORD_HISTORIES === '1') {
        writeFileSync(
          path.join(__dirname, '..', 'histories', 'command-execution-signed.json'),
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
    });
  });
});
