import type { Kysely, Transaction } from 'kysely';
import { type GovernanceSettings, SAFE_GOVERNANCE_SETTINGS } from '../src/config/index';
import { spendApprovalToken } from '../src/db/approval-tokens.repository';
import { appendAuditEvent, recordAuditEvent } from '../src/db/audit.repository';
import { readCapitalUsage } from '../src/db/capital.repository';
import {
  findRecordedOutcome,
  lockControlPlaneState,
  readControlPlaneState,
  toControlPlaneState,
  writeControlPlaneState,
} from '../src/db/control-plane.repository';
import type { Database } from '../src/db/database';
import { hasCompletedPlaybook } from '../src/db/go-live.repository';
import { applyRestrictionIn } from '../src/db/watchdogs.repository';
import type { ControlPlaneActivities } from '../src/domain/control-plane/activities';
import type { ReleaseVote } from '../src/domain/control-plane/release';
import {
  CONTROL_PLANE_REJECTION_KIND,
  CONTROL_PLANE_SUBJECT,
  decideControlPlaneChange,
  enforceControlPlane,
} from '../src/domain/control-plane/rules';
import type { ControlPlaneChange } from '../src/domain/control-plane/types';
import { redactToken } from '../src/domain/identity/redact';
import { RELEASE_APPROVER_ROLES } from '../src/domain/identity/roles';
import { checkApprovalClaim } from '../src/security/approvals';

/** This environment's governance settings the control plane enforces. */
export type ControlPlaneSettings = Pick<GovernanceSettings, 'environment' | 'release' | 'approvals' | 'capitalBands'>;

export function createControlPlaneActivities({
  db,
  settings = SAFE_GOVERNANCE_SETTINGS,
}: {
  db: Kysely<Database>;
  settings?: ControlPlaneSettings | undefined;
}): ControlPlaneActivities {
  return {
    async loadControlPlaneState() {
      return readControlPlaneState(db);
    },

    /**
     * Decides and persists one change with its audit event, in one transaction.
     * `changeId` makes a retried call return what it decided the first time
     * instead of deciding again (a signed token, for one, is spent by then).
     */
    async persistControlPlaneChange(input) {
      const { changeId, change } = input;
      return db.transaction().execute(async (trx) => {
        const row = await lockControlPlaneState(trx);
        const current = toControlPlaneState(row);
        const idempotencyKey = `control-plane:${changeId}`;
        if (row.last_change_id === changeId)
          return { ...current, outcome: (await findRecordedOutcome(trx, idempotencyKey)) ?? { status: 'applied' } };
        const at = new Date();
        const [capital, goLivePlaybookCompleted, vote] = await Promise.all([
          readCapitalUsage(trx, settings.capitalBands, at),
          change.kind === 'setGoLive' && change.enabled ? hasCompletedPlaybook(trx) : Promise.resolve(false),
          change.kind === 'releaseKillSwitch' || change.kind === 'declineKillSwitchRelease'
            ? settleVote(trx, change, settings, at)
            : Promise.resolve(undefined),
        ]);
        const decision = decideControlPlaneChange(current, change, {
          at,
          release: settings.release,
          goLivePlaybookCompleted,
          capital,
          ...(vote ? { vote } : {}),
        });
        const next = decision.next;
        await writeControlPlaneState(trx, next, changeId);
        if (change.kind === 'restrictEngine' && decision.outcome.status === 'applied') {
          await applyRestrictionIn(trx, {
            engine: change.engine,
            kind: change.restriction,
            source: change.source,
            reason: change.reason,
            actor: change.actor,
          });
        }
        // A re-measured band that did not move is not an event.
        const quiet = change.kind === 'refreshCapitalBand' && next.version === current.version;
        if (!quiet) {
          const { kind, actor, ...fields } = change;
          await appendAuditEvent(trx, {
            at,
            actor,
            kind: decision.auditKind,
            subject: CONTROL_PLANE_SUBJECT,
            details: {
              change: { kind, ...redactToken(fields) },
              outcome: decision.outcome,
              before: current,
              after: next,
            },
            idempotencyKey,
          });
        }
        return { ...next, outcome: decision.outcome };
      });
    },

    /** A refused signal changes nothing but leaves a trace: who tried what, and why it was refused. */
    async auditRejectedSignal(rejection) {
      const actor =
        typeof rejection.payload === 'object' &&
        rejection.payload !== null &&
        typeof (rejection.payload as { actor?: unknown }).actor === 'string'
          ? String((rejection.payload as { actor: string }).actor).slice(0, 200)
          : 'unknown';
      await recordAuditEvent(db, {
        actor,
        kind: CONTROL_PLANE_REJECTION_KIND,
        subject: CONTROL_PLANE_SUBJECT,
        details: { signal: rejection.signal, payload: rejection.payload ?? null, problem: rejection.problem },
        idempotencyKey: `control-plane-rejection:${rejection.rejectionId}`,
      });
    },

    /** The first gate of every governed action: reads the persisted state, so a kill switch bites at once. */
    async checkControlPlane(input) {
      return enforceControlPlane(input.executionClass, await readControlPlaneState(db));
    },
  };
}

/** Who votes, in which role: checked like every approval, and a token is spent with the vote. */
async function settleVote(
  trx: Transaction<Database>,
  change: ControlPlaneChange & { kind: 'releaseKillSwitch' | 'declineKillSwitchRelease' },
  settings: ControlPlaneSettings,
  at: Date,
): Promise<ReleaseVote | { refused: string }> {
  const claim = checkApprovalClaim(change, RELEASE_APPROVER_ROLES, settings, at);
  if (!claim.ok) return { refused: claim.problem };
  if (claim.token && !(await spendApprovalToken(trx, claim.token, change.kind)))
    return { refused: 'token: already used (each approval token approves once)' };
  return { actor: claim.actor, role: claim.role, decline: change.kind === 'declineKillSwitchRelease' };
}
