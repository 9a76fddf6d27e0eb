import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import type { CommandExecutor } from '../../src/domain/autonomy/activities';
import type { ProposalTerms, ProposalView } from '../../src/domain/autonomy/proposals';
import type { Phase } from '../../src/domain/autonomy/phases';
import { WardenClient } from '../../src/client';
import type { GovernanceSettings } from '../../src/config/index';
import { listAuditEvents } from '../../src/db/audit.repository';
import {
  addApprover,
  listApprovers,
  loadPhaseDefinitions,
  readGovernanceState,
} from '../../src/db/autonomy.repository';
import { recordExpansionProposal } from '../../src/db/expansion-proposals.repository';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { expansionProposal } from '../../workflows/expansion-proposal';
import {
  approveSignal,
  approveUpdate,
  breakerTrippedSignal,
  proposalStatusQuery,
  rejectSignal,
} from '../../workflows/messages';
import {
  TEST_SETTINGS,
  createTestDatabase,
  createTimeSkippingEnv,
  type TestDatabase,
  uniqueName,
  workflowBundle,
} from '../helpers';
import { testApprovalKeys } from '../support/approval-keys';

const PEOPLE = { tech_lead: 'alice', ops_lead: 'carol', product_lead: 'pat', exec_sponsor: 'erin' } as const;
const FROM: Record<string, Phase> = { 'L3+': 'L3', L4: 'L3+', 'L4+': 'L4', L5: 'L4+' };

