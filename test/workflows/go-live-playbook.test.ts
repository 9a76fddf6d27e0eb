import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { WardenClient } from '../../src/client';
import { listAuditEvents, verifyAuditChain } from '../../src/db/audit.repository';
import { latestPlaybookCompletion, readPlaybook } from '../../src/db/go-live.repository';
import { PLAYBOOK, type PlaybookStepId, type StepResult } from '../../src/domain/go-live/playbook';
import { type GovernanceSettings, SAFE_GOVERNANCE_SETTINGS } from '../../src/config/index';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { utcDay } from '../../src/domain/risk/rules';
import { abandonPlaybookSignal, completePlaybookStepSignal, playbookProgressQuery } from '../../workflows/messages';
import { connectDevServer, createTestDatabase, type TestDatabase, uniqueName, workflowBundle } from '../helpers';
import { testApprovalKeys } from '../support/approval-keys';

const GLOBAL_CAP = 1500; // the seeded GLOBAL daily exposure cap

// The playbook has no long timers: the shared dev server runs it.
describe('goLivePlaybook workflow', () => {
  let env: TestWorkflowEnvironment;
  let t: TestDatabase;
  let taskQueue: string;
  let warden: WardenClient;

  beforeAll(async () => {
    env = await connectDevServer();
  });
  afterAll(async () => {
    await env?.teardown();
  });
  beforeEach(async (ctx) => {
    t = await createTestDatabase();
    taskQueue = uniqueName(ctx.task.name.slice(0, 40).replaceAll(' ', '-'));
    warden = new WardenClient(env.client, taskQueue);
  });
  afterEach(async () => {
    await t.drop();
  });

  const worker = (settings: GovernanceSettings = SAFE_GOVERNANCE_SETTINGS) =>
    Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: createActivities({ db: t.db, governor: DEFAULT_GOVERNOR_SETTINGS, controlPlane: warden, settings }),
    });
  const start = async () => {
    const playbookId = uniqueName('go-live-playbook');
    const handle = await warden.startGoLivePlaybook({ startedBy: 'olga' }, playbookId);
    return { playbookId, handle };
  };
  const step = (
    playbookId: string,
    id: PlaybookStepId,
    extra: { actor?: string; role?: string; token?: string } = {},
  ): Promise<StepResult> =>
    warden.completePlaybookStep(
      { step: id, actor: extra.actor ?? 'olga', evidence: `checked ${id}`, ...extra },
      playbookId,
    );
  const accepted = async (playbookId: string, ids: readonly PlaybookStepId[]) => {
    for (const id of ids)
      expect(await step(playbookId, id, id === 'sign_off' ? { actor: 'mona', role: 'manager' } : {})).toMatchObject({
        status: 'accepted',
        step: id,
      });
  };
  /** Today's GLOBAL committed exposure as a fraction of the cap: 0 → band A, 0.6 → C, 0.9 → D. */
  const useCapital = async (fraction: number) => {
    const exposure = fraction * GLOBAL_CAP;
    await t.db
      .insertInto('risk_ledger_stripe')
      .values({ engine: 'GLOBAL', day: utcDay(new Date()), stripe: 0, exposure_used: exposure })
      .onConflict((oc) => oc.columns(['engine', 'day', 'stripe']).doUpdateSet({ exposure_used: exposure }))
      .execute();
  };
  const updateRejection = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (error as WorkflowUpdateFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('PlaybookMessageRejected');
    return cause!.message;
  };
  const ids = PLAYBOOK.map((s) => s.id);

  it('takes the nine steps in order, by update or signal, and after the ninth marks the playbook completed', async () => {
    const w = await worker();
    const { playbookId, handle } = await w.runUntil(async () => {
      const started = await start();
      expect(await latestPlaybookCompletion(t.db)).toBeNull();
      await accepted(started.playbookId, ids.slice(0, 4));
      // The Web UI's Send a Signal takes the same payload.
      await started.handle.signal(completePlaybookStepSignal, {
        step: 'kill_switch_drill',
        actor: 'olga',
        evidence: 'engaged and released, audit 41-42',
      });
      await expect
        .poll(async () => (await started.handle.query(playbookProgressQuery)).nextStep, { timeout: 15_000 })
        .toBe('alerts_routed');
      await accepted(started.playbookId, ids.slice(5, 8));
      expect(await latestPlaybookCompletion(t.db)).toBeNull();
      const last = await step(started.playbookId, 'sign_off', { actor: 'mona', role: 'manager' });
      expect(last).toMatchObject({ status: 'accepted', progress: { status: 'completed', nextStep: null } });
      expect(await started.handle.result()).toMatchObject({
        status: 'completed',
        done: ids.map((id) => ({ step: id, band: 'A', health: 'GREEN' })),
      });
      return started;
    });
    expect(await latestPlaybookCompletion(t.db)).toBeInstanceOf(Date);
    const row = await readPlaybook(t.db, playbookId);
    expect(row).toMatchObject({
      status: 'completed',
      startedBy: 'olga',
      environment: 'dev',
      completedAt: expect.any(String),
    });
    expect(row!.steps.map((s) => s.step)).toEqual(ids);
    expect(row!.steps[8]).toMatchObject({ actor: 'mona', role: 'manager', evidence: 'checked sign_off' });
    const kinds = (await listAuditEvents(t.db)).map((e) => e.kind).reverse();
    expect(kinds).toEqual([
      'go_live.playbook_started',
      ...ids.map(() => 'go_live.step_completed'),
      'go_live.playbook_completed',
    ]);
    expect(await verifyAuditChain(t.db)).toMatchObject({ ok: true, events: 11 });
    if (process.env.WARDEN_RECORD_HISTORIES === '1') {
      writeFileSync(
        path.join(__dirname, '..', 'histories', 'go-live-playbook-completed.json'),
        historyToJSON(await handle.fetchHistory()),
      );
    }
  });

  it('hands over to a new run after its message budget: steps and refusals carry on, nothing recorded twice', async () => {
    const w = await worker();
    const playbookId = uniqueName('go-live-playbook');
    const history = await w.runUntil(async () => {
      const handle = await warden.startGoLivePlaybook({ startedBy: 'olga', messagesPerRun: 10 }, playbookId);
      await accepted(playbookId, ids.slice(0, 3));
      // A flood of refused signals: one run used to keep them all, until the server's history limit ended it.
      for (let i = 0; i < 12; i += 1)
        await handle.signal(completePlaybookStepSignal, { step: 'sign_off', actor: `spam-${i}`, evidence: 'x' });
      await expect
        .poll(async () => (await handle.describe()).runId, { timeout: 15_000 })
        .not.toBe(handle.firstExecutionRunId);
      await accepted(playbookId, ids.slice(3, 8));
      await accepted(playbookId, ['sign_off']);
      const progress = await handle.result();
      expect(progress).toMatchObject({ status: 'completed', startedBy: 'olga', nextStep: null });
      expect(progress.done.map((d) => d.step)).toEqual(ids);
      expect(progress.refusals.map((r) => r.actor)).toEqual(Array.from({ length: 12 }, (_, i) => `spam-${i}`));
      const first = env.client.workflow.getHandle(playbookId, handle.firstExecutionRunId);
      expect((await first.describe()).status.name).toBe('CONTINUED_AS_NEW');
      return { first: await first.fetchHistory(), last: await handle.fetchHistory() };
    });
    // One playbook in the database and the audit: started once, each step once, refusals each once.
    expect((await readPlaybook(t.db, playbookId))!.steps.map((s) => s.step)).toEqual(ids);
    const kinds = (await listAuditEvents(t.db)).map((e) => e.kind);
    expect(kinds.filter((k) => k === 'go_live.playbook_started')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'go_live.step_completed')).toHaveLength(9);
    expect(kinds.filter((k) => k === 'go_live.step_refused')).toHaveLength(12);
    expect(await verifyAuditChain(t.db)).toMatchObject({ ok: true });
    if (process.env.WARDEN_RECORD_HISTORIES === '1')
      for (const [name, h] of [
        ['rolled-over', history.first],
        ['continued', history.last],
      ] as const)
        writeFileSync(path.join(__dirname, '..', 'histories', `go-live-playbook-${name}.json`), historyToJSON(h));
  });

  it('a cron run is not a continued run: what the producer makes it carry is refused there too', async () => {
    const w = await worker();
    const forged = { status: 'completed', done: [], refusals: [], nextStep: null, startedBy: 'olga' };
    const statuses = await w.runUntil(async () => {
      // Every run of a cron chain after the first is started "continued", with the first run's input.
      const handle = await env.client.workflow.start('goLivePlaybook', {
        taskQueue,
        workflowId: uniqueName('go-live-playbook'),
        cronSchedule: '@every 1s',
        args: [{ startedBy: 'olga', carried: { progress: forged } }],
      });
      const seen: string[] = [];
      await expect
        .poll(
          async () => {
            seen.length = 0;
            for await (const run of env.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` }))
              seen.push(run.status.name);
            return seen.length;
          },
          { timeout: 15_000 },
        )
        .toBeGreaterThanOrEqual(3);
      await handle.terminate('test over');
      return seen;
    });
    // Each run refused the field; none completed on the forged progress.
    expect(statuses.filter((s) => s === 'COMPLETED')).toEqual([]);
    expect(await latestPlaybookCompletion(t.db)).toBeNull();
  });

  it('a raw start that names what only a continued run carries is refused at that field', async () => {
    const w = await worker();
    await w.runUntil(async () => {
      const handle = await env.client.workflow.start('goLivePlaybook', {
        taskQueue,
        workflowId: uniqueName('go-live-playbook'),
        args: [{ startedBy: 'olga', carried: { progress: { status: 'completed', done: [] } } }],
      });
      await expect(handle.result()).rejects.toMatchObject({ cause: { message: expect.stringMatching(/carried/) } });
    });
    expect(await latestPlaybookCompletion(t.db)).toBeNull();
  });

  it('refuses an unknown or out-of-order step, or one without evidence, naming the field, and changes nothing', async () => {
    const w = await worker();
    await w.runUntil(async () => {
      const { playbookId, handle } = await start();
      expect(await updateRejection(step(playbookId, 'kill_switch_drill'))).toBe(
        "step: 'kill_switch_drill' is out of order; the next step is 'preflight'",
      );
      // Raw sends, as from `temporal workflow update execute`, skip the client's own check.
      const raw = env.client.workflow.getHandle(playbookId);
      expect(
        await updateRejection(
          raw.executeUpdate('completePlaybookStep', { args: [{ step: 'launch', actor: 'olga', evidence: 'x' }] }),
        ),
      ).toMatch(/^step: expected one of preflight, /);
      expect(
        await updateRejection(
          raw.executeUpdate('completePlaybookStep', { args: [{ step: 'preflight', actor: 'olga', evidence: '  ' }] }),
        ),
      ).toBe('evidence: must describe the evidence');
      // A key with an unpaired surrogate, named escaped: raw in the rejection, it shut the worker down
      // (the SDK could not encode the completion), and the steps below would never be taken.
      expect(
        await updateRejection(
          raw.executeUpdate('completePlaybookStep', {
            args: [{ step: 'preflight', actor: 'olga', evidence: 'x', '\ud800x': 1 }],
          }),
        ),
      ).toBe('\\ud800x: unknown field');
      await accepted(playbookId, ['preflight']);
      expect(await updateRejection(step(playbookId, 'preflight'))).toBe(
        "step: 'preflight' is already done; the next step is 'risk_policies_reviewed'",
      );
      // A bad signal is audited and dropped; the workflow carries on.
      await raw.signal('completePlaybookStep', { step: 'alerts_routed', actor: 'ivan', evidence: 'too early' });
      await raw.signal('completePlaybookStep', { stp: 'risk_policies_reviewed', actor: 'ivan' });
      await expect
        .poll(async () => (await handle.query(playbookProgressQuery)).refusals.length, { timeout: 15_000 })
        .toBe(2);
      const progress = await handle.query(playbookProgressQuery);
      expect(progress).toMatchObject({
        status: 'in_progress',
        nextStep: 'risk_policies_reviewed',
        done: [{ step: 'preflight' }],
      });
      expect(progress.refusals).toMatchObject([
        { step: 'alerts_routed', actor: 'ivan', reason: 'out_of_order' },
        { step: 'unknown', actor: 'ivan', reason: 'invalid_payload' },
      ]);
      const events = (await handle.fetchHistory()).events ?? [];
      expect(events.filter((e) => e.workflowTaskFailedEventAttributes != null)).toEqual([]);
    });
    const [invalid] = await listAuditEvents(t.db, { kind: 'go_live.message_rejected' });
    expect(String(invalid!.details.detail)).toMatch(/step: .*stp: unknown field/);
    const [outOfOrder] = await listAuditEvents(t.db, { kind: 'go_live.step_refused' });
    expect(outOfOrder).toMatchObject({ actor: 'ivan', details: { step: 'alerts_routed', reason: 'out_of_order' } });
    expect((await listAuditEvents(t.db, { kind: 'go_live.step_completed' })).length).toBe(1);
  });

  it('the sign-off must come from someone who did none of the other steps: refused with the reason, audited', async () => {
    const w = await worker();
    await w.runUntil(async () => {
      const { playbookId, handle } = await start();
      await accepted(playbookId, ids.slice(0, 2));
      expect(await step(playbookId, 'prod_gates_reviewed', { actor: 'pete' })).toMatchObject({ status: 'accepted' });
      await accepted(playbookId, ids.slice(3, 8));
      // olga did seven steps, pete one: neither vouches for them, whatever the spelling or the role.
      for (const actor of ['olga', 'Pete'])
        expect(await step(playbookId, 'sign_off', { actor, role: 'manager' })).toMatchObject({
          status: 'refused',
          reason: 'separation_of_duties',
          progress: { status: 'in_progress', nextStep: 'sign_off' },
        });
      // By signal, as from the Temporal CLI or UI: refused the same way.
      await handle.signal(completePlaybookStepSignal, {
        step: 'sign_off',
        actor: 'olga',
        role: 'owner',
        evidence: 'CHG-1',
      });
      await expect
        .poll(async () => (await handle.query(playbookProgressQuery)).refusals.length, { timeout: 15_000 })
        .toBe(3);
      expect(await step(playbookId, 'sign_off', { actor: 'mona', role: 'manager' })).toMatchObject({
        status: 'accepted',
        progress: { status: 'completed' },
      });
    });
    const refused = (await listAuditEvents(t.db, { kind: 'go_live.step_refused' })).reverse();
    expect(refused.map((e) => [e.actor, e.details.reason, e.details.detail])).toEqual([
      [
        'olga',
        'separation_of_duties',
        expect.stringMatching(/^actor: olga did preflight; approval must come from someone else/),
      ],
      ['Pete', 'separation_of_duties', expect.stringMatching(/^actor: Pete did prod_gates_reviewed;/)],
      ['olga', 'separation_of_duties', expect.stringMatching(/^actor: olga did preflight;/)],
    ]);
    expect(await latestPlaybookCompletion(t.db)).toBeInstanceOf(Date);
  });

  it('while health is RED only preflight proceeds', async () => {
    const w = await worker();
    await w.runUntil(async () => {
      const { playbookId, handle } = await start();
      const incident = await t.db
        .insertInto('incident')
        .values({
          command_id: null,
          severity: 'critical',
          autonomous: true,
          description: 'controller overheated',
          at: new Date(),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      expect(await step(playbookId, 'preflight')).toMatchObject({
        status: 'accepted',
        progress: { done: [{ step: 'preflight', health: 'RED' }] },
      });
      const refused = await step(playbookId, 'risk_policies_reviewed');
      expect(refused).toMatchObject({
        status: 'refused',
        reason: 'health_red',
        progress: { nextStep: 'risk_policies_reviewed' },
      });
      expect(refused.status === 'refused' && refused.detail).toMatch(
        /health is RED \(critical_incident: .*\): only preflight may proceed/,
      );
      await t.db.deleteFrom('incident').where('id', '=', incident.id).execute();
      expect(await step(playbookId, 'risk_policies_reviewed')).toMatchObject({
        status: 'accepted',
        progress: { done: [{}, { health: 'GREEN' }] },
      });
      // Abandoned by signal, as from the Web UI.
      await handle.signal(abandonPlaybookSignal, { actor: 'olga', reason: 'incident review first' });
      expect(await handle.result()).toMatchObject({
        status: 'abandoned',
        done: [{ step: 'preflight' }, { step: 'risk_policies_reviewed' }],
      });
      if (process.env.WARDEN_RECORD_HISTORIES === '1') {
        writeFileSync(
          path.join(__dirname, '..', 'histories', 'go-live-playbook-refused-abandoned.json'),
          historyToJSON(await handle.fetchHistory()),
        );
      }
    });
    expect(await listAuditEvents(t.db, { kind: 'go_live.step_refused' })).toMatchObject([
      { actor: 'olga', details: { step: 'risk_policies_reviewed', reason: 'health_red' } },
    ]);
    expect(await latestPlaybookCompletion(t.db)).toBeNull();
  });

  it('holds each step to the worst capital band it tolerates: D for the first three, C up to the dry run, A/B after', async () => {
    const w = await worker();
    await w.runUntil(async () => {
      const { playbookId } = await start();
      await useCapital(0.9);
      await accepted(playbookId, ids.slice(0, 3));
      expect(await step(playbookId, 'watchdogs_running')).toMatchObject({
        status: 'refused',
        reason: 'band_exceeded',
        detail: 'capital band D is past C, the worst watchdogs_running tolerates',
      });
      await useCapital(0.6);
      await accepted(playbookId, ids.slice(3, 7));
      expect(await step(playbookId, 'capital_band_confirmed')).toMatchObject({
        status: 'refused',
        reason: 'band_exceeded',
        detail: 'capital band C is past B, the worst capital_band_confirmed tolerates',
      });
      await useCapital(0.9);
      expect(await step(playbookId, 'capital_band_confirmed')).toMatchObject({
        status: 'refused',
        reason: 'band_exceeded',
        detail: 'capital band D is past B, the worst capital_band_confirmed tolerates',
      });
      await useCapital(0.3);
      await accepted(playbookId, ids.slice(7));
      const progress = await warden.playbookProgress(playbookId);
      expect(progress.done.map((d) => d.band)).toEqual(['D', 'D', 'D', 'C', 'C', 'C', 'C', 'B', 'B']);
      expect(progress.refusals.map((r) => r.step)).toEqual([
        'watchdogs_running',
        'capital_band_confirmed',
        'capital_band_confirmed',
      ]);
    });
    expect(await latestPlaybookCompletion(t.db)).toBeInstanceOf(Date);
    expect((await listAuditEvents(t.db, { kind: 'go_live.step_refused' })).length).toBe(3);
  });

  it('abandoned by update, it ends incomplete and go-live stays locked', async () => {
    const w = await worker();
    await w.runUntil(async () => {
      const { playbookId, handle } = await start();
      await accepted(playbookId, ['preflight']);
      // The client checks the payload before sending; the workflow's validator checks raw sends.
      await expect(warden.abandonPlaybook({ actor: 'olga', reason: ' ' }, playbookId)).rejects.toThrow(
        /reason: must say why/,
      );
      expect(
        await updateRejection(
          env.client.workflow.getHandle(playbookId).executeUpdate('abandonPlaybook', { args: [{ actor: 'olga' }] }),
        ),
      ).toMatch(/^reason: /);
      expect(await warden.abandonPlaybook({ actor: 'olga', reason: 'launch moved to Q3' }, playbookId)).toMatchObject({
        status: 'abandoned',
        abandoned: { actor: 'olga', reason: 'launch moved to Q3' },
      });
      expect(await handle.result()).toMatchObject({ status: 'abandoned', done: [{ step: 'preflight' }] });
    });
    expect(await latestPlaybookCompletion(t.db)).toBeNull();
    expect((await listAuditEvents(t.db, { kind: 'go_live.playbook_abandoned' }))[0]).toMatchObject({
      actor: 'olga',
      details: { reason: 'launch moved to Q3' },
    });
  });

  it('with signed approvals on, every step needs a token for it, and the sign-off one for an approver role, used once', async () => {
    const keys = testApprovalKeys();
    const w = await worker({ ...SAFE_GOVERNANCE_SETTINGS, approvals: keys.settings('dev').approvals });
    const token = (playbookId: string, id: PlaybookStepId, roles: ('manager' | 'operator')[], subject = 'mona') =>
      keys.issue(t.db, { subject, roles, audience: `${playbookId}:${id}`, environment: 'dev' });
    const signedSteps = async (playbookId: string) => {
      for (const id of ids.slice(0, 8))
        expect(await step(playbookId, id, { token: await token(playbookId, id, ['operator'], 'olga') })).toMatchObject({
          status: 'accepted',
          step: id,
        });
    };
    await w.runUntil(async () => {
      const first = await start();
      expect(await step(first.playbookId, 'preflight')).toMatchObject({
        status: 'refused',
        reason: 'approver_required',
        detail: expect.stringMatching(/^token: signed approvals are on in this environment/),
      });
      await signedSteps(first.playbookId);
      expect(await updateRejection(step(first.playbookId, 'sign_off', { actor: 'mona', role: 'operator' }))).toMatch(
        /^role: sign_off must be done in an approver role/,
      );
      expect(await step(first.playbookId, 'sign_off', { actor: 'mona', role: 'manager' })).toMatchObject({
        status: 'refused',
        reason: 'approver_required',
        detail: expect.stringMatching(/^token: signed approvals are on in this environment/),
      });
      const signOff = (roles: ('manager' | 'operator')[], subject?: string) =>
        token(first.playbookId, 'sign_off', roles, subject);
      expect(
        await step(first.playbookId, 'sign_off', {
          actor: 'mona',
          role: 'manager',
          token: await signOff(['operator']),
        }),
      ).toMatchObject({ status: 'refused', detail: 'role: the token does not grant manager' });
      expect(
        await step(first.playbookId, 'sign_off', {
          actor: 'mona',
          role: 'manager',
          token: await signOff(['manager'], 'nils'),
        }),
      ).toMatchObject({ status: 'refused', detail: "actor: mona is not the token's subject (nils)" });
      const good = await signOff(['manager']);
      expect(await step(first.playbookId, 'sign_off', { actor: 'mona', role: 'manager', token: good })).toMatchObject({
        status: 'accepted',
        progress: { status: 'completed' },
      });

      // The sign-off's token signed off that playbook: on another it counts for nothing.
      const second = await start();
      await signedSteps(second.playbookId);
      expect(await step(second.playbookId, 'sign_off', { actor: 'mona', role: 'manager', token: good })).toMatchObject({
        status: 'refused',
        detail: `token: issued for ${first.playbookId}:sign_off, not ${second.playbookId}:sign_off`,
      });
    });
    expect(
      await t.db
        .selectFrom('approval_token_use')
        .select(['subject', 'used_for'])
        .where('subject', '=', 'mona')
        .execute(),
    ).toEqual([{ subject: 'mona', used_for: expect.stringMatching(/:sign_off$/) }]);
    // Refused tokens stay unspent: the audit log must not hand them (or their references) to its readers.
    const refusals = await listAuditEvents(t.db, { kind: 'go_live.step_refused' });
    expect(refusals.length).toBe(5);
    expect(JSON.stringify(refusals)).not.toMatch(/wtr_|eyJ/);
  });
});
