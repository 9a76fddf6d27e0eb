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
  markControlPlaneChangeDecided,
  writeControlPlaneState,
} from '../src/db/control-plane.repository';
import type { Database } from '../src/db/database';
import { latestPlaybookCompletion } from '../src/db/go-live.repository';
import { readChangeRequest } from '../src/db/change-requests.repository';
import { appliedUnderChangeRequest, lastGoLiveOffAt } from '../src/db/control-plane-history.repository';
import { applyRestrictionIn, clearRestrictionsIn, lockActiveRestrictions } from '../src/db/restrictions.repository';
import type { ControlPlaneActivities } from '../src/domain/control-plane/activities';
import type { AuthorityContext } from '../src/domain/control-plane/loosening';
import type { ReleaseVote } from '../src/domain/control-plane/release';
import {
  CONTROL_PLANE_DROPPED_KIND,
  CONTROL_PLANE_OVERFLOW_KIND,
  CONTROL_PLANE_REJECTION_KIND,
  CONTROL_PLANE_SUBJECT,
  decideControlPlaneChange,
  enforceControlPlane,
  tradingStateOf,
} from '../src/domain/control-plane/rules';
import { readExitCheck } from '../src/db/positions.repository';
import type { ControlPlaneChange } from '../src/domain/control-plane/types';
import { redactToken } from '../src/domain/identity/redact';
import { releaseVoteAudience } from '../src/domain/identity/audience';
import { RELEASE_APPROVER_ROLES } from '../src/domain/identity/roles';
import { storablePayload, storableText } from '../src/domain/shared/validation';
import { checkApprovalFor } from './approvals';
import { storing } from './unstorable';

/** This environment's governance settings the control plane enforces. */
export type ControlPlaneSettings = Pick<GovernanceSettings, 'environment' | 'release' | 'approvals' | 'capitalBands'>;

/** Attempts a write failing for an unknown (non-outage) reason gets before it is dropped. */
export const DEFAULT_PERSIST_ATTEMPTS = 5;

/** Who a refused payload names as its actor, made safe to store. */
function actorOf(payload: unknown): string {
  const actor = typeof payload === 'object' && payload !== null ? (payload as { actor?: unknown }).actor : undefined;
  return typeof actor === 'string' && actor.trim() !== '' ? storableText(actor.trim(), 200) : 'unknown';
}