describe('expansionProposal workflow (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  let t: TestDatabase;
  let taskQueue: string;

  // A server of its own per test: a long run of skipped time can leave the
  // time-skipping server's clock locked, and `sleep` would then never return.
  beforeEach(async () => {
    env = await createTimeSkippingEnv();
    t = await createTestDatabase();
    taskQueue = uniqueName('proposals');
    for (const [role, person] of Object.entries(PEOPLE))
      await addApprover(t.db, role as keyof typeof PEOPLE, person, 'setup');
    await addApprover(t.db, 'tech_lead', 'bob', 'setup');
  });
  afterEach(async () => {
    await t.drop();
    await env.teardown();
  });

  const worker = (
    commandExecutor?: CommandExecutor,
    notifyProposal?: (id: string, payload: { rule: string; detail: string; eventId: string }) => Promise<void>,
    settings: GovernanceSettings = TEST_SETTINGS,
  ) =>
    Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: createActivities({
        db: t.db,
        governor: DEFAULT_GOVERNOR_SETTINGS,
        controlPlane: new WardenClient(env.client, taskQueue),
        notifyProposal:
          notifyProposal ?? ((id, payload) => env.client.workflow.getHandle(id).signal(breakerTrippedSignal, payload)),
        settings,
        ...(commandExecutor ? { commandExecutor } : {}),
      }),
    });
  const terms = async (target: Phase, overrides: Partial<ProposalTerms> = {}): Promise<ProposalTerms> => {
    const def = (await loadPhaseDefinitions(t.db)).find((p) => p.phase === target)!;
    return {
      proposalId: uniqueName(`expansion-${target}`),
      fromPhase: FROM[target]!,
      targetPhase: target,
      commands: def.addedCommands,
      validationDays: def.validationDays!,
      achievements: ['readiness 78/80'],
      risk: { level: 'medium', mitigations: ['breakers'] },
      requiredRoles: def.requiredRoles,
      approvers: await listApprovers(t.db),
      ...overrides,
    };
  };
  /**
   * Warden's record first (as the governance cycle or an operator writes it), the phase where the proposal
   * starts from, then the workflow, started by id alone: its terms are loaded from the record.
   */
  const start = async (target: Phase, overrides: Partial<ProposalTerms> = {}) => {
    const { approvers: _ignored, ...input } = await terms(target, overrides);
    await recordExpansionProposal(t.db, {
      ...input,
      expiresInDays: input.expiresInDays ?? 14,
      requestedBy: 'governance-cycle',
    });
    await t.db.updateTable('governance_state').set({ current_phase: input.fromPhase }).execute();
    return env.client.workflow.start(expansionProposal, {
      taskQueue,
      workflowId: input.proposalId,
      args: [{ proposalId: input.proposalId }],
    });
  };
  const status = async (
    handle: { query: (q: typeof proposalStatusQuery) => Promise<ProposalView> },
    wanted: ProposalView['status'],
  ) => {
    await expect.poll(async () => (await handle.query(proposalStatusQuery)).status, { timeout: 15_000 }).toBe(wanted);
    return handle.query(proposalStatusQuery);
  };

  it.each([
    ['L3+', 14],
    ['L4', 21],
    ['L4+', 30],
    ['L5', 60],
  ] as const)(
    '%s: every required approval widens the phase, and its %i-day validation period completes',
    async (target, days) => {
      const started = Date.now();
      await (
        await worker()
      ).runUntil(async () => {
        const handle = await start(target);
        const def = (await loadPhaseDefinitions(t.db)).find((p) => p.phase === target)!;
        for (const role of def.requiredRoles)
          await handle.signal(approveSignal, { role, approver: PEOPLE[role], comment: 'evidence reviewed' });
        const validating = await status(handle, 'validating');
        expect(
          Date.parse(validating.validationEndsAt!) - Date.parse(validating.approvals.at(-1)!.at),
        ).toBeGreaterThanOrEqual(days * 86_400_000 - 60_000);
        expect(await readGovernanceState(t.db)).toMatchObject({ phase: target, activeProposalId: handle.workflowId });
        const result = await handle.result();
        expect(result).toMatchObject({ status: 'validated', missingRoles: [], targetPhase: target });
        expect(Date.parse(result.validationEndsAt!) - Date.parse(result.createdAt)).toBeGreaterThanOrEqual(
          days * 86_400_000,
        );
        if (target === 'L4' && process.env.WARDEN_RECORD_HISTORIES === '1') {
          writeFileSync(
            path.join(__dirname, '..', 'histories', 'expansion-proposal-validated.json'),
            historyToJSON(await handle.fetchHistory()),
          );
        }
      });
      expect(await readGovernanceState(t.db)).toMatchObject({ phase: target, activeProposalId: null });
      // Seconds of wall time for weeks of validation.
      expect(Date.now() - started).toBeLessThan(30_000);
    },
  );

  it('signed approvals: unsigned, expired and wrong-role approvals are refused and audited; a signed one counts', async () => {
    const keys = testApprovalKeys();
    await (
      await worker(undefined, undefined, { ...TEST_SETTINGS, approvals: keys.settings('test').approvals })
    ).runUntil(async () => {
      const handle = await start('L3+');
      const token = (roles: ('engineer' | 'operator')[], now = new Date(), action = 'approve') =>
        keys.issue(t.db, { subject: 'alice', roles, audience: `${handle.workflowId}:${action}`, now });
      await handle.signal(approveSignal, { role: 'tech_lead', approver: 'alice', comment: 'unsigned, from the CLI' });
      await expect
        .poll(async () => (await handle.query(proposalStatusQuery)).rejectedMessages, { timeout: 15_000 })
        .toBe(1);
      const expired = await handle
        .executeUpdate(approveUpdate, {
          args: [
            {
              role: 'tech_lead',
              approver: 'alice',
              token: await token(['engineer'], new Date(Date.now() - 3_600_000)),
            },
          ],
        })
        .catch((e: unknown) => e);
      expect(String((expired as Error & { cause?: Error }).cause?.message)).toMatch(/^token: expired at /);
      const wrongRole = await handle
        .executeUpdate(approveUpdate, {
          args: [{ role: 'tech_lead', approver: 'alice', token: await token(['operator']) }],
        })
        .catch((e: unknown) => e);
      expect(String((wrongRole as Error & { cause?: Error }).cause?.message)).toBe(
        'role: the token does not grant engineer',
      );
      // A token issued to reject this proposal does not approve it.
      const stolen = await handle
        .executeUpdate(approveUpdate, {
          args: [{ role: 'tech_lead', approver: 'alice', token: await token(['engineer'], new Date(), 'reject') }],
        })
        .catch((e: unknown) => e);
      expect(String((stolen as Error & { cause?: Error }).cause?.message)).toBe(
        `token: issued for ${handle.workflowId}:reject, not ${handle.workflowId}:approve`,
      );
      expect((await handle.query(proposalStatusQuery)).status).toBe('pending');

      const approved = await handle.executeUpdate(approveUpdate, {
        args: [{ role: 'tech_lead', approver: 'alice', token: await token(['engineer']) }],
      });
      expect(approved).toMatchObject({ missingRoles: [] });
      await status(handle, 'validating');
      const refusals = (await listAuditEvents(t.db, { kind: 'autonomy.message_rejected' })).map(
        (e) => (e.details as { problem: string }).problem,
      );
      expect(refusals).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^token: signed approvals are on/),
          expect.stringMatching(/^token: expired/),
          'role: the token does not grant engineer',
        ]),
      );
      const audited = JSON.stringify(await listAuditEvents(t.db, { kind: 'autonomy.message_rejected' }));
      expect(audited).not.toMatch(/wtr_|eyJ/);
      if (process.env.WARDEN_RECORD_HISTORIES === '1') {
        writeFileSync(
          path.join(__dirname, '..', 'histories', 'expansion-proposal-signed.json'),
          historyToJSON(await handle.fetchHistory()),
        );
      }
    });
  });

  it('an approval arriving on day 3 moves it forward', async () => {
    await (
      await worker()
    ).runUntil(async () => {
      const handle = await start('L3+');
      await env.sleep('3 days');
      expect((await handle.query(proposalStatusQuery)).status).toBe('pending');
      await handle.signal(approveSignal, { role: 'tech_lead', approver: 'bob' });
      const view = await status(handle, 'validating');
      expect(Date.parse(view.approvals[0]!.at) - Date.parse(view.createdAt)).toBeGreaterThanOrEqual(3 * 86_400_000);
      expect(await handle.result()).toMatchObject({ status: 'validated' });
    });
  });

  it('expires when the approvals do not come in time', async () => {
    await (
      await worker()
    ).runUntil(async () => {
      const handle = await start('L4', { expiresInDays: 7 });
      await handle.signal(approveSignal, { role: 'tech_lead', approver: 'alice' });
      expect(await handle.result()).toMatchObject({ status: 'expired', missingRoles: ['ops_lead'] });
    });
    expect(await readGovernanceState(t.db)).toMatchObject({ phase: 'L3+' });
  });

  it('a rejection ends it; the phase stays', async () => {
    await (
      await worker()
    ).runUntil(async () => {
      const handle = await start('L4');
      await handle.signal(rejectSignal, { role: 'ops_lead', approver: 'carol', reason: 'rollback drill first' });
      expect(await handle.result()).toMatchObject({
        status: 'rejected',
        rejection: { approver: 'carol', reason: 'rollback drill first' },
      });
    });
    expect(await readGovernanceState(t.db)).toMatchObject({ phase: 'L3+' });
  });

  it('refuses bad approvals with their reason, audits them, and leaves the state and the workflow task alone', async () => {
    await addApprover(t.db, 'ops_lead', 'alice', 'setup'); // allowed for both roles, may fill only one
    await (
      await worker()
    ).runUntil(async () => {
      const handle = await start('L4');
      const raw = env.client.workflow.getHandle(handle.workflowId);
      await raw.signal('approve', { role: 'product_lead', approver: 'pat' }); // wrong role
      await raw.signal('approve', { role: 'ops_lead', approver: 'mallory' }); // unknown approver
      await raw.signal('approve', { role: 'tech_lead', approver: 'alice' });
      await raw.signal('approve', { role: 'ops_lead', approver: 'alice' }); // same person twice
      await raw.signal('approve', { role: 'tech_lead', approver: 'alice' }); // duplicate
      await raw.signal('approve', 'yes please'); // malformed
      await expect
        .poll(async () => (await handle.query(proposalStatusQuery)).rejectedMessages, { timeout: 15_000 })
        .toBe(5);
      expect(await handle.query(proposalStatusQuery)).toMatchObject({
        status: 'pending',
        approvals: [{ role: 'tech_lead', approver: 'alice' }],
        missingRoles: ['ops_lead'],
      });
      const history = await handle.fetchHistory();
      expect(history.events!.filter((e) => e.workflowTaskFailedEventAttributes != null)).toEqual([]);
      await handle.terminate('test over');
    });
    // Well-formed approvals are refused after their approver check, malformed ones at once: compare as a set.
    const problems = (await listAuditEvents(t.db, { kind: 'autonomy.message_rejected' }))
      .map((e) => e.details.problem)
      .sort();
    expect(problems).toEqual(
      [
        'role: product_lead is not required for L4 (required: tech_lead, ops_lead)',
        'approver: mallory is not on the allowlist for ops_lead',
        'approver: alice already approved as tech_lead; one person cannot fill two roles',
        'approver: alice already approved as tech_lead',
        'payload: Invalid input: expected object, received string',
      ].sort(),
    );
  });

  it('a breaker trip on day 5 of the validation period reverts to L3 at once, even if the first notice fails', async () => {
    const overheating: CommandExecutor = {
      executeCommand: async () => ({ incident: { severity: 'critical', description: 'drum overheated' } }),
    };
    let notices = 0;
    const flakyNotify = async (id: string, payload: { rule: string; detail: string; eventId: string }) => {
      if (++notices === 1) throw new Error('frontend unavailable');
      await env.client.workflow.getHandle(id).signal(breakerTrippedSignal, payload);
    };
    await (
      await worker(overheating, flakyNotify)
    ).runUntil(async () => {
      const handle = await start('L3+');
      await handle.signal(approveSignal, { role: 'tech_lead', approver: 'alice' });
      await status(handle, 'validating');
      // A trip no breaker event stands behind, and one carrying a NUL: refused and audited, the validation goes on.
      await handle.signal(breakerTrippedSignal, { rule: 'Critical Incident', detail: 'forged', eventId: '999999' });
      await handle.signal(breakerTrippedSignal, { rule: 'x', detail: 'a\u0000b', eventId: '1' });
      await expect
        .poll(async () => (await handle.query(proposalStatusQuery)).rejectedMessages, { timeout: 15_000 })
        .toBe(2);
      expect(await handle.query(proposalStatusQuery)).toMatchObject({ status: 'validating', revertedBy: null });
      await env.sleep('5 days');
      // From here the clock stays put (a plain client does not unlock time skipping): the revert must come from the breaker, not a timer.
      const locked = new Client({ connection: env.connection });
      // A critical incident from an autonomous command trips "Critical Incident" (revert_to_l3).
      // Commands are governed actions: this one executes only with go-live on, outside dry_run.
      await t.db.updateTable('control_plane_state').set({ go_live_enabled: true, apply_mode: 'live' }).execute();
      const result = await locked.workflow.execute('commandExecution', {
        taskQueue,
        workflowId: uniqueName('command'),
        args: [{ commandId: uniqueName('c'), commandType: 'SET_FAN', requestedBy: 'roaster', params: { rpm: 1200 } }],
      });
      expect(result).toMatchObject({ status: 'succeeded', autonomous: true });
      expect(await readGovernanceState(t.db)).toMatchObject({ phase: 'L3', activeProposalId: null });
      await expect
        .poll(async () => (await handle.query(proposalStatusQuery)).status, { timeout: 15_000 })
        .toBe('reverted');
      const view = await locked.workflow.getHandle<typeof expansionProposal>(handle.workflowId).result();
      if (process.env.WARDEN_RECORD_HISTORIES === '1') {
        writeFileSync(
          path.join(__dirname, '..', 'histories', 'expansion-proposal-reverted-confirmed.json'),
          historyToJSON(await handle.fetchHistory()),
        );
      }
      expect(view).toMatchObject({ status: 'reverted', revertedBy: expect.stringContaining('Critical Incident') });
      expect(Date.parse(view.validationEndsAt!)).toBeGreaterThan(Date.now());
    });
    expect(notices).toBe(2);
  });
});
