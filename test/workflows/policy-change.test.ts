import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { WardenClient } from '../../src/client';
import { ChangeRequestRefusedError } from '../../src/client/change-requests';
import { listAuditEvents } from '../../src/db/audit.repository';
import { readChangeRequest } from '../../src/db/change-requests.repository';
import { listRiskPolicies, upsertRiskPolicy } from '../../src/db/risk.repository';
import type { ChangeRequestView, ProposedChange } from '../../src/domain/change-requests/request';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { ErrorType } from '../../src/domain/shared/errors';
import { approveChangeSignal } from '../../workflows/messages';
import { policyChangeWorkflowId } from '../../workflows/names';
import {
  createTestDatabase,
  createTimeSkippingEnv,
  TEST_SETTINGS,
  type TestDatabase,
  uniqueName,
  workflowBundle,
} from '../helpers';

const HOUR = 3_600_000;
const RISK = { maxDailyLoss: 500, maxDailyExposure: 10_000, maxOpenRisk: 2_000, maxActionsPerDay: 50, enabled: true };
const alice = { name: 'alice', roles: ['risk_officer' as const] };
const cap = (maxDailyLoss: number): ProposedChange => ({
  kind: 'risk_policy',
  target: 'WHOLESALE',
  after: { ...RISK, maxDailyLoss },
});

