import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGoLiveActivities } from '../../activities/go-live';
import type { GoLiveSettings } from '../../src/config/go-live-settings';
import { listAuditEvents } from '../../src/db/audit.repository';
import { closePlaybook, latestPlaybookCompletion, readPlaybook } from '../../src/db/go-live.repository';
import { DEFAULT_CAPITAL_BANDS } from '../../src/domain/capital/bands';
import type { StepRecord } from '../../src/domain/go-live/playbook';
import { createTestDatabase, type TestDatabase } from '../helpers';
import { testApprovalKeys } from '../support/approval-keys';

const keys = testApprovalKeys();
const SIGNED: GoLiveSettings = {
  environment: 'test',
  capitalBands: DEFAULT_CAPITAL_BANDS,
  canaryThreshold: 3,
  approvals: keys.settings('test').approvals,
};
const UNSIGNED: GoLiveSettings = { ...SIGNED, approvals: keys.settings('test', false).approvals };
const TOKEN_REQUIRED =
  'token: signed approvals are on in this environment; get a token with `warden approvals token` or POST /approval-tokens';
const at = '2026-11-24T12:00:00.000Z';
const step = (id: StepRecord['step'], actor = 'olga'): StepRecord => ({
  step: id,
  actor,
  evidence: `${id} done`,
  role: null,
  at,
  band: 'A',
  health: 'GREEN',
});

