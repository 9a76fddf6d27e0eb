import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { promisify } from 'node:util';
import { Client, Connection, WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { READINESS_CHECKLIST } from '../../src/domain/autonomy/readiness-checklist';
import type { ProposalTerms } from '../../src/domain/autonomy/proposals';
import { WardenClient } from '../../src/client';
import { addApprover, listApprovers, readGovernanceState } from '../../src/db/autonomy.repository';
import { attest } from '../../src/db/governance-reports.repository';
import { recordExpansionProposal } from '../../src/db/expansion-proposals.repository';
import { createGovernanceMetrics } from '../../src/operator/metrics/governance-metrics';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { toolPaths } from '../../src/config/paths';
import {
  applyWatchdogSchedules,
  CANARY_SCHEDULE_ID,
  GOVERNANCE_CYCLE_SCHEDULE_ID,
  WEEKLY_GOVERNANCE_SCHEDULE_ID,
  TRIPWIRE_SCHEDULE_ID,
} from '../../src/temporal/schedules';
import type { GovernanceCycleResult } from '../../workflows/governance-cycle';
import { approveUpdate, breakerTrippedSignal, proposalStatusQuery } from '../../workflows/messages';
import { type CliApi, type Ran, serveCliApi } from '../support/processes';
import {
  createTestDatabase,
  devServerAddress,
  type TestDatabase,
  uniqueName,
  runDevServerWorker,
  type RunningWorker,
} from '../helpers';

const run = promisify(execFile);
const namespace = 'warden-autonomy-e2e';

describe('autonomy governance end to end', () => {
  let t: TestDatabase;
  let client: Client;
  let worker: RunningWorker;
  const taskQueue = uniqueName('autonomy');
  const address = devServerAddress();
  const temporal = (...args: string[]) =>
    run(toolPaths.temporal, [...args, '--address', address, '--namespace', namespace]);
  let api: CliApi;
  // `warden` as ops (an owner), and as alice (an engineer and operator: tech_lead or ops_lead), each with a key.
  let cli: (args: string[]) => Promise<Ran>;
  let alice: (args: string[]) => Promise<Ran>;

  beforeAll(async () => {
    t = await createTestDatabase();
    client = new Client({ connection: await Connection.connect({ address }), namespace });
    worker = await runDevServerWorker({
      namespace,
      taskQueue,
      activities: createActivities({
        db: t.db,
        governor: DEFAULT_GOVERNOR_SETTINGS,
        controlPlane: new WardenClient(client, taskQueue),
        notifyProposal: (id, payload) => client.workflow.getHandle(id).signal(breakerTrippedSignal, payload),
      }),
    });
    for (const [role, person] of [
      ['tech_lead', 'alice'],
      ['ops_lead', 'carol'],
      ['product_lead', 'pat'],
      ['exec_sponsor', 'erin'],
    ] as const)
      await addApprover(t.db, role, person, 'setup');
    api = await serveCliApi({ db: t.db, client, taskQueue });
    cli = api.cli(await api.key('ops', ['owner']), { DATABASE_URL: t.url });
    alice = api.cli(await api.key('alice', ['engineer', 'operator']), { DATABASE_URL: t.url });
  });

  afterAll(async () => {
    await api?.close();
    for (const id of [
      TRIPWIRE_SCHEDULE_ID,
      CANARY_SCHEDULE_ID,
      GOVERNANCE_CYCLE_SCHEDULE_ID,
      WEEKLY_GOVERNANCE_SCHEDULE_ID,
    ])
      await client.schedule
        .getHandle(id)
        .delete()
        .catch(() => undefined);
    await worker.stop();
    await client.connection.close();
    await t.drop();
  });

  it('the weekly cycle, run from its Schedule, expands when the evidence is there', async () => {
    // 200 days at L3, a week of clean approved commands, every attestation in: 78/80 (kill switch never drilled).
    await t.db
      .updateTable('governance_state')
      .set({ phase_since: new Date(Date.now() - 200 * 86_400_000) })
      .execute();
    for (let i = 0; i < 10; i++) {
      await t.db
        .insertInto('command_record')
        .values({
          command_id: `hist-${i}`,
          command_type: 'SET_FAN',
          phase: 'L3',
          autonomous: false,
          status: 'succeeded',
          approval: 'approved',
          approver: 'alice',
          role: 'tech_lead',
          detail: null,
          at: new Date(Date.now() - i * 3_600_000),
        })
        .execute();
    }
    for (const item of READINESS_CHECKLIST.filter((i) => i.source === 'attestation'))
      await attest(t.db, { item: item.key, passed: true, actor: 'ops' });

    await applyWatchdogSchedules(client, {
      taskQueue,
      tripwireEvery: '1h',
      canaryEvery: '1h',
      canary: {},
      governanceCycleCron: '0 23 * * 5',
    });
    const schedule = client.schedule.getHandle(GOVERNANCE_CYCLE_SCHEDULE_ID);
    expect((await schedule.describe()).spec).toMatchObject({
      calendars: [expect.objectContaining({ dayOfWeek: [expect.objectContaining({ start: 'FRIDAY' })] })],
    });
    await temporal('schedule', 'trigger', '--schedule-id', GOVERNANCE_CYCLE_SCHEDULE_ID);
    await expect.poll(async () => (await schedule.describe()).info.recentActions.length, { timeout: 15_000 }).toBe(1);
    const action = (await schedule.describe()).info.recentActions[0]!.action;
    const cycle = client.workflow.getHandle(action.workflow.workflowId, action.workflow.firstExecutionRunId);
    const result = (await cycle.result()) as GovernanceCycleResult;
    if (process.env.WARDEN_RECORD_HISTORIES === '1') {
      writeFileSync(
        path.join(__dirname, '..', 'histories', 'governance-cycle-expand.json'),
        historyToJSON(await cycle.fetchHistory()),
      );
    }
    expect(result).toMatchObject({
      expand: true,
      proposalId: expect.stringMatching(/^expansion-L3\+-\d{4}-\d{2}-\d{2}$/),
    });

    const proposal = client.workflow.getHandle(result.proposalId!);
    expect(await proposal.query(proposalStatusQuery)).toMatchObject({
      status: 'pending',
      targetPhase: 'L3+',
      commands: ['SET_POWER', 'SET_FAN'],
      requiredRoles: ['tech_lead'],
    });
    expect(await readGovernanceState(t.db)).toMatchObject({ phase: 'L3', lastReportId: result.reportId });
    const report = await t.db
      .selectFrom('governance_report')
      .select(['report', 'proposal_id'])
      .executeTakeFirstOrThrow();
    expect(report).toMatchObject({
      proposal_id: result.proposalId,
      report: { readiness: { score: 78, status: 'Ready' }, decision: { expand: true } },
    });

    // An approval sent with the raw `temporal` binary moves it forward: the phase widens.
    await temporal(
      'workflow',
      'signal',
      '--workflow-id',
      result.proposalId!,
      '--name',
      'approve',
      '--input',
      JSON.stringify({ role: 'tech_lead', approver: 'alice', comment: 'numbers reviewed' }),
    );
    await expect
      .poll(async () => (await proposal.query(proposalStatusQuery)).status, { timeout: 15_000 })
      .toBe('validating');
    expect(await readGovernanceState(t.db)).toMatchObject({ phase: 'L3+', activeProposalId: result.proposalId });

    const metrics = await createGovernanceMetrics(t.db).metrics();
    expect(metrics).toContain('simcorp_governance_current_phase_info{phase="L3+"} 1');
    expect(metrics).toContain('simcorp_governance_readiness_score 0.975');
    expect(metrics).toContain('simcorp_governance_commands_total{status="succeeded"} 10');
    expect(metrics).toContain('simcorp_governance_circuit_breaker_events_unresolved 0');
    await proposal.terminate('test over');
  });

  it('approvals by update hand the reason for a refusal back; the CLI uses them', async () => {
    const terms: ProposalTerms = {
      proposalId: uniqueName('expansion-L4'),
      fromPhase: 'L3+',
      targetPhase: 'L4',
      commands: ['SET_DRUM', 'SET_AIRFLOW'],
      validationDays: 21,
      achievements: [],
      risk: { level: 'medium', mitigations: [] },
      requiredRoles: ['tech_lead', 'ops_lead'],
      approvers: await listApprovers(t.db),
    };
    // Warden's own record first (the workflow loads its terms from it, by id); the phase it starts from.
    const { approvers: _shown, ...recorded } = terms;
    await recordExpansionProposal(t.db, { ...recorded, expiresInDays: 14, requestedBy: 'governance-cycle' });
    await t.db.updateTable('governance_state').set({ current_phase: 'L3+' }).execute();
    const handle = await client.workflow.start('expansionProposal', {
      taskQueue,
      workflowId: terms.proposalId,
      args: [terms],
    });
    const refused = await handle
      .executeUpdate(approveUpdate, { args: [{ role: 'ops_lead', approver: 'mallory' }] })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause?.message).toBe(
      'approver: mallory is not on the allowlist for ops_lead',
    );

    const viaCli = await alice(['proposal', 'approve', terms.proposalId, '--role', 'tech_lead', '--json']);
    expect(viaCli.code).toBe(0);
    expect(JSON.parse(viaCli.stdout)).toMatchObject({
      status: 'pending',
      approvals: [{ role: 'tech_lead', approver: 'alice' }],
      missingRoles: ['ops_lead'],
    });
    const twice = await alice(['proposal', 'approve', terms.proposalId, '--role', 'ops_lead']);
    expect(twice).toMatchObject({
      code: 3,
      // The workflow's own rules run first; Warden's allowlist (the approver table) is read when a decision is judged.
      stderr:
        'warden: approve refused: approver: alice already approved as tech_lead; one person cannot fill two roles\n',
    });
    const pending = JSON.parse((await cli(['proposals', '--pending', '--json'])).stdout);
    expect(pending.map((p: { proposalId: string }) => p.proposalId)).toContain(terms.proposalId);
    await handle.terminate('test over');
  });

  it('operators read and edit governance from the CLI, with bad input refused by field', async () => {
    const readiness = JSON.parse((await cli(['readiness', '--json'])).stdout);
    expect(readiness).toMatchObject({
      max: 80,
      categories: { technical: { max: 35 }, process: { max: 25 }, organizational: { max: 20 } },
    });
    const status = JSON.parse((await cli(['autonomy', 'status', '--json'])).stdout);
    expect(status).toMatchObject({ state: { phase: expect.any(String) }, approvers: { tech_lead: ['alice'] } });
    expect(await cli(['attest', 'warp_drive'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('item: expected one of eval_coverage'),
    });
    expect(await cli(['breakers', 'set-rule', 'High Error Rate', '--condition', 'errorRate >> 0.1'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('condition: condition \'errorRate >> 0.1\' is not "<metric> <op> <number>"'),
    });
    // A rule that trips sooner applies at once; one that trips later is a change request for others.
    expect(await cli(['breakers', 'set-rule', 'High Error Rate', '--condition', 'errorRate > 0.02'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^applied at once \(it only tightens\)/),
    });
    expect(await cli(['breakers', 'set-rule', 'High Error Rate', '--condition', 'errorRate > 0.1'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^pending approval: change request cr-/),
    });
    const rules = JSON.parse((await cli(['breakers', 'rules', '--json'])).stdout);
    expect(rules.find((r: { name: string }) => r.name === 'High Error Rate')).toMatchObject({
      condition: 'errorRate > 0.02',
      action: 'revert_to_l3',
    });
  });
});
