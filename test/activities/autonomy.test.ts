import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAutonomyActivities } from '../../activities/autonomy';
import { listAuditEvents } from '../../src/db/audit.repository';
import { addApprover, readGovernanceState } from '../../src/db/autonomy.repository';
import { attest } from '../../src/db/governance-reports.repository';
import type { CommandOutcomeRecord } from '../../src/domain/autonomy/activities';
import { READINESS_CHECKLIST } from '../../src/domain/autonomy/readiness-checklist';
import type { Phase } from '../../src/domain/autonomy/phases';
import type { ProposalView } from '../../src/domain/autonomy/proposals';
import { createTestDatabase, type TestDatabase } from '../helpers';

const DAY_MS = 86_400_000;

describe('autonomy activities on PostgreSQL', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    await t.drop();
  });

  type Notify = (proposalId: string, payload: { rule: string; detail: string; eventId: string }) => Promise<void>;
  const autonomy = (notifyProposal?: Notify) =>
    createAutonomyActivities({ db: t.db, ...(notifyProposal ? { notifyProposal } : {}) });
  let n = 0;
  const outcome = (over: Partial<CommandOutcomeRecord> = {}): CommandOutcomeRecord => ({
    commandId: `cmd-${++n}`,
    commandType: 'SET_FAN',
    phase: 'L3',
    autonomous: false,
    status: 'succeeded',
    approval: 'approved',
    approver: 'alice',
    role: 'tech_lead',
    detail: null,
    incident: null,
    at: new Date().toISOString(),
    ...over,
  });
  const count = async (table: 'command_record' | 'incident' | 'circuit_breaker_event' | 'governance_report') =>
    Number((await t.db.selectFrom(table).select(t.db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
  const view = (over: Partial<ProposalView> = {}): ProposalView => ({
    proposalId: 'expansion-L3+-2026-11-27',
    status: 'pending',
    fromPhase: 'L3',
    targetPhase: 'L3+',
    commands: ['SET_POWER', 'SET_FAN'],
    validationDays: 14,
    requiredRoles: ['tech_lead'],
    approvals: [],
    missingRoles: ['tech_lead'],
    rejection: null,
    rejectedMessages: 0,
    createdAt: '2026-11-27T23:00:00.000Z',
    expiresAt: '2026-12-11T23:00:00.000Z',
    validationEndsAt: null,
    revertedBy: null,
    ...over,
  });

  it('loads the seed context: L3, nothing whitelisted, nothing paused', async () => {
    await addApprover(t.db, 'ops_lead', 'bob', 'setup');
    expect(await autonomy().loadAutonomyContext()).toEqual({
      phase: 'L3',
      whitelist: { commands: [], allCommands: false },
      pausedCommandTypes: [],
      approvers: { tech_lead: [], ops_lead: ['bob'], product_lead: [], exec_sponsor: [] },
    });
  });

  describe('command outcomes and circuit breakers', () => {
    it('stores an outcome once per command id, with one audit event and one incident', async () => {
      const failed = outcome({ status: 'failed', incident: { severity: 'low', description: 'fan stalled' } });
      await autonomy().recordCommandOutcome(failed);
      await autonomy().recordCommandOutcome(failed);
      expect(await count('command_record')).toBe(1);
      expect(await count('incident')).toBe(1);
      expect(
        (await listAuditEvents(t.db, { subject: `command:${failed.commandId}` })).map((e) => [e.kind, e.actor]),
      ).toEqual([['command.failed', 'alice']]);
    });

    it('refuses an outcome with an unknown status, without writes', async () => {
      const bad = outcome({
        status: 'exploded' as CommandOutcomeRecord['status'],
        incident: { severity: 'high', description: 'x' },
      });
      await expect(autonomy().recordCommandOutcome(bad)).rejects.toThrow(/check constraint/);
      expect([await count('command_record'), await count('incident')]).toEqual([0, 0]);
      expect(await listAuditEvents(t.db)).toEqual([]);
    });

    it('three failures of one type pause it; a breaker already open does not trip again', async () => {
      const first = await autonomy().recordCommandOutcome(outcome({ status: 'failed' }));
      // One failure in one execution: error rate 1 > 0.05 (revert_to_l3; already at L3, so recorded only).
      expect(first.trips.map((tr) => tr.rule)).toEqual(['High Error Rate']);
      expect((await autonomy().recordCommandOutcome(outcome({ status: 'failed' }))).trips).toEqual([]);
      const third = await autonomy().recordCommandOutcome(outcome({ status: 'failed' }));
      expect(third.trips).toEqual([
        {
          rule: 'Repeated Command Failures',
          action: 'pause_command_type',
          alertSeverity: 'medium',
          commandType: 'SET_FAN',
          observed: 3,
          detail: 'failures >= 3 over 5m for SET_FAN: observed 3',
          eventId: expect.any(String),
        },
      ]);
      expect((await readGovernanceState(t.db)).pausedCommandTypes).toEqual(['SET_FAN']);
      expect((await autonomy().checkBreakers({ at: new Date().toISOString() })).trips).toEqual([]);
      expect(await count('circuit_breaker_event')).toBe(2);
      expect((await listAuditEvents(t.db)).filter((e) => e.kind.startsWith('breaker.')).map((e) => e.kind)).toEqual([
        'breaker.pause_command_type',
        'breaker.revert_to_l3',
      ]);
    });

    it('a revert tells the proposal under validation, through the outbox: a failed notice is sent on the next run', async () => {
      await autonomy().applyPhase({ proposalId: 'p-1', targetPhase: 'L3+', at: new Date().toISOString() });
      const notify = vi.fn<Notify>().mockRejectedValueOnce(new Error('workflow unreachable'));
      const critical = outcome({ autonomous: true, incident: { severity: 'critical', description: 'overheated' } });
      await expect(autonomy(notify).recordCommandOutcome(critical)).rejects.toThrow('workflow unreachable');
      // The revert committed before the notice failed.
      expect(await readGovernanceState(t.db)).toMatchObject({ phase: 'L3', activeProposalId: null });
      // The activity's retry: the outcome is not stored again, the breaker does not trip again, the notice goes.
      expect((await autonomy(notify).recordCommandOutcome(critical)).trips).toEqual([]);
      expect(notify).toHaveBeenCalledTimes(2);
      expect(notify).toHaveBeenLastCalledWith('p-1', {
        rule: 'Critical Incident',
        detail: 'criticalIncidents >= 1 over 1m: observed 1',
        eventId: expect.any(String),
      });
      await autonomy(notify).checkBreakers({ at: new Date().toISOString() });
      expect(notify).toHaveBeenCalledTimes(2);
      expect(await count('command_record')).toBe(1);
      expect((await listAuditEvents(t.db, { kind: 'breaker.revert_to_l3' })).map((e) => e.details)).toEqual([
        expect.objectContaining({ rule: 'Critical Incident', fromPhase: 'L3+' }),
      ]);
    });
  });

  describe('messages, proposals and phases', () => {
    it('audits a rejected message once per key, naming the approver it claimed', async () => {
      const rejected = {
        subject: 'proposal:p-1',
        message: 'approve',
        payload: { approver: 'mallory', role: 'cfo' },
        problem: 'role: invalid',
        key: 'u-1',
      };
      await autonomy().auditRejectedMessage(rejected);
      await autonomy().auditRejectedMessage(rejected);
      await autonomy().auditRejectedMessage({ ...rejected, payload: 'garbage', key: 'u-2' });
      expect(
        (await listAuditEvents(t.db, { kind: 'autonomy.message_rejected' })).map((e) => [e.actor, e.details]),
      ).toEqual([
        ['unknown', { message: 'approve', payload: 'garbage', problem: 'role: invalid' }],
        ['mallory', { message: 'approve', payload: { approver: 'mallory', role: 'cfo' }, problem: 'role: invalid' }],
      ]);
    });

    it('saves a proposal event once per state, and applies and validates a phase once each', async () => {
      await autonomy().saveProposal({ view: view(), actor: 'governance-cycle', event: 'created' });
      await autonomy().saveProposal({ view: view(), actor: 'governance-cycle', event: 'created' });
      const approved = view({
        status: 'validating',
        approvals: [{ role: 'tech_lead', approver: 'alice', comment: null, at: '2026-11-28T09:00:00.000Z' }],
        missingRoles: [],
      });
      await autonomy().saveProposal({ view: approved, actor: 'alice', event: 'approved' });
      expect(await t.db.selectFrom('expansion_proposal').select(['id', 'status']).execute()).toEqual([
        { id: 'expansion-L3+-2026-11-27', status: 'validating' },
      ]);

      const apply = {
        proposalId: 'expansion-L3+-2026-11-27',
        targetPhase: 'L3+' as const,
        at: '2026-11-28T09:00:00.000Z',
      };
      await autonomy().applyPhase(apply);
      await autonomy().applyPhase(apply);
      expect(await readGovernanceState(t.db)).toMatchObject({
        phase: 'L3+',
        phaseSince: apply.at,
        activeProposalId: apply.proposalId,
      });
      expect((await autonomy().loadAutonomyContext()).whitelist).toEqual({
        commands: ['SET_POWER', 'SET_FAN'],
        allCommands: false,
      });
      await autonomy().finishValidation({ proposalId: apply.proposalId });
      await autonomy().finishValidation({ proposalId: apply.proposalId });
      expect(await readGovernanceState(t.db)).toMatchObject({ phase: 'L3+', activeProposalId: null });
      expect((await listAuditEvents(t.db)).map((e) => e.kind).reverse()).toEqual([
        'proposal.created',
        'proposal.approved',
        'autonomy.phase_applied',
        'autonomy.phase_validated',
      ]);
    });

    it('audits each approval once when two are saved after both were judged (the view already holds both)', async () => {
      // The workflow judges racing approvals in one drain, then saves once per approval with the view as it stands.
      const both = view({
        status: 'pending',
        approvals: [
          { role: 'tech_lead', approver: 'alice', comment: null, at: '2026-11-28T09:00:00.000Z' },
          { role: 'ops_lead', approver: 'carol', comment: null, at: '2026-11-28T09:00:01.000Z' },
        ],
        missingRoles: [],
      });
      await autonomy().saveProposal({ view: both, actor: 'alice', event: 'approved' });
      await autonomy().saveProposal({ view: both, actor: 'carol', event: 'approved' });
      // A retried save of the same approval still appends nothing.
      await autonomy().saveProposal({ view: both, actor: 'carol', event: 'approved' });
      const approved = (await listAuditEvents(t.db, { kind: 'proposal.approved' })).map((e) => e.actor).sort();
      expect(approved).toEqual(['alice', 'carol']);
    });

    it('audits a proposal reopened under the same id (the same phase the same day) as a proposal of its own', async () => {
      await autonomy().saveProposal({ view: view(), actor: 'alice', event: 'created' });
      await autonomy().saveProposal({ view: view({ status: 'rejected' }), actor: 'bob', event: 'rejected' });
      const again = { createdAt: '2026-11-27T15:00:00.000Z' };
      await autonomy().saveProposal({ view: view(again), actor: 'alice', event: 'created' });
      await autonomy().saveProposal({ view: view({ ...again, status: 'rejected' }), actor: 'bob', event: 'rejected' });
      expect((await listAuditEvents(t.db)).map((e) => e.kind).reverse()).toEqual([
        'proposal.created',
        'proposal.rejected',
        'proposal.created',
        'proposal.rejected',
      ]);
    });

    it('refuses a phase that is not defined, without writes', async () => {
      const before = await readGovernanceState(t.db);
      await expect(
        autonomy().applyPhase({ proposalId: 'p-1', targetPhase: 'L9' as Phase, at: new Date().toISOString() }),
      ).rejects.toThrow(/foreign key/);
      expect(await readGovernanceState(t.db)).toEqual(before);
      expect(await listAuditEvents(t.db)).toEqual([]);
    });
  });

  describe('the weekly report', () => {
    it('does not expand on a fresh install, and says why', async () => {
      const report = await autonomy().prepareGovernanceReport({ at: new Date().toISOString() });
      expect(report).toMatchObject({
        phase: 'L3',
        terms: null,
        breakers: [],
        metrics: { total: 0 },
        decision: { expand: false },
      });
      expect(report.decision.reasons).toContain('0 days at L3 (minimum 180)');
      expect(report.decision.reasons).toContain('required checklist items missing');
    });

    it('proposes the next phase when the evidence is there; the report is stored and audited', async () => {
      const at = new Date();
      await t.db
        .updateTable('governance_state')
        .set({ phase_since: new Date(at.getTime() - 200 * DAY_MS) })
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
            at: new Date(at.getTime() - (i + 1) * 3_600_000),
          })
          .execute();
      }
      for (const item of READINESS_CHECKLIST.filter((i) => i.source === 'attestation'))
        await attest(t.db, { item: item.key, passed: true, actor: 'ops' });
      await addApprover(t.db, 'tech_lead', 'alice', 'setup');

      const report = await autonomy().prepareGovernanceReport({ at: at.toISOString() });
      expect(report).toMatchObject({
        phase: 'L3',
        decision: { expand: true },
        readiness: { score: 78, status: 'Ready' },
        metrics: { total: 10, successRate: 1 },
      });
      expect(report.terms).toEqual({
        proposalId: `expansion-L3+-${at.toISOString().slice(0, 10)}`,
        fromPhase: 'L3',
        targetPhase: 'L3+',
        commands: ['SET_POWER', 'SET_FAN'],
        validationDays: 14,
        achievements: [
          'readiness 78/80 (Ready)',
          '200 days at L3',
          'success rate 100.00% over 10 commands in 7 days',
          'no unresolved circuit breaker events',
        ],
        risk: { level: 'low', mitigations: expect.any(Array) },
        requiredRoles: ['tech_lead'],
        approvers: { tech_lead: ['alice'], ops_lead: [], product_lead: [], exec_sponsor: [] },
      });

      const save = {
        report: { decision: report.decision },
        proposalId: report.terms!.proposalId,
        at: at.toISOString(),
        key: 'governance-report:cycle-1:run-1',
      };
      const reportId = await autonomy().saveGovernanceReport(save);
      // The activity's retry: the first report's id, and nothing written again.
      expect(await autonomy().saveGovernanceReport(save)).toBe(reportId);
      expect(await readGovernanceState(t.db)).toMatchObject({ lastReportId: reportId, lastReportAt: at.toISOString() });
      expect((await listAuditEvents(t.db, { kind: 'governance.report' })).map((e) => [e.subject, e.details])).toEqual([
        [`report:${reportId}`, { decision: report.decision, proposalId: report.terms!.proposalId }],
      ]);
      expect(await count('governance_report')).toBe(1);
    });

    it('saves a report once per key, and without a key once per period; a retry never moves last_report_id', async () => {
      const at = '2026-11-27T23:00:00.000Z';
      const report = { decision: { expand: false, reasons: ['quiet week'] } };
      const first = await autonomy().saveGovernanceReport({ report, proposalId: null, at });
      expect(await autonomy().saveGovernanceReport({ report, proposalId: null, at })).toBe(first);
      const later = '2026-12-04T23:00:00.000Z';
      const second = await autonomy().saveGovernanceReport({ report, proposalId: null, at: later, key: 'k-2' });
      // A late retry of last week's save: answered, but the state keeps pointing at the newest report.
      expect(await autonomy().saveGovernanceReport({ report, proposalId: null, at })).toBe(first);
      expect(second).not.toBe(first);
      expect(await count('governance_report')).toBe(2);
      expect(await readGovernanceState(t.db)).toMatchObject({ lastReportId: second, lastReportAt: later });
      expect((await listAuditEvents(t.db, { kind: 'governance.report' })).map((e) => e.subject)).toEqual([
        `report:${second}`,
        `report:${first}`,
      ]);
    });
  });
});
