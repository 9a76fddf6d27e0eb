import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { createAutonomyActivities } from '../../activities/autonomy';
import { WardenClient } from '../../src/client';
import { toolPaths } from '../../src/config/paths';
import { listAuditEvents } from '../../src/db/audit.repository';
import { addApprover, readGovernanceState } from '../../src/db/autonomy.repository';
import { findProposalRecord } from '../../src/db/proposal-records.repository';
import {
  demoteStrategy,
  getStrategy,
  StrategyLevelChangeError,
  type Strategy,
  upsertStrategy,
} from '../../src/db/strategy.repository';
import type { ProposalView } from '../../src/domain/autonomy/proposals';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import type { PromotionView } from '../../src/domain/strategy/messages';
import { breakerTrippedSignal, promotionStatusQuery } from '../../workflows/messages';
import { promotionWorkflowId } from '../../workflows/names';
import { type CliApi, serveCliApi } from '../support/processes';
import { seedStrategy } from '../support/strategies';
import {
  createTestDatabase,
  devServerAddress,
  runDevServerWorker,
  type RunningWorker,
  type TestDatabase,
  uniqueName,
} from '../helpers';

const run = promisify(execFile);

// Issue 13, item 7 and the strategy half of item 10: a proposal's terms and approvers are Warden's own,
// it applies only from the phase or level it started from, and a strategy's level moves only through
// promotion (approved) or demotion. Driven the way an outsider would: the raw `temporal` CLI.
describe("proposals are Warden's, not the caller's (dev server, raw temporal CLI)", () => {
  let t: TestDatabase;
  let client: Client;
  let worker: RunningWorker;
  const taskQueue = uniqueName('proposals');
  const address = devServerAddress();
  const temporal = (...args: string[]) => run(toolPaths.temporal, [...args, '--address', address]);
  let api: CliApi;
  // `warden` as each person, with a key of their own: alice and bob are engineers (tech_lead), ops an owner.
  const keys = new Map<string, Promise<string>>();
  const cli = async (args: string[], actor = 'ops') => {
    if (!keys.has(actor)) keys.set(actor, api.key(actor, actor === 'ops' ? ['owner'] : ['engineer']));
    return api.cli(await keys.get(actor)!, { DATABASE_URL: t.url })(args);
  };
  /** Waits (bounded) for the run to close; an open run after the bound fails the test. */
  const closed = async <T>(workflowId: string): Promise<T> => {
    const handle = client.workflow.getHandle(workflowId);
    await expect.poll(async () => (await handle.describe()).status.name, { timeout: 10_000 }).toBe('COMPLETED');
    return (await handle.result()) as T;
  };
  const record = async (workflowId: string, file: string) => {
    if (process.env.WARDEN_RECORD_HISTORIES !== '1') return;
    writeFileSync(
      path.join(__dirname, '..', 'histories', file),
      historyToJSON(await client.workflow.getHandle(workflowId).fetchHistory()),
    );
  };
  const seedStrategyAt = (id: string, level: Strategy['level']) =>
    seedStrategy(
      t.db,
      {
        id,
        enabled: true,
        level,
        paused: false,
        pausedReason: null,
        capital: 100_000,
        tokenRequired: false,
        healthFloor: 0.25,
      },
      'setup',
      'test',
    );

  beforeAll(async () => {
    t = await createTestDatabase();
    client = new Client({ connection: await Connection.connect({ address }) });
    worker = await runDevServerWorker({
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
      ['tech_lead', 'bob'],
      ['ops_lead', 'carol'],
      ['product_lead', 'pat'],
      ['exec_sponsor', 'erin'],
    ] as const)
      await addApprover(t.db, role, person, 'setup');
    api = await serveCliApi({ db: t.db, client, taskQueue });
  });
  afterAll(async () => {
    await api?.close();
    await worker?.stop();
    await client?.connection.close();
    await t?.drop();
  });

  it("an outsider's expansionProposal to L5 with his own allowlist is refused at once, audited; the phase stays", async () => {
    const id = uniqueName('expansion-L5');
    const mine = { tech_lead: 'm1', ops_lead: 'm2', product_lead: 'm3', exec_sponsor: 'm4' } as const;
    const terms = {
      proposalId: id,
      fromPhase: 'L4+',
      targetPhase: 'L5',
      commands: ['*all commands*'],
      validationDays: 1,
      achievements: ['trust me'],
      risk: { level: 'low', mitigations: [] },
      requiredRoles: Object.keys(mine),
      approvers: Object.fromEntries(Object.entries(mine).map(([role, who]) => [role, [who]])),
      expiresInDays: 1,
    };
    await temporal(
      'workflow',
      'start',
      '--type',
      'expansionProposal',
      '--task-queue',
      taskQueue,
      '--workflow-id',
      id,
      '--input',
      JSON.stringify(terms),
    );
    // He approves as each of his own people; against a closed run the signals simply fail.
    for (const [role, approver] of Object.entries(mine))
      await temporal(
        'workflow',
        'signal',
        '--workflow-id',
        id,
        '--name',
        'approve',
        '--input',
        JSON.stringify({ role, approver }),
      ).catch(() => undefined);
    const view = await closed<ProposalView>(id);
    expect(view).toMatchObject({
      status: 'refused',
      approvals: [],
      endReason: `Warden holds no proposal record for ${id}`,
    });
    expect(await readGovernanceState(t.db)).toMatchObject({ phase: 'L3', activeProposalId: null });
    const [refusal] = await listAuditEvents(t.db, { kind: 'proposal.refused' });
    expect(refusal).toMatchObject({
      subject: `proposal:${id}`,
      details: expect.objectContaining({
        reason: expect.stringContaining('no proposal record'),
        claimed: expect.objectContaining({ targetPhase: 'L5' }),
      }),
    });
    expect(await t.db.selectFrom('expansion_proposal').select('id').where('id', '=', id).execute()).toEqual([]);
    await record(id, 'expansion-proposal-refused.json');
  });

  it("an outsider's strategyPromotion with his own approvers is refused at once, audited; the level stays", async () => {
    await seedStrategyAt('mr-out', 'L2');
    const id = promotionWorkflowId('mr-out', 'L3');
    const input = { strategyId: 'mr-out', from: 'L2', to: 'L3', evidence: {}, approvers: { tech_lead: ['mallory'] } };
    await temporal(
      'workflow',
      'start',
      '--type',
      'strategyPromotion',
      '--task-queue',
      taskQueue,
      '--workflow-id',
      id,
      '--input',
      JSON.stringify(input),
    );
    await temporal(
      'workflow',
      'signal',
      '--workflow-id',
      id,
      '--name',
      'approvePromotion',
      '--input',
      JSON.stringify({ approver: 'mallory', role: 'tech_lead' }),
    ).catch(() => undefined);
    expect(await closed<PromotionView>(id)).toMatchObject({ status: 'refused', decidedBy: null, strategyId: 'mr-out' });
    expect(await getStrategy(t.db, 'mr-out')).toMatchObject({ level: 'L2' });
    expect(await listAuditEvents(t.db, { kind: 'strategy.promotion_refused' })).toEqual([
      expect.objectContaining({ subject: `proposal:${id}` }),
    ]);
    await record(id, 'strategy-promotion-refused.json');
  });

  it('a Warden-made expansion approved after a breaker revert ends stale: the phase stays, nothing is skipped', async () => {
    await t.db.updateTable('governance_state').set({ current_phase: 'L3+', phase_since: new Date() }).execute();
    // alice proposes (she may not approve it herself); Warden writes the terms: L3+ → L4, tech_lead and ops_lead.
    const created = await cli(
      ['proposal', 'create', '--role', 'tech_lead', '--reason', 'ready for L4', '--json'],
      'alice',
    );
    expect(created).toMatchObject({ code: 0 });
    const terms = JSON.parse(created.stdout) as {
      proposalId: string;
      fromPhase: string;
      targetPhase: string;
      requiredRoles: string[];
    };
    expect(terms).toMatchObject({ fromPhase: 'L3+', targetPhase: 'L4', requiredRoles: ['tech_lead', 'ops_lead'] });
    const id = terms.proposalId;
    expect(await cli(['proposal', 'approve', id, '--role', 'tech_lead'], 'alice')).toMatchObject({
      code: 3,
      stderr: expect.stringContaining('alice requested this proposal'),
    });
    // A critical autonomous incident trips "Critical Incident": the phase reverts to L3 at once.
    await t.db
      .insertInto('incident')
      .values({
        command_id: null,
        severity: 'critical',
        autonomous: true,
        description: 'drum overheated',
        at: new Date(),
      })
      .execute();
    await createAutonomyActivities({ db: t.db }).checkBreakers({ at: new Date().toISOString() });
    expect(await readGovernanceState(t.db)).toMatchObject({ phase: 'L3' });
    // The approvals still come in (CLI and raw temporal CLI); applying them would skip L3+.
    expect(await cli(['proposal', 'approve', id, '--role', 'tech_lead'], 'bob')).toMatchObject({
      code: 0,
    });
    await temporal(
      'workflow',
      'signal',
      '--workflow-id',
      id,
      '--name',
      'approve',
      '--input',
      JSON.stringify({ role: 'ops_lead', approver: 'carol' }),
    );
    const view = await closed<ProposalView>(id);
    expect(view).toMatchObject({
      status: 'stale',
      approvals: [expect.objectContaining({ approver: 'bob' }), expect.objectContaining({ approver: 'carol' })],
      endReason: expect.stringContaining('no longer L3+'),
    });
    expect(await readGovernanceState(t.db)).toMatchObject({ phase: 'L3', activeProposalId: null });
    expect((await listAuditEvents(t.db, { kind: 'proposal.stale' })).map((e) => e.subject)).toEqual([`proposal:${id}`]);
    expect(await listAuditEvents(t.db, { kind: 'autonomy.phase_applied' })).toEqual([]);
    expect(await findProposalRecord(t.db, id)).toMatchObject({ closedStatus: 'stale' });
    await record(id, 'expansion-proposal-stale.json');
  });

  it('a Warden-made promotion approved after the level moved ends stale; the requester cannot approve it', async () => {
    await seedStrategyAt('mr-st', 'L2');
    const proposed = await cli(
      ['strategy', 'promote', 'mr-st', '--role', 'tech_lead', '--reason', 'evidence', '--json'],
      'alice',
    );
    expect(proposed).toMatchObject({ code: 0 });
    const { proposalId } = JSON.parse(proposed.stdout) as { proposalId: string };
    expect(proposalId).toBe(promotionWorkflowId('mr-st', 'L3'));
    expect(await getStrategy(t.db, 'mr-st')).toMatchObject({ level: 'L2' });
    const handle = client.workflow.getHandle(proposalId);
    const signal = (approver: string) =>
      temporal(
        'workflow',
        'signal',
        '--workflow-id',
        proposalId,
        '--name',
        'approvePromotion',
        '--input',
        JSON.stringify({ approver, role: 'tech_lead' }),
      );
    await signal('alice');
    await expect
      .poll(async () => (await handle.query(promotionStatusQuery)).refused, { timeout: 10_000 })
      .toEqual([expect.stringContaining('alice requested this promotion')]);
    // Demotion is immediate and audited; the pending promotion is now stale.
    expect(await cli(['strategy', 'demote', 'mr-st', '--reason', 'loss review'])).toMatchObject({ code: 0 });
    expect(await getStrategy(t.db, 'mr-st')).toMatchObject({ level: 'L1' });
    await signal('bob');
    expect(await closed<PromotionView>(proposalId)).toMatchObject({
      status: 'stale',
      decidedBy: 'bob',
      from: 'L2',
      to: 'L3',
    });
    expect(await getStrategy(t.db, 'mr-st')).toMatchObject({ level: 'L1' });
    expect(await listAuditEvents(t.db, { kind: 'strategy.promotion_stale' })).toEqual([
      expect.objectContaining({ subject: 'strategy:mr-st', details: expect.objectContaining({ level: 'L1' }) }),
    ]);
    expect(await findProposalRecord(t.db, proposalId)).toMatchObject({ closedStatus: 'stale' });
    await record(proposalId, 'strategy-promotion-stale.json');
  });

  it('the CLI (and an upsert) can no longer raise a strategy level directly; demotion still applies at once', async () => {
    expect(await cli(['strategy', 'enable', 'mr-new', '--level', 'L4'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--level: a new strategy starts at L0'),
    });
    expect(await getStrategy(t.db, 'mr-new')).toBeUndefined();
    expect(await cli(['strategy', 'enable', 'mr-new'])).toMatchObject({ code: 0 });
    expect(await cli(['strategy', 'enable', 'mr-new', '--level', 'L3'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--level: mr-new is at L0'),
    });
    // `promote` only proposes: the level waits for someone else's approval.
    expect(
      await cli(['strategy', 'promote', 'mr-new', '--role', 'tech_lead', '--reason', 'go'], 'alice'),
    ).toMatchObject({ code: 0 });
    expect(await getStrategy(t.db, 'mr-new')).toMatchObject({ level: 'L0' });
    const current = (await getStrategy(t.db, 'mr-new'))!;
    await expect(upsertStrategy(t.db, { ...current, level: 'L4' }, 'ops', 'raise')).rejects.toThrow(
      StrategyLevelChangeError,
    );
    await expect(upsertStrategy(t.db, { ...current, level: 'L4' }, 'ops', 'raise')).rejects.toThrow(/^level: /);
    expect(await getStrategy(t.db, 'mr-new')).toMatchObject({ level: 'L0' });
    // Demotion only goes down (and applies at once, as the stale-promotion test shows through the CLI).
    await expect(demoteStrategy(t.db, { id: 'mr-new', to: 'L2', actor: 'ops', reason: 'up?' })).rejects.toThrow(
      /^level: demotion goes down/,
    );
    await client.workflow.getHandle(promotionWorkflowId('mr-new', 'L1')).terminate('test over');
  });
});
