import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { AlreadyRunningError, WardenClient } from '../../src/client';
import { listAuditEvents } from '../../src/db/audit.repository';
import { listOperatorSessions } from '../../src/db/operator-sessions.repository';
import { operatorSessionWorkflowId } from '../../workflows/names';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { connectDevServer, createTestDatabase, type TestDatabase, uniqueName, workflowBundle } from '../helpers';

describe('operatorSession workflow', () => {
  let env: TestWorkflowEnvironment;
  let t: TestDatabase;

  beforeAll(async () => {
    env = await connectDevServer();
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t?.drop();
    await env?.teardown();
  });

  it('snapshots the system at start and end, one active session per operator, and keeps ended sessions listed', async () => {
    const taskQueue = uniqueName('operator-session');
    const warden = new WardenClient(env.client, taskQueue);
    const operator = uniqueName('olga');
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: workflowBundle(),
      activities: createActivities({ db: t.db, governor: DEFAULT_GOVERNOR_SETTINGS, controlPlane: warden }),
    });
    await worker.runUntil(async () => {
      const started = await warden.startOperatorSession({ operator, notes: 'monday review' });
      expect(started).toMatchObject({ operator, status: 'active', startNotes: 'monday review', endSnapshot: null });
      expect(started.startSnapshot).toMatchObject({
        controlPlane: { goLiveEnabled: false, killSwitchEngaged: false, applyMode: 'dry_run' },
        band: { band: 'A', cap: 1500 },
        health: { status: 'GREEN', reasons: [] },
        playbook: null,
      });
      await expect(warden.startOperatorSession({ operator })).rejects.toBeInstanceOf(AlreadyRunningError);
      expect(await listOperatorSessions(t.db, { activeOnly: true })).toMatchObject([
        { sessionId: started.sessionId, status: 'active' },
      ]);

      await t.db
        .insertInto('incident')
        .values({
          command_id: null,
          severity: 'critical',
          autonomous: false,
          description: 'feed outage',
          at: new Date(),
        })
        .execute();
      const raw = env.client.workflow.getHandle(operatorSessionWorkflowId(operator));
      const rejected = await raw
        .executeUpdate('endSession', { args: [{ notes: 'no actor' }] })
        .catch((e: unknown) => e);
      expect(rejected).toBeInstanceOf(WorkflowUpdateFailedError);
      expect((rejected as WorkflowUpdateFailedError).cause?.message).toMatch(/^actor: /);

      const ended = await warden.endOperatorSession({ operator, actor: 'lead-ana', notes: 'feed outage handed over' });
      expect(ended).toMatchObject({
        sessionId: started.sessionId,
        status: 'ended',
        endNotes: 'feed outage handed over',
        startSnapshot: started.startSnapshot,
      });
      expect(ended.endSnapshot).toMatchObject({ health: { status: 'RED', reasons: [{ code: 'critical_incident' }] } });
      expect(await raw.result()).toEqual(ended);
      if (process.env.WARDEN_RECORD_HISTORIES === '1') {
        writeFileSync(
          path.join(__dirname, '..', 'histories', 'operator-session-ended.json'),
          historyToJSON(await raw.fetchHistory()),
        );
      }

      const next = await warden.startOperatorSession({ operator });
      expect(next.sessionId).not.toBe(started.sessionId);
      await warden.endOperatorSession({ operator, actor: operator });
    });
    expect(await listOperatorSessions(t.db, { activeOnly: true })).toEqual([]);
    const sessions = await listOperatorSessions(t.db);
    expect(sessions.map((s) => s.status)).toEqual(['ended', 'ended']);
    const events = (await listAuditEvents(t.db)).filter((e) => e.kind.startsWith('go_live.session')).reverse();
    expect(events.map((e) => [e.kind, e.actor])).toEqual([
      ['go_live.session_started', operator],
      ['go_live.session_ended', 'lead-ana'],
      ['go_live.session_started', operator],
      ['go_live.session_ended', operator],
    ]);
    expect(events[1]!.details).toMatchObject({ operator, health: 'RED', band: 'A', goLive: false });
  });
});
