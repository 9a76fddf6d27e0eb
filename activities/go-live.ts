import type { Kysely } from 'kysely';
import type { Database } from '../src/db/database';
import { auditPlaybookRefusal, closePlaybook, openPlaybook, recordPlaybookStep } from '../src/db/go-live.repository';
import { captureSnapshot, closeOperatorSession, openOperatorSession } from '../src/db/operator-sessions.repository';
import { readHealth } from '../src/db/health.repository';
import { checkApprover } from '../src/security/release-approver';
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
    /** Band and R/Y/G health now, and for a sign-off whether the actor may give it. */
    async assessGoLiveConditions(input) {
      const health = await readHealth(db, healthOptions);
      let approver = stepById(input.step).needsApprover ? checkApprover(input, settings) : null;
      if (approver?.ok && approver.token) {
        const used = await db
          .selectFrom('approval_token_use')
          .select('used_for')
          .where('token_id', '=', approver.token.tokenId)
          .executeTakeFirst();
        if (used) approver = { ok: false, problem: `token: already used for ${used.used_for}` };
      }
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