describe('policyChange workflow (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  let t: TestDatabase;
  let taskQueue: string;
  let warden: WardenClient;

  // One database for the file; a time-skipping server of its own per test: a test that ends while a
  // request still has an activity queued would leave the next one's skipped time locked.
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t?.drop();
  });
  beforeEach(async () => {
    env = await createTimeSkippingEnv();
    taskQueue = uniqueName('policy-change');
    warden = new WardenClient(env.client, taskQueue);
    await upsertRiskPolicy(t.db, { engine: 'WHOLESALE', ...RISK }, 'setup');
  });

  afterEach(async () => {
    await env.teardown();
  });

  const run = async <T>(body: () => Promise<T>): Promise<T> => {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: createActivities({
        db: t.db,
        governor: DEFAULT_GOVERNOR_SETTINGS,
        controlPlane: warden,
        settings: TEST_SETTINGS,
      }),
    });
    return worker.runUntil(body);
  };
  const maxDailyLoss = async () => (await listRiskPolicies(t.db)).find((p) => p.engine === 'WHOLESALE')!.maxDailyLoss;
  const submit = (changes: ProposedChange[], extra: { applyAt?: string; expiresInHours?: number } = {}) =>
    warden.submitPolicyChanges({
      id: uniqueName('cr').slice(0, 40),
      requestedBy: alice,
      changes,
      reason: 'review',
      ...extra,
    });
  const approve = (view: ChangeRequestView, actor: string, role: 'risk_officer' | 'manager' | 'owner') =>
    warden.approveChangeRequest(view.id, { actor, role });
  const refusedWith = async (call: Promise<unknown>, type: string, message: RegExp) => {
    const error = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (error as WorkflowUpdateFailedError).cause as { type?: string; message?: string };
    expect(cause.type).toBe(type);
    expect(cause.message).toMatch(message);
  };
  /** With WARDEN_RECORD_HISTORIES=1, saves the run's history for the replay test once it has ended. */
  const record = async (id: string, file: string) => {
    const handle = env.client.workflow.getHandle(policyChangeWorkflowId(id));
    await handle.result();
    if (process.env.WARDEN_RECORD_HISTORIES === '1')
      writeFileSync(path.join(__dirname, '..', 'histories', file), historyToJSON(await handle.fetchHistory()));
  };
  const kinds = async (id: string) =>
    (await listAuditEvents(t.db, { subject: `change-request:${id}` })).map((e) => e.kind).sort();

  it('a change that only tightens applies at once, with its audit', async () => {
    await run(async () => {
      const view = await submit([cap(300)]);
      expect(view.status).toBe('applied');
      expect(view.required).toEqual([]);
      expect(view.changes).toMatchObject([
        { kind: 'risk_policy', before: { maxDailyLoss: 500 }, after: { maxDailyLoss: 300 }, direction: 'tighten' },
      ]);
      expect(await maxDailyLoss()).toBe(300);
      expect((await readChangeRequest(t.db, view.id))?.status).toBe('applied');
      expect(await kinds(view.id)).toEqual(['change_request.applied', 'change_request.opened']);
      const policySet = await listAuditEvents(t.db, { kind: 'risk.policy_set' });
      expect(policySet[0]?.details).toMatchObject({ changeRequestId: view.id });
    });
  });

  it('a change that loosens applies only once both required approvals are in', async () => {
    await run(async () => {
      const view = await submit([cap(900)]);
      expect(view).toMatchObject({
        status: 'pending',
        required: [{ roles: ['risk_officer'] }, { roles: ['manager'] }],
      });
      expect(view.changes[0]).toMatchObject({
        direction: 'loosen',
        why: ['maxDailyLoss 500 → 900: raises the cap (loosens)'],
      });
      expect(await maxDailyLoss()).toBe(500);

      const once = await approve(view, 'bob', 'risk_officer');
      expect(once).toMatchObject({ status: 'pending', missing: [{ roles: ['manager'] }] });
      expect(await maxDailyLoss()).toBe(500);

      await approve(view, 'mia', 'manager');
      await expect
        .poll(async () => (await warden.changeRequestStatus(view.id)).status, { timeout: 10_000 })
        .toBe('applied');
      expect(await maxDailyLoss()).toBe(900);
      expect(await kinds(view.id)).toEqual([
        'change_request.applied',
        'change_request.approval_counted',
        'change_request.approval_counted',
        'change_request.approved',
        'change_request.opened',
      ]);
    });
  });

  it('refuses self-approval and a role the request does not need; counts a duplicate once', async () => {
    await run(async () => {
      const view = await submit([cap(1_000)]);
      await refusedWith(
        approve(view, 'alice', 'manager'),
        ErrorType.ApprovalRefused,
        /^actor: alice requested this change/,
      );
      await refusedWith(
        warden.approveChangeRequest(view.id, { actor: 'ed', role: 'engineer' }),
        ErrorType.ApprovalRefused,
        /^role: engineer is not among/,
      );
      await approve(view, 'bob', 'risk_officer');
      await approve(view, 'bob', 'risk_officer');
      const handle = env.client.workflow.getHandle(policyChangeWorkflowId(view.id));
      await handle.signal(approveChangeSignal, { actor: 'bob', role: 'risk_officer' });
      // A self-approval by signal is refused too, and audited.
      await handle.signal(approveChangeSignal, { actor: 'alice', role: 'manager' });
      await expect
        .poll(async () => (await warden.changeRequestStatus(view.id)).rejectedMessages, { timeout: 10_000 })
        .toBe(1);
      const status = await warden.changeRequestStatus(view.id);
      expect(status.approvals.map((a) => a.actor)).toEqual(['bob']);
      expect(status.status).toBe('pending');
      expect((await kinds(view.id)).filter((k) => k === 'change_request.approval_counted')).toHaveLength(1);
      expect((await readChangeRequest(t.db, view.id))?.approvals).toHaveLength(1);
      expect(await maxDailyLoss()).toBe(500);
    });
  });

  it('an edit revokes the approvals given so far', async () => {
    await run(async () => {
      const view = await submit([cap(800)]);
      await approve(view, 'bob', 'risk_officer');
      await refusedWith(
        warden.editChangeRequest(view.id, { actor: 'bob', changes: [cap(700)] }),
        ErrorType.ChangeRequestRefused,
        /only alice/,
      );
      const edited = await warden.editChangeRequest(view.id, { actor: 'alice', changes: [cap(700)] });
      expect(edited).toMatchObject({
        status: 'pending',
        revision: 2,
        approvals: [],
        changes: [{ after: { maxDailyLoss: 700 } }],
      });
      expect((await readChangeRequest(t.db, view.id))?.approvals).toEqual([]);
      const edits = await listAuditEvents(t.db, { kind: 'change_request.edited' });
      expect(edits[0]?.details).toMatchObject({ revision: 2, revoked: [{ actor: 'bob' }] });
      // Bob's approval was for the old revision: he approves again, and both are needed.
      await approve(view, 'bob', 'risk_officer');
      await approve(view, 'mia', 'manager');
      await expect
        .poll(async () => (await warden.changeRequestStatus(view.id)).status, { timeout: 10_000 })
        .toBe('applied');
      expect(await maxDailyLoss()).toBe(700);
      await record(view.id, 'policy-change-edited-applied.json');
      // Since warden-search-attributes: the request's stage and missing roles upserted as it moves.
      await record(view.id, 'policy-change-visible-applied.json');
    });
  });

  it('expires when the approvals do not come in time', async () => {
    await run(async () => {
      const view = await submit([cap(2_000)], { expiresInHours: 2 });
      await approve(view, 'bob', 'risk_officer');
      await env.sleep(3 * HOUR);
      await expect
        .poll(async () => (await warden.changeRequestStatus(view.id)).status, { timeout: 10_000 })
        .toBe('expired');
      // The request has ended: its workflow answers the expired view, and takes no approval any more.
      const ended = await env.client.workflow.getHandle(policyChangeWorkflowId(view.id)).result();
      expect(ended).toMatchObject({ status: 'expired', approvals: [{ actor: 'bob' }] });
      await expect(approve(view, 'mia', 'manager')).rejects.toThrow();
      await record(view.id, 'policy-change-expired.json');
      expect((await readChangeRequest(t.db, view.id))?.status).toBe('expired');
      expect(await maxDailyLoss()).toBe(500);
    });
  });

  it('an approved request applies at its apply time, not before', async () => {
    await run(async () => {
      const applyAt = new Date((await env.currentTimeMs()) + 5 * HOUR).toISOString();
      const view = await submit([cap(600)], { applyAt });
      await approve(view, 'bob', 'risk_officer');
      const approved = await approve(view, 'mia', 'manager');
      expect(approved.status).toBe('approved');
      await env.sleep(HOUR);
      expect(await maxDailyLoss()).toBe(500);
      expect((await warden.changeRequestStatus(view.id)).status).toBe('approved');
      await env.sleep(5 * HOUR);
      await expect
        .poll(async () => (await warden.changeRequestStatus(view.id)).status, { timeout: 10_000 })
        .toBe('applied');
      expect(await maxDailyLoss()).toBe(600);
    });
  });

  it('an approved request goes stale, applying nothing, when the state moved on', async () => {
    await run(async () => {
      const applyAt = new Date((await env.currentTimeMs()) + 2 * HOUR).toISOString();
      const view = await submit([cap(650)], { applyAt });
      await approve(view, 'bob', 'risk_officer');
      await approve(view, 'mia', 'manager');
      await upsertRiskPolicy(t.db, { engine: 'WHOLESALE', ...RISK, maxOpenRisk: 1_000 }, 'someone');
      await env.sleep(3 * HOUR);
      await expect
        .poll(async () => (await warden.changeRequestStatus(view.id)).status, { timeout: 10_000 })
        .toBe('stale');
      expect(await maxDailyLoss()).toBe(500);
    });
  });

  it('the requester cancels; a request that changes nothing is refused and recorded nowhere', async () => {
    await run(async () => {
      const view = await submit([cap(950)]);
      await refusedWith(
        warden.cancelChangeRequest(view.id, { actor: 'bob', reason: 'no' }),
        ErrorType.ChangeRequestRefused,
        /only alice/,
      );
      expect((await warden.cancelChangeRequest(view.id, { actor: 'alice', reason: 'changed my mind' })).status).toBe(
        'cancelled',
      );
      expect((await readChangeRequest(t.db, view.id))?.status).toBe('cancelled');

      const id = uniqueName('cr').slice(0, 40);
      const refused = await warden
        .submitPolicyChanges({ id, requestedBy: alice, changes: [cap(500)], reason: 'noop' })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ChangeRequestRefusedError);
      expect((refused as ChangeRequestRefusedError).problem).toMatch(/^changes: nothing to change/);
      expect(await readChangeRequest(t.db, id)).toBeUndefined();
    });
  });
  it('hostile input changes nothing: a NUL or a 1 MB field is refused, audited bounded, and the request goes on', async () => {
    await run(async () => {
      const view = await submit([cap(1_100)]);
      const handle = env.client.workflow.getHandle(policyChangeWorkflowId(view.id));
      await handle.signal(approveChangeSignal, { actor: 'bo\u0000b', role: 'risk_officer' });
      await handle.signal(approveChangeSignal, { actor: 'bob', role: 'risk_officer', comment: 'x'.repeat(1_000_000) });
      await handle.signal(approveChangeSignal, { actor: 'bob', role: 'risk_officer', bogus: true } as never);
      await expect
        .poll(async () => (await warden.changeRequestStatus(view.id)).rejectedMessages, { timeout: 10_000 })
        .toBe(3);
      expect((await warden.changeRequestStatus(view.id)).approvals).toEqual([]);
      const refused = await listAuditEvents(t.db, { kind: 'change_request.message_rejected' });
      const mine = refused.filter((e) => e.subject === `change-request:${view.id}`);
      expect(mine).toHaveLength(3);
      for (const e of mine) expect(JSON.stringify(e.details).length).toBeLessThan(20_000);
      // The request still takes a valid approval, and nothing was applied meanwhile.
      await approve(view, 'bob', 'risk_officer');
      expect((await warden.changeRequestStatus(view.id)).approvals.map((a) => a.actor)).toEqual(['bob']);
      expect(await maxDailyLoss()).toBe(500);

      // A raw start with a NUL in its reason is refused and recorded nowhere.
      const id = uniqueName('cr').slice(0, 40);
      const started = await env.client.workflow.start('policyChange', {
        taskQueue,
        workflowId: policyChangeWorkflowId(id),
        args: [{ id, requestedBy: alice, changes: [cap(2_000)], reason: 'why\u0000not' }],
      });
      expect(await started.result()).toMatchObject({
        status: 'refused',
        detail: expect.stringMatching(/reason: must not contain control characters/),
      });
      expect(await readChangeRequest(t.db, id)).toBeUndefined();
    });
  });
});
