import type { Kysely, Transaction } from 'kysely';
import type { GovernanceSettings } from '../config/index';
import type { ReleaseVote } from '../domain/control-plane/release';
import { CONTROL_PLANE_SUBJECT, decideControlPlaneChange } from '../domain/control-plane/rules';
import type { ChangeOutcome, ControlPlaneChange, ControlPlaneState } from '../domain/control-plane/types';
import { checkApprovalClaim } from '../security/approvals';
import { redactToken } from '../domain/identity/redact';
import { RELEASE_APPROVER_ROLES } from '../domain/identity/roles';
import { spendApprovalToken } from './approval-tokens.repository';
import { appendAuditEvent } from './audit.repository';
import { readCapitalUsage } from './capital.repository';
import type { ControlPlaneStateRow, Database } from './database';
import { hasCompletedPlaybook } from './go-live.repository';
import { applyRestrictionIn } from './watchdogs.repository';

export function toControlPlaneState(row: ControlPlaneStateRow): ControlPlaneState {
  return {
    goLiveEnabled: row.go_live_enabled,
    killSwitchEngaged: row.kill_switch_engaged,
    killSwitchSource: row.kill_switch_source,
    killSwitchEngagedAt: row.kill_switch_engaged_at?.toISOString() ?? null,
    killSwitchEngagedBy: row.kill_switch_engaged_by,
    releaseApprovals: row.release_approvals,
    applyMode: row.apply_mode,
    capitalBand: row.capital_band,
    capitalUsage: row.capital_usage,
    reason: row.reason,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at.toISOString(),
    version: row.version,
  };
}

export async function readControlPlaneState(db: Kysely<Database>): Promise<ControlPlaneState> {
  const row = await db.selectFrom('control_plane_state').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
  return toControlPlaneState(row);
}

/** This environment's governance settings the control plane enforces. */
export type ControlPlaneSettings = Pick<GovernanceSettings, 'environment' | 'release' | 'approvals' | 'capitalBands'>;

export type PersistedChange = ControlPlaneState & { outcome: ChangeOutcome };

/**
 * Decides and persists one change with its audit event, in one transaction.
 * `changeId` makes a retried call return what it decided the first time
 * instead of deciding again (a signed token, for one, is spent by then).
 */
export async function persistControlPlaneChange(
  db: Kysely<Database>,
  changeId: string,
  change: ControlPlaneChange,
  settings: ControlPlaneSettings,
): Promise<PersistedChange> {
  return db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('control_plane_state').selectAll().where('id', '=', 1).forUpdate().executeTakeFirstOrThrow();
    const current = toControlPlaneState(row);
    const idempotencyKey = `control-plane:${changeId}`;
    if (row.last_change_id === changeId) {
      const event = await trx.selectFrom('audit_event').select('details').where('idempotency_key', '=', idempotencyKey).executeTakeFirst();
      const outcome = (event?.details as { outcome?: ChangeOutcome } | undefined)?.outcome ?? { status: 'applied' };
      return { ...current, outcome };
    }
    const at = new Date();
    const [capital, goLivePlaybookCompleted, vote] = await Promise.all([
      readCapitalUsage(trx, settings.capitalBands, at),
      change.kind === 'setGoLive' && change.enabled ? hasCompletedPlaybook(trx) : Promise.resolve(false),
      change.kind === 'releaseKillSwitch' || change.kind === 'declineKillSwitchRelease' ? settleVote(trx, change, settings, at) : Promise.resolve(undefined),
    ]);
    const decision = decideControlPlaneChange(current, change, { at, release: settings.release, goLivePlaybookCompleted, capital, ...(vote ? { vote } : {}) });
    const next = decision.next;
    await trx
      .updateTable('control_plane_state')
      .set({
        go_live_enabled: next.goLiveEnabled,
        kill_switch_engaged: next.killSwitchEngaged,
        kill_switch_source: next.killSwitchSource,
        kill_switch_engaged_at: next.killSwitchEngagedAt === null ? null : new Date(next.killSwitchEngagedAt),
        kill_switch_engaged_by: next.killSwitchEngagedBy,
        release_approvals: JSON.stringify(next.releaseApprovals),
        apply_mode: next.applyMode,
        capital_band: next.capitalBand,
        capital_usage: next.capitalUsage,
        reason: next.reason,
        updated_by: next.updatedBy,
        updated_at: new Date(next.updatedAt),
        version: next.version,
        last_change_id: changeId,
      })
      .where('id', '=', 1)
      .execute();
    if (change.kind === 'restrictEngine' && decision.outcome.status === 'applied') {
      await applyRestrictionIn(trx, { engine: change.engine, kind: change.restriction, source: change.source, reason: change.reason, actor: change.actor });
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
        details: { change: { kind, ...redactToken(fields) }, outcome: decision.outcome, before: current, after: next },
        idempotencyKey,
      });
    }
    return { ...next, outcome: decision.outcome };
  });
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
  if (claim.token && !(await spendApprovalToken(trx, claim.token, change.kind))) return { refused: 'token: already used (each approval token approves once)' };
  return { actor: claim.actor, role: claim.role, decline: change.kind === 'declineKillSwitchRelease' };
}