describe('go-live activities on PostgreSQL', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    await t.drop();
  });

  const activities = (settings: GoLiveSettings = SIGNED) => createGoLiveActivities({ db: t.db, goLive: settings });
  const kinds = async () => (await listAuditEvents(t.db)).map((e) => e.kind).reverse();
  const open = (playbookId = 'pb-1', runId = 'run-1') =>
    activities().openGoLivePlaybook({ playbookId, runId, startedBy: 'olga', startedAt: at });

  describe('assessGoLiveConditions', () => {
    const run = { playbookId: 'pb-1', runId: 'run-1' };

    it('reads band and health from the database; unsigned, no credentials are checked for an ordinary step', async () => {
      expect(await activities(UNSIGNED).assessGoLiveConditions({ ...run, step: 'preflight', actor: 'olga' })).toEqual({
        band: 'A',
        health: 'GREEN',
        healthReasons: [],
        approver: null,
      });
      await t.db
        .updateTable('control_plane_state')
        .set({ kill_switch_engaged: true, kill_switch_source: 'operator', reason: 'drill' })
        .execute();
      expect(await activities(UNSIGNED).assessGoLiveConditions({ ...run, step: 'preflight', actor: 'olga' })).toEqual({
        band: 'A',
        health: 'RED',
        healthReasons: ['kill_switch_engaged: kill switch engaged by operator: drill'],
        approver: null,
      });
    });

    it('signed: every step needs a token for that step of that playbook', async () => {
      const preflight = async (token?: string) =>
        (
          await activities().assessGoLiveConditions({
            ...run,
            step: 'preflight',
            actor: 'olga',
            ...(token ? { token } : {}),
          })
        ).approver;
      expect(await preflight()).toEqual({ ok: false, problem: TOKEN_REQUIRED });
      const forStep = (audience: string) => keys.issue(t.db, { subject: 'olga', roles: ['operator'], audience });
      expect(await preflight(await forStep('pb-1:preflight'))).toMatchObject({
        ok: true,
        actor: 'olga',
        role: 'operator',
      });
      expect(await preflight(await forStep('pb-2:preflight'))).toEqual({
        ok: false,
        problem: 'token: issued for pb-2:preflight, not pb-1:preflight',
      });
    });

    it('sign-off: refuses without a token, accepts a valid one, refuses it once it was spent on a step', async () => {
      const signOff = async (actor: string, token?: string) =>
        (
          await activities().assessGoLiveConditions({
            ...run,
            step: 'sign_off',
            actor,
            role: 'risk_officer',
            ...(token ? { token } : {}),
          })
        ).approver;
      expect(await signOff('rita')).toEqual({ ok: false, problem: TOKEN_REQUIRED });
      const token = await keys.issue(t.db, { subject: 'rita', roles: ['risk_officer'], audience: 'pb-1:sign_off' });
      const { token_id: tokenId } = await t.db
        .selectFrom('approval_token')
        .select('token_id')
        .where('reference', '=', token)
        .executeTakeFirstOrThrow();
      const vouched = { tokenId, subject: 'rita' };
      expect(await signOff('rita', token)).toEqual({ ok: true, actor: 'rita', role: 'risk_officer', token: vouched });
      expect(await signOff('mallory', token)).toEqual({
        ok: false,
        problem: "actor: mallory is not the token's subject (rita)",
      });

      await open();
      const record = { ...step('sign_off', 'rita'), role: 'risk_officer' };
      expect(
        await activities().recordPlaybookStep({ playbookId: 'pb-1', runId: 'run-1', record, token: vouched }),
      ).toEqual({ recorded: true });
      // Spent by this run's sign-off: the same step of another run may not use it again.
      expect(await signOff('rita', token)).toEqual({ ok: true, actor: 'rita', role: 'risk_officer', token: vouched });
      expect(
        (
          await activities().assessGoLiveConditions({
            ...run,
            runId: 'run-2',
            step: 'sign_off',
            actor: 'rita',
            role: 'risk_officer',
            token,
          })
        ).approver,
      ).toEqual({ ok: false, problem: 'token: already used (each approval token approves once)' });
    });
  });

  describe('the playbook record', () => {
    it('opens, records steps and closes once each, however often a call is retried', async () => {
      await open();
      await open();
      expect(
        await activities().recordPlaybookStep({ playbookId: 'pb-1', runId: 'run-1', record: step('preflight') }),
      ).toEqual({ recorded: true });
      expect(
        await activities().recordPlaybookStep({ playbookId: 'pb-1', runId: 'run-1', record: step('preflight') }),
      ).toEqual({ recorded: true });
      expect(
        await activities().recordPlaybookStep({
          playbookId: 'pb-1',
          runId: 'run-1',
          record: step('risk_policies_reviewed'),
        }),
      ).toEqual({ recorded: true });
      const close = {
        playbookId: 'pb-1',
        runId: 'run-1',
        status: 'completed' as const,
        actor: 'olga',
        at: '2026-11-24T13:00:00.000Z',
      };
      await activities().closeGoLivePlaybook(close);
      await activities().closeGoLivePlaybook(close);

      expect(await readPlaybook(t.db, 'pb-1')).toMatchObject({
        status: 'completed',
        completedAt: '2026-11-24T13:00:00.000Z',
        environment: 'test',
        steps: [step('preflight'), step('risk_policies_reviewed')],
      });
      expect(await kinds()).toEqual([
        'go_live.playbook_started',
        'go_live.step_completed',
        'go_live.step_completed',
        'go_live.playbook_completed',
      ]);
      const [, second] = (await listAuditEvents(t.db, { kind: 'go_live.step_completed' })).reverse();
      expect(second!.details).toMatchObject({ runId: 'run-1', step: 'risk_policies_reviewed', position: 2 });

      // Closed: a late step is refused and nothing is written.
      expect(
        await activities().recordPlaybookStep({
          playbookId: 'pb-1',
          runId: 'run-1',
          record: step('prod_gates_reviewed'),
        }),
      ).toEqual({ recorded: false, problem: 'step: playbook pb-1 is completed' });
      expect((await readPlaybook(t.db, 'pb-1'))!.steps).toHaveLength(2);
      expect(await kinds()).toHaveLength(4);
    });

    it('a new run under the same id starts over', async () => {
      await open('pb-1', 'run-1');
      await activities().recordPlaybookStep({ playbookId: 'pb-1', runId: 'run-1', record: step('preflight') });
      await activities().closeGoLivePlaybook({
        playbookId: 'pb-1',
        runId: 'run-1',
        status: 'abandoned',
        actor: 'olga',
        reason: 'rehearsal',
        at,
      });
      expect(await readPlaybook(t.db, 'pb-1')).toMatchObject({ status: 'abandoned', completedAt: null });
      await open('pb-1', 'run-2');
      expect(await readPlaybook(t.db, 'pb-1')).toMatchObject({ status: 'in_progress', steps: [] });
      expect((await listAuditEvents(t.db, { kind: 'go_live.playbook_abandoned' }))[0]!.details).toEqual({
        runId: 'run-1',
        reason: 'rehearsal',
      });
      expect(await listAuditEvents(t.db, { kind: 'go_live.playbook_started' })).toHaveLength(2);
    });

    it('a close that changes no row audits nothing: an unknown playbook, or one already closed otherwise', async () => {
      const close = { runId: 'run-1', actor: 'olga', at };
      await activities().closeGoLivePlaybook({ ...close, playbookId: 'ghost', status: 'completed' });
      expect(await kinds()).toEqual([]);
      expect(await readPlaybook(t.db, 'ghost')).toBeUndefined();

      await open();
      await activities().closeGoLivePlaybook({ ...close, playbookId: 'pb-1', status: 'abandoned', reason: 'drill' });
      await activities().closeGoLivePlaybook({ ...close, playbookId: 'pb-1', status: 'completed' });
      expect(await readPlaybook(t.db, 'pb-1')).toMatchObject({ status: 'abandoned', completedAt: null });
      expect(await latestPlaybookCompletion(t.db)).toBeNull();
      expect(await kinds()).toEqual(['go_live.playbook_started', 'go_live.playbook_abandoned']);

      // The repository says what happened: a retry of the close that did happen, or a refusal with what is stored.
      const repoClose = { id: 'pb-1', runId: 'run-1', actor: 'olga', at: new Date(at) };
      const stored = await readPlaybook(t.db, 'pb-1');
      expect(await closePlaybook(t.db, { ...repoClose, status: 'abandoned' })).toEqual({
        closed: true,
        playbook: stored,
      });
      expect(await closePlaybook(t.db, { ...repoClose, status: 'completed' })).toEqual({
        closed: false,
        problem: 'close: playbook pb-1 is abandoned',
        playbook: stored,
      });
      expect(await closePlaybook(t.db, { ...repoClose, id: 'ghost', status: 'completed' })).toEqual({
        closed: false,
        problem: 'close: no playbook ghost',
        playbook: null,
      });
      expect(await kinds()).toHaveLength(2);
    });

    it('a token spends once: a second step vouched for by it is refused without writes', async () => {
      await open();
      const token = { tokenId: randomUUID(), subject: 'rita' };
      expect(
        await activities().recordPlaybookStep({
          playbookId: 'pb-1',
          runId: 'run-1',
          record: step('preflight', 'rita'),
          token,
        }),
      ).toEqual({ recorded: true });
      expect(
        await activities().recordPlaybookStep({
          playbookId: 'pb-1',
          runId: 'run-1',
          record: step('risk_policies_reviewed', 'rita'),
          token,
        }),
      ).toEqual({ recorded: false, problem: 'token: already used (each approval token approves once)' });
      expect((await readPlaybook(t.db, 'pb-1'))!.steps.map((s) => s.step)).toEqual(['preflight']);
      expect(await listAuditEvents(t.db, { kind: 'go_live.step_completed' })).toHaveLength(1);
    });

    it('a step for a playbook that was never opened is refused without writes', async () => {
      await expect(
        activities().recordPlaybookStep({ playbookId: 'nope', runId: 'run-1', record: step('preflight') }),
      ).rejects.toThrow(/no result/i);
      expect(await kinds()).toEqual([]);
      expect(await t.db.selectFrom('go_live_playbook').selectAll().execute()).toEqual([]);
    });

    it('audits a refusal once per key, without the approval token; a malformed payload is a rejected message', async () => {
      await open();
      const refusal = {
        step: 'sign_off',
        actor: 'rita',
        reason: 'band_exceeded' as const,
        detail: 'capital band C is past B, the worst sign_off tolerates',
        at,
      };
      const payload = { step: 'sign_off', actor: 'rita', evidence: 'ticket 7', token: 'wat1.secret.sig' };
      await activities().auditPlaybookRefusal({ playbookId: 'pb-1', refusal, payload, key: 'u-1' });
      await activities().auditPlaybookRefusal({ playbookId: 'pb-1', refusal, payload, key: 'u-1' });
      await activities().auditPlaybookRefusal({
        playbookId: 'pb-1',
        refusal: { ...refusal, step: '??', reason: 'invalid_payload', detail: 'step: expected one of …' },
        payload: 42,
        key: 'u-2',
      });
      const [rejected, refused, ...rest] = await listAuditEvents(t.db, { subject: 'playbook:pb-1' });
      expect(rest.map((e) => e.kind)).toEqual(['go_live.playbook_started']);
      expect(refused).toMatchObject({
        actor: 'rita',
        kind: 'go_live.step_refused',
        details: { step: 'sign_off', reason: 'band_exceeded', payload: { ...payload, token: '(redacted)' } },
      });
      expect(JSON.stringify(refused!.details)).not.toContain('wat1.secret.sig');
      expect(rejected).toMatchObject({
        kind: 'go_live.message_rejected',
        details: { reason: 'invalid_payload', payload: 42 },
      });
    });
  });

  describe('operator sessions', () => {
    it('opens and closes once each with a snapshot; retries return the first answer', async () => {
      const start = {
        sessionId: randomUUID(),
        operator: 'olga',
        notes: 'night shift',
        startedAt: '2026-11-24T20:00:00.000Z',
      };
      const opened = await activities().openOperatorSession(start);
      expect(opened).toMatchObject({
        sessionId: start.sessionId,
        operator: 'olga',
        status: 'active',
        startedAt: start.startedAt,
        startNotes: 'night shift',
        endSnapshot: null,
      });
      expect(opened.startSnapshot).toMatchObject({
        band: { band: 'A', cap: 1500 },
        health: { status: 'GREEN' },
        controlPlane: { killSwitchEngaged: false },
        playbook: null,
      });
      await t.db
        .updateTable('control_plane_state')
        .set({ kill_switch_engaged: true, kill_switch_source: 'operator', reason: 'drill' })
        .execute();
      expect(await activities().openOperatorSession({ ...start, notes: 'retried' })).toEqual(opened);

      const end = { sessionId: start.sessionId, actor: 'olga', notes: 'quiet', endedAt: '2026-11-25T04:00:00.000Z' };
      const ended = await activities().closeOperatorSession(end);
      expect(ended).toMatchObject({
        status: 'ended',
        endedAt: end.endedAt,
        endNotes: 'quiet',
        endSnapshot: { health: { status: 'RED' }, controlPlane: { killSwitchEngaged: true } },
      });
      expect(
        await activities().closeOperatorSession({ ...end, notes: 'again', endedAt: '2026-11-25T05:00:00.000Z' }),
      ).toEqual(ended);

      const events = await listAuditEvents(t.db, { subject: `session:${start.sessionId}` });
      expect(events.map((e) => [e.kind, e.details])).toEqual([
        ['go_live.session_ended', { operator: 'olga', notes: 'quiet', health: 'RED', band: 'A', goLive: false }],
        ['go_live.session_started', { notes: 'night shift', health: 'GREEN', band: 'A', goLive: false }],
      ]);
    });

    it('closing a session that was never opened is refused without writes', async () => {
      await expect(
        activities().closeOperatorSession({ sessionId: randomUUID(), actor: 'olga', notes: null, endedAt: at }),
      ).rejects.toThrow(/no result/i);
      expect(await kinds()).toEqual([]);
      expect(await t.db.selectFrom('operator_session').selectAll().execute()).toEqual([]);
    });
  });
});