export function createControlPlaneActivities({
  db,
  settings = SAFE_GOVERNANCE_SETTINGS,
  persistAttempts = DEFAULT_PERSIST_ATTEMPTS,
}: {
  db: Kysely<Database>;
  settings?: ControlPlaneSettings | undefined;
  /** Attempts before a write failing for a reason other than an outage is dropped. */
  persistAttempts?: number;
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
      const { changeId, change, malformed } = input;
      return storing(`change ${change.kind}`, persistAttempts, () =>
        db.transaction().execute(async (trx) => {
          const row = await lockControlPlaneState(trx);
          const current = toControlPlaneState(row);
          const idempotencyKey = `control-plane:${changeId}`;
          if (row.last_change_id === changeId)
            return { ...current, outcome: (await findRecordedOutcome(trx, idempotencyKey)) ?? { status: 'applied' } };
          const at = new Date();
          const toClear =
            change.kind === 'clearEngineRestriction'
              ? await lockActiveRestrictions(trx, {
                  restrictionId: change.restrictionId,
                  engine: change.engine,
                  kind: change.restriction,
                  source: change.source,
                })
              : [];
          const goLiveOn = change.kind === 'setGoLive' && change.enabled;
          const [capital, playbookAt, offAt, authority, vote] = await Promise.all([
            readCapitalUsage(trx, settings.capitalBands, at),
            goLiveOn ? latestPlaybookCompletion(trx) : Promise.resolve(null),
            goLiveOn ? lastGoLiveOffAt(trx) : Promise.resolve(null),
            readAuthority(trx, change),
            change.kind === 'releaseKillSwitch' || change.kind === 'declineKillSwitchRelease'
              ? settleVote(trx, change, changeId, settings)
              : Promise.resolve(undefined),
          ]);
          const decision = decideControlPlaneChange(current, change, {
            at,
            release: settings.release,
            playbookCompletedAt: playbookAt?.toISOString() ?? null,
            lastGoLiveOffAt: offAt?.toISOString() ?? null,
            capital,
            ...(authority ? { authority } : {}),
            ...(vote ? { vote } : {}),
            restrictionsToClear: toClear.length,
          });
          const next = decision.next;
          // A refusal leaves the state as it was: not even rewritten (only the change id, for a retry).
          if (decision.outcome.status === 'refused') await markControlPlaneChangeDecided(trx, changeId);
          else await writeControlPlaneState(trx, next, changeId);
          if (change.kind === 'restrictEngine' && decision.outcome.status === 'applied') {
            await applyRestrictionIn(trx, {
              engine: change.engine,
              kind: change.restriction,
              source: change.source,
              reason: change.reason,
              actor: change.actor,
            });
          }
          const cleared =
            change.kind === 'clearEngineRestriction' && decision.outcome.status === 'applied'
              ? await clearRestrictionsIn(trx, toClear, change.actor, change.reason)
              : [];
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
                ...(malformed === undefined ? {} : { malformed: storableText(malformed, 2000) }),
                // The approved request applied: what a later use of the same request is checked against.
                ...(decision.authority ? { authority: decision.authority } : {}),
                ...(cleared.length > 0
                  ? { cleared: cleared.map((r) => ({ id: r.id, engine: r.engine, kind: r.kind })) }
                  : {}),
              },
              idempotencyKey,
            });
          }
          return { ...next, outcome: decision.outcome };
        }),
      );
    },

    /** A refused signal changes nothing but leaves a trace: who tried what, and why it was refused. */
    async auditRejectedSignal(rejection) {
      // Everything made safe to store first: a refused payload must never fail its own audit.
      await storing('rejection audit', persistAttempts, () =>
        recordAuditEvent(db, {
          actor: actorOf(rejection.payload),
          kind: CONTROL_PLANE_REJECTION_KIND,
          subject: CONTROL_PLANE_SUBJECT,
          details: {
            signal: storableText(rejection.signal, 100),
            payload: storablePayload(rejection.payload ?? null),
            problem: storableText(rejection.problem, 2000),
          },
          idempotencyKey: `control-plane-rejection:${rejection.rejectionId}`,
        }),
      );
    },

    async auditDroppedChange(dropped) {
      await storing('drop audit', persistAttempts, () =>
        recordAuditEvent(db, {
          actor: actorOf(dropped.change),
          kind: CONTROL_PLANE_DROPPED_KIND,
          subject: CONTROL_PLANE_SUBJECT,
          details: {
            change: storablePayload(dropped.change ?? null),
            problem: storableText(dropped.problem, 2000),
            awaited: dropped.awaited,
          },
          idempotencyKey: `control-plane-dropped:${dropped.changeId}`,
        }),
      );
    },

    async auditQueueOverflow(overflow) {
      await storing('overflow audit', persistAttempts, () =>
        recordAuditEvent(db, {
          actor: 'control-plane',
          kind: CONTROL_PLANE_OVERFLOW_KIND,
          subject: CONTROL_PLANE_SUBJECT,
          details: storablePayload({
            dropped: overflow.dropped,
            kinds: overflow.kinds,
            samples: overflow.samples,
          }) as Record<string, unknown>,
          idempotencyKey: `control-plane-overflow:${overflow.overflowId}`,
        }),
      );
    },

    /** The first gate of every governed action: reads the persisted state, so a kill switch bites at once. */
    checkControlPlane: (input) => firstControlPlaneCheck(db, input),
  };
}

/**
 * The first gate of a governed action, here or in a deal's admission: the persisted state as committed,
 * holding nothing (an engage never waits for it), a deal judged as an exit only in reduce mode.
 */
export async function firstControlPlaneCheck(
  db: Kysely<Database> | Transaction<Database>,
  input: Parameters<ControlPlaneActivities['checkControlPlane']>[0],
): ReturnType<ControlPlaneActivities['checkControlPlane']> {
  const state = await readControlPlaneState(db);
  const reduce =
    input.deal !== undefined && tradingStateOf(state) === 'reducing' ? await readExitCheck(db, input.deal) : undefined;
  return enforceControlPlane(input.executionClass, state, reduce);
}

/**
 * Who votes, in which role: checked like every approval, for the audience
 * `warden-control-plane:<kind>`, and a token is spent with the vote by this change.
 */
async function settleVote(
  trx: Transaction<Database>,
  change: ControlPlaneChange & { kind: 'releaseKillSwitch' | 'declineKillSwitchRelease' },
  changeId: string,
  settings: ControlPlaneSettings,
): Promise<ReleaseVote | { refused: string }> {
  const use = { audience: releaseVoteAudience(change.kind), requestKey: `control-plane:${changeId}` };
  const claim = await checkApprovalFor(trx, change, RELEASE_APPROVER_ROLES, settings, use);
  if (!claim.ok) return { refused: claim.problem };
  const spent = claim.token ? await spendApprovalToken(trx, claim.token, use) : { ok: true as const };
  if (!spent.ok) return { refused: spent.problem };
  return {
    actor: claim.actor,
    role: claim.role,
    decline: change.kind === 'declineKillSwitchRelease',
    mode: change.mode,
  };
}

/** The change request a change names, as Warden holds it, and what the control plane already applied under it. */
async function readAuthority(
  trx: Transaction<Database>,
  change: ControlPlaneChange,
): Promise<AuthorityContext | undefined> {
  const id = 'changeRequestId' in change ? change.changeRequestId : undefined;
  if (id === undefined) return undefined;
  const [request, spent] = await Promise.all([readChangeRequest(trx, id), appliedUnderChangeRequest(trx, id)]);
  return {
    changeRequest: request ? { id: request.id, status: request.status, changes: request.changes } : null,
    spent,
  };
}
