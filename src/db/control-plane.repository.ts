import type { Kysely, Transaction } from 'kysely';
import type { CapitalBandThresholds } from '../capital/bands';
import { type KillSwitchReleasePolicy, type ReleaseVote } from '../control-plane/release';
import { verifyApprovalToken } from '../identity/approval-token';
import { RELEASE_APPROVER_ROLES } from '../identity/roles';
import { readCapitalUsage } from './capital.repository';
import { hasCompletedPlaybook } from './go-live.repository';
import { applyRestrictionIn } from './watchdogs.repository';
import { CONTROL_PLANE_SUBJECT, decideControlPlaneChange } from '../control-plane/rules';
import type { ChangeOutcome, ControlPlaneChange, ControlPlaneState } from '../control-plane/types';
import { appendAuditEvent } from './audit.repository';
import type { ControlPlaneStateRow, Database } from './database';

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
export interface ControlPlaneSettings {
  environment: string;
  release: KillSwitchReleasePolicy;
  approvals: { signed: boolean; signingKey: string | undefined };
  capitalBands: CapitalBandThresholds;
}

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
      // The token is a bearer credential: the audit trail keeps its id, not the token.
      const recorded = 'token' in fields && fields.token !== undefined ? { ...fields, token: '(redacted)' } : fields;
      await appendAuditEvent(trx, {
        at,
        actor,
        kind: decision.auditKind,
        subject: CONTROL_PLANE_SUBJECT,
        details: { change: { kind, ...recorded }, outcome: decision.outcome, before: current, after: next },
        idempotencyKey,
      });
    }
    return { ...next, outcome: decision.outcome };
  });
}

/**
 * Who votes, in which role. With a token, the token's subject and roles
 * count (and the token is spent); with signed approvals on, a vote without
 * one does not count at all.
 */
async function settleVote(
  trx: Transaction<Database>,
  change: ControlPlaneChange & { kind: 'releaseKillSwitch' | 'declineKillSwitchRelease' },
  settings: ControlPlaneSettings,
  at: Date,
): Promise<ReleaseVote | { refused: string }> {
  const decline = change.kind === 'declineKillSwitchRelease';
  if (change.token === undefined) {
    if (settings.approvals.signed) return { refused: 'token: signed approvals are on in this environment; get a token with `warden approvals token` or POST /approval-tokens' };
    if (change.role === undefined) return { refused: `role: name the approver role you act in (${RELEASE_APPROVER_ROLES.join(', ')})` };
    return { actor: change.actor, role: change.role, decline };
  }
  if (settings.approvals.signingKey === undefined) return { refused: 'token: this environment has no approval signing key (WARDEN_APPROVAL_SIGNING_KEY)' };
  const check = verifyApprovalToken(change.token, settings.approvals.signingKey, settings.environment, at);
  if (!check.ok) return { refused: check.reason };
  const { claims } = check;
  if (claims.sub !== change.actor) return { refused: `actor: ${change.actor} is not the token's subject (${claims.sub})` };
  const role = change.role ?? claims.roles.find((r) => RELEASE_APPROVER_ROLES.includes(r)) ?? claims.roles[0]!;
  if (!claims.roles.includes(role)) return { refused: `role: the token does not grant ${role}` };
  const spent = await trx
    .insertInto('approval_token_use')
    .values({ token_id: claims.jti, subject: claims.sub, used_for: change.kind })
    .onConflict((oc) => oc.column('token_id').doNothing())
    .returning('token_id')
    .executeTakeFirst();
  if (!spent) return { refused: 'token: already used (each approval token approves once)' };
  return { actor: claims.sub, role, decline };
}
