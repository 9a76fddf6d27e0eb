import type { Kysely } from 'kysely';
import type { Database } from '../src/db/database';
import {
  auditPlaybookRefusal,
  closePlaybook,
  openPlaybook,
  playbookStepRequest,
  recordPlaybookStep,
} from '../src/db/go-live.repository';
import { captureSnapshot, closeOperatorSession, openOperatorSession } from '../src/db/operator-sessions.repository';
import { readHealth } from '../src/db/health.repository';
import { approvalAudience } from '../src/domain/identity/audience';
import { RELEASE_APPROVER_ROLES, ROLES } from '../src/domain/identity/roles';
import { checkApprovalFor } from './approvals';
import type { GoLiveActivities } from '../src/domain/go-live/activities';
import { stepById } from '../src/domain/go-live/playbook';
import type { GoLiveSettings } from '../src/config/go-live-settings';

export function createGoLiveActivities({
  db,
  goLive: settings,
}: {
  db: Kysely<Database>;
  goLive: GoLiveSettings;
}): GoLiveActivities {
  const healthOptions = { capitalBands: settings.capitalBands, canaryThreshold: settings.canaryThreshold };
  return {
    /**
     * Band and R/Y/G health now, and the actor's credentials: for a sign-off (an approver role), and for
     * every step that carries a token or, with signed approvals on, must (a token for this step of this
     * playbook, not yet spent by another request; recordPlaybookStep spends it).
     */
    async assessGoLiveConditions(input) {
      const health = await readHealth(db, healthOptions);
      const { needsApprover } = stepById(input.step);
      const approver =
        needsApprover || settings.approvals.signed || input.token !== undefined
          ? await checkApprovalFor(db, input, needsApprover ? RELEASE_APPROVER_ROLES : ROLES, settings, {
              audience: approvalAudience(input.playbookId, input.step),
              requestKey: playbookStepRequest(input.runId, input.step),
            })
          : null;
      return {
        band: health.band.band,
        health: health.status,
        healthReasons: health.reasons.map((r) => `${r.code}: ${r.detail}`),
        approver,
      };
    },

    async openGoLivePlaybook(input) {
      await openPlaybook(db, {
        id: input.playbookId,
        runId: input.runId,
        startedBy: input.startedBy,
        startedAt: new Date(input.startedAt),
        environment: settings.environment,
      });
    },

    recordPlaybookStep: (input) =>
      recordPlaybookStep(db, {
        id: input.playbookId,
        runId: input.runId,
        record: input.record,
        ...(input.token ? { token: input.token } : {}),
      }),

    async closeGoLivePlaybook(input) {
      await closePlaybook(db, {
        id: input.playbookId,
        runId: input.runId,
        status: input.status,
        actor: input.actor,
        at: new Date(input.at),
        ...(input.reason ? { reason: input.reason } : {}),
      });
    },

    async auditPlaybookRefusal(input) {
      await auditPlaybookRefusal(db, {
        id: input.playbookId,
        refusal: input.refusal,
        payload: input.payload,
        key: input.key,
      });
    },

    /** Captures the start snapshot and stores the session (a retry keeps the first snapshot). */
    async openOperatorSession(input) {
      const snapshot = await captureSnapshot(db, healthOptions);
      return openOperatorSession(db, { ...input, startedAt: new Date(input.startedAt), snapshot });
    },

    async closeOperatorSession(input) {
      const snapshot = await captureSnapshot(db, healthOptions);
      return closeOperatorSession(db, { ...input, endedAt: new Date(input.endedAt), snapshot });
    },
  };
}
