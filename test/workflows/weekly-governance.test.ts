import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { WardenClient } from '../../src/client';
import { listAuditEvents } from '../../src/db/audit.repository';
import { emptyWeek, isoWeekOf, weekStart, weeklyGovernanceWorkflowId } from '../../src/domain/autonomy/week';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import {
  acknowledgeReviewUpdate,
  holdUpdate,
  nextWeekStartedSignal,
  noteUpdate,
  releaseHoldUpdate,
  weekStatusQuery,
} from '../../workflows/messages';
import { weeklyGovernance } from '../../workflows/weekly-governance';
import {
  createTestDatabase,
  createTimeSkippingEnv,
  TEST_SETTINGS,
  type TestDatabase,
  uniqueName,
  workflowBundle,
} from '../helpers';
import { serveCliApi } from '../support/processes';
import { testApprovalKeys } from '../support/approval-keys';
import type { GovernanceSettings } from '../../src/config/index';

const HOUR = 3_600_000;

// Issue 19: a whole week in seconds on the time-skipping server, with Warden's own activities on a real
// database. The week is next week's, so the run starts before its Monday and time only moves forward.
describe('weeklyGovernance: one long-lived workflow per ISO week', () => {
  let env: TestWorkflowEnvironment;
  let t: TestDatabase;

  // A server and a database per test: time only moves forward, and a query after a worker hand-over can hang.
  beforeEach(async () => {
    [env, t] = await Promise.all([createTimeSkippingEnv(), createTestDatabase()]);
  });
  afterEach(async () => {
    await t?.drop();
    await env?.teardown();
  });

  /** A worker of Warden's own workflows and activities on this test's server, database and queue. */
  const weekWorker = async (settings: GovernanceSettings = TEST_SETTINGS) => {
    const taskQueue = uniqueName('week');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: createActivities({
        db: t.db,
        governor: DEFAULT_GOVERNOR_SETTINGS,
        controlPlane: new WardenClient(env.client, taskQueue),
        settings,
      }),
    });
    return { taskQueue, worker };
  };

  it("runs only under its week's id: another id fails at once, naming workflowId, and writes nothing", async () => {
    const { taskQueue, worker } = await weekWorker();
    const week = isoWeekOf(new Date(await env.currentTimeMs()));
    await worker.runUntil(async () => {
      const run = env.client.workflow.execute(weeklyGovernance, {
        taskQueue,
        workflowId: uniqueName('not-the-week'),
        args: [{ week }],
      });
      await expect(run).rejects.toMatchObject({ cause: { message: expect.stringMatching(/^workflowId: /) } });
      // Under its own id, a forged hand-over (a Friday already "decided") is refused, naming the field.
      const forged = env.client.workflow.execute(weeklyGovernance, {
        taskQueue,
        workflowId: weeklyGovernanceWorkflowId(week),
        args: [{ week, state: { ...emptyWeek(week), friday: { decidedAt: 'then' } } as never }],
      });
      await expect(forged).rejects.toMatchObject({ cause: { message: expect.stringContaining('state.friday') } });
    });
    expect(await listAuditEvents(t.db, { subject: `week:${week}` })).toEqual([]);
  });

  it('the warden CLI reads and steers the week as its keys: a holder cannot release, another approver can', async () => {
    const { taskQueue, worker } = await weekWorker();
    const api = await serveCliApi({ db: t.db, client: env.client, taskQueue });
    try {
      const alice = api.cli(await api.key('alice', ['risk_officer']));
      const bob = api.cli(await api.key('bob', ['manager']));
      const week = isoWeekOf(new Date((await env.currentTimeMs()) + 7 * 24 * HOUR));
      await worker.runUntil(async () => {
        await env.client.workflow.start(weeklyGovernance, {
          taskQueue,
          workflowId: weeklyGovernanceWorkflowId(week),
          args: [{ week }],
        });
        const held = await alice([
          'week',
          'hold',
          '--week',
          week,
          '--scope',
          'promotions',
          '--reason',
          'drift',
          '--json',
        ]);
        expect(held, held.stderr).toMatchObject({ code: 0 });
        expect(JSON.parse(held.stdout)).toMatchObject({ holds: [{ actor: 'alice', scope: 'promotions' }] });
        const own = await alice(['week', 'release', '--week', week, '--reason', 'mine']);
        expect(own.code).not.toBe(0);
        expect(own.stderr).toContain('actor: alice placed the promotions hold');
        const bad = await alice(['week', 'hold', '--week', week, '--scope', 'nothing', '--reason', 'x']);
        expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('--scope') });
        expect(await bob(['week', 'release', '--week', week, '--reason', 'reviewed'])).toMatchObject({ code: 0 });
        const status = await bob(['week', '--week', week, '--json']);
        expect(JSON.parse(status.stdout)).toMatchObject({ week, holds: [], releases: [{ actor: 'bob' }] });
        // The same as REST: GET /week and POST /week/holds, as the key's identity; bad input names the field.
        const rest = (key: string, method: string, url: string, body?: unknown) =>
          fetch(`${api.url}${url}`, {
            method,
            headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
            ...(body ? { body: JSON.stringify(body) } : {}),
          });
        const bobKey = await api.key('bob-rest', ['manager']);
        const wrong = await rest(bobKey, 'POST', '/week/holds', { week, scope: 'nothing', reason: 'x' });
        expect(wrong.status).toBe(400);
        expect(await wrong.text()).toContain('scope');
        const hold = await rest(bobKey, 'POST', '/week/holds', { week, scope: 'expansion', reason: 'rest' });
        expect(hold.status).toBe(200);
        const got = await rest(bobKey, 'GET', `/week?week=${week}`);
        expect(await got.json()).toMatchObject({ week, holds: [{ actor: 'bob-rest', scope: 'expansion' }] });
        await env.client.workflow.getHandle(weeklyGovernanceWorkflowId(week)).terminate('test over');
      });
    } finally {
      await api.close();
    }
  });

  it("an unheld Friday opens the change request the week's Heimdall and tripwire numbers call for, applying nothing", async () => {
    const { taskQueue, worker } = await weekWorker();
    const week = isoWeekOf(new Date((await env.currentTimeMs()) + 7 * 24 * HOUR));
    const monday = weekStart(week).getTime();
    const dayOf = (days: number) => new Date(monday + days * 24 * HOUR).toISOString().slice(0, 10);
    // WHOLESALE_OFFER (92%, 75 trials, 82%, off): 100 sandbox trials at 90% success and 0.95 confidence.
    for (const d of [1, 2])
      await t.db
        .insertInto('heimdall_scorecard_day')
        .values({ domain: 'WHOLESALE_OFFER', day: dayOf(d), trials: 50, successes: 45, confidence_sum: 0.95 * 50 })
        .execute();
    // Every tripwire on; WHOLESALE/contract_rate (window 50 + baseline 200) gets its 250 events on Tuesday, no
    // trigger; the others too few: only it is reset, to the reviewed week's first day.
    const tuesday = new Date(monday + 24 * HOUR + HOUR);
    await t.db.updateTable('regression_policy').set({ enabled: true }).execute();
    await t.db
      .insertInto('kpi_event')
      .values(
        Array.from({ length: 250 }, (_, i) => ({
          domain: 'WHOLESALE',
          metric: 'contract_rate',
          success: i % 5 !== 0,
          value: null,
          at: new Date(tuesday.getTime() + i * 1000),
          source: 'test',
        })),
      )
      .execute();
    await t.db
      .insertInto('kpi_event')
      .values({ domain: 'CAPITAL', metric: 'roi_event', success: true, value: null, at: tuesday, source: 'test' })
      .execute();
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(weeklyGovernance, {
        taskQueue,
        workflowId: weeklyGovernanceWorkflowId(week),
        args: [{ week }],
      });
      await env.sleep(monday + (4 * 24 + 23.5) * HOUR - (await env.currentTimeMs()));
      const friday = (await handle.query(weekStatusQuery)).friday;
      expect(friday).toMatchObject({ held: [], changeRequestId: `friday-${dayOf(4)}` });
      const policy = await t.db
        .selectFrom('heimdall_policy')
        .select(['min_confidence_prod', 'prod_use_enabled'])
        .where('domain', '=', 'WHOLESALE_OFFER')
        .executeTakeFirstOrThrow();
      // Opened, never applied by the week: people approve it.
      expect(policy).toEqual({ min_confidence_prod: 0.92, prod_use_enabled: false });
      const since = `${dayOf(-2)}T00:00:00.000Z`;
      const request = await t.db
        .selectFrom('change_request')
        .select('changes')
        .where('id', '=', `friday-${dayOf(4)}`)
        .executeTakeFirstOrThrow();
      const kinds = request.changes.map((c) => `${c.kind}:${c.target}`);
      expect(kinds).toEqual(['heimdall_policy:WHOLESALE_OFFER', 'regression_policy:WHOLESALE/contract_rate']);
      expect(request.changes[1]).toMatchObject({ after: { baselineSince: since }, direction: 'loosen' });
      const tripwire = await t.db
        .selectFrom('regression_policy')
        .select('baseline_since')
        .where('metric', '=', 'contract_rate')
        .executeTakeFirstOrThrow();
      expect(tripwire.baseline_since).toBeNull();
      await handle.signal(nextWeekStartedSignal, { week: 'next' });
      await handle.result();
    });
  });

  it('with signed approvals a release proves its approver: no token, a stolen, misdirected or spent one changes nothing', async () => {
    const keys = testApprovalKeys();
    const { taskQueue, worker } = await weekWorker({ ...TEST_SETTINGS, ...keys.settings('test') });
    const week = isoWeekOf(new Date((await env.currentTimeMs()) + 7 * 24 * HOUR));
    const id = weeklyGovernanceWorkflowId(week);
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(weeklyGovernance, { taskQueue, workflowId: id, args: [{ week }] });
      await handle.executeUpdate(holdUpdate, { args: [{ actor: 'alice', reason: 'drift', scope: 'all' }] });
      const release = (extra: Record<string, unknown>) =>
        handle.executeUpdate(releaseHoldUpdate, {
          args: [{ actor: 'bob', reason: 'reviewed', role: 'risk_officer', ...extra }],
        });
      const refused = async (extra: Record<string, unknown>, message: RegExp) =>
        expect(release(extra)).rejects.toMatchObject({ cause: { message: expect.stringMatching(message) } });
      const token = (subject: string, audience = `${id}:releaseHold`) =>
        keys.issue(t.db, { subject, roles: ['risk_officer'], audience });
      await refused({}, /^token: /);
      // Someone else's token, one for another week, and a 1 MB or NUL-bearing one: refused, nothing lifted.
      await refused({ token: await token('carol') }, /^actor: bob is not the token's subject/);
      await refused({ token: await token('bob', 'weekly-governance-2020-W01:releaseHold') }, /^token: issued for/);
      await refused({ token: 'x'.repeat(1_000_000) }, /^token: /);
      await refused({ token: 'wtr_\u0000' }, /^token: /);
      expect((await handle.query(weekStatusQuery)).suppressed).toEqual(['expansion', 'promotions']);
      // Bob's own token releases once; spent, it lifts no later hold.
      const bobs = await token('bob');
      expect(await release({ token: bobs })).toMatchObject({ holds: [], releases: [{ actor: 'bob' }] });
      await handle.executeUpdate(holdUpdate, { args: [{ actor: 'alice', reason: 'again', scope: 'expansion' }] });
      await refused({ token: bobs }, /already used/);
      expect((await handle.query(weekStatusQuery)).suppressed).toEqual(['expansion']);
      await handle.terminate('test over');
    });
  });

  it('Monday review and its noon reminder, holds and a release by someone else, Friday held back; bad input changes nothing', async () => {
    const { taskQueue, worker } = await weekWorker();
    const week = isoWeekOf(new Date((await env.currentTimeMs()) + 7 * 24 * HOUR));
    const monday = weekStart(week).getTime();
    /** Moves the server's clock to `hours` after the week's Monday 00:00 UTC. */
    const at = async (hours: number) => {
      const left = monday + hours * HOUR - (await env.currentTimeMs());
      if (left > 0) await env.sleep(left);
    };
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(weeklyGovernance, {
        taskQueue,
        workflowId: weeklyGovernanceWorkflowId(week),
        args: [{ week }],
      });
      const status = () => handle.query(weekStatusQuery);
      expect(await status()).toMatchObject({ week, review: null, holds: [] });

      await at(1);
      expect((await status()).review).toMatchObject({ summary: { health: expect.any(String) } });
      await at(13);
      expect(await status()).toMatchObject({ acknowledged: null, reminded: true });
      const reminder = await t.db
        .selectFrom('notification')
        .select(['kind', 'summary'])
        .where('kind', '=', 'review_unacknowledged')
        .execute();
      expect(reminder).toEqual([{ kind: 'review_unacknowledged', summary: expect.stringContaining(week) }]);
      await handle.executeUpdate(acknowledgeReviewUpdate, { args: [{ actor: 'olga', note: 'read it late' }] });

      // Wednesday: a hold at once; its holder cannot release it, someone else can.
      await at(2 * 24 + 10);
      const held = await handle.executeUpdate(holdUpdate, {
        args: [{ actor: 'alice', reason: 'drift on WHOLESALE', scope: 'expansion' }],
      });
      expect(held.suppressed).toEqual(['expansion']);
      const own = handle.executeUpdate(releaseHoldUpdate, { args: [{ actor: 'Alice', reason: 'mine' }] });
      await expect(own).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
      await expect(own).rejects.toMatchObject({ cause: { message: expect.stringMatching(/^actor: Alice placed/) } });
      expect((await status()).suppressed).toEqual(['expansion']);
      // A release is an approval: an actor naming no approver role is refused, as is a role that approves nothing.
      const roleless = handle.executeUpdate(releaseHoldUpdate, { args: [{ actor: 'bob', reason: 'fixed' }] });
      await expect(roleless).rejects.toMatchObject({
        cause: { message: expect.stringMatching(/^role: name the role/) },
      });
      const engineer = handle.executeUpdate(releaseHoldUpdate, {
        args: [{ actor: 'bob', reason: 'fixed', role: 'engineer' as never }],
      });
      await expect(engineer).rejects.toMatchObject({
        cause: { message: expect.stringMatching(/^role: expected an approver/) },
      });
      const released = await handle.executeUpdate(releaseHoldUpdate, {
        args: [{ actor: 'bob', reason: 'fixed', role: 'risk_officer' }],
      });
      expect(released).toMatchObject({
        holds: [],
        suppressed: [],
        releases: [{ actor: 'bob', released: ['expansion'] }],
      });
      await handle.executeUpdate(holdUpdate, { args: [{ actor: 'carol', reason: 'incident review', scope: 'all' }] });

      // Bad input is refused by the validator, naming the field, before it reaches history.
      const bad = handle.executeUpdate(holdUpdate, {
        args: [{ actor: 'x', reason: 'r', scope: 'everything' } as never],
      });
      await expect(bad).rejects.toMatchObject({ cause: { message: expect.stringMatching(/^scope: /) } });
      const nul = handle.executeUpdate(noteUpdate, { args: [{ actor: 'x', text: 'a\u0000b' }] });
      await expect(nul).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
      expect(await status()).toMatchObject({ notes: [], suppressed: ['expansion', 'promotions'] });

      // Friday end of day: the cycle runs inside the week, held back from what the holds name.
      await at(4 * 24 + 23.5);
      const friday = (await status()).friday;
      expect(friday).toMatchObject({ held: ['expansion', 'promotions'], proposalId: null, changeRequestId: null });
      const report = await t.db
        .selectFrom('governance_report')
        .select('report')
        .where('id', '=', friday!.reportId)
        .executeTakeFirstOrThrow();
      expect(report.report).toMatchObject({ held: { suppressed: ['expansion', 'promotions'], week } });

      await handle.signal(nextWeekStartedSignal, { week: 'next' });
      expect(await handle.result()).toMatchObject({ week, friday: { held: ['expansion', 'promotions'] } });
      const history = await handle.fetchHistory();
      expect(history.events?.some((e) => e.workflowTaskFailedEventAttributes)).toBe(false);
      if (process.env.WARDEN_RECORD_HISTORIES === '1')
        writeFileSync(
          path.join(__dirname, '..', 'histories', 'weekly-governance-signed-release.json'),
          historyToJSON(history),
        );
    });
    const kinds = (await listAuditEvents(t.db, { subject: `week:${week}` })).map((e) => e.kind).reverse();
    expect(kinds).toEqual([
      'week.review_recorded',
      'week.review_unacknowledged',
      'week.review_acknowledged',
      'week.held',
      'week.refused',
      'week.refused',
      'week.released',
      'week.held',
      'week.friday_decided',
    ]);
  });
});
