import type { Transaction } from 'kysely';
import type { OperationalChange } from '../domain/change-requests/changes';
import { type OperationalChangeKind, parsePositionTarget } from '../domain/change-requests/operational-changes';
import { AuditKind } from '../domain/audit/kinds';
import { appendAuditEvent } from './audit.repository';
import { readBreakerEventState, resolveBreakerEvent } from './breakers.repository';
import { findClaim, lockDealId } from './deal-claims.repository';
import type { Database } from './database';
import { issueToken, readTokenTerms } from './execution-tokens.repository';
import { lockPosition, readPosition, reconcilePosition } from './positions.repository';
import { getStrategy, upsertStrategy } from './strategy.repository';
import type { Db } from './transaction';

// Operational state a change request governs (an execution token issued, a strategy's pause, a breaker event
// resolved, a position set): what is stored for a target, and the appliers, each through the repository that
// owns the table, so each audits as it always did, now with the request's id.

/** What is stored for an operational change's target, in the shape of its `before` (null: absent). */
export async function readOperationalValue(db: Db, kind: OperationalChangeKind, target: string): Promise<unknown> {
  switch (kind) {
    case 'execution_token':
      return readTokenTerms(db, target);
    case 'strategy_pause': {
      const s = await getStrategy(db, target);
      return s ? { paused: s.paused, reason: s.pausedReason } : null;
    }
    case 'breaker_event':
      return readBreakerEventState(db, target);
    case 'position':
      return readPosition(db, parsePositionTarget(target));
    case 'deal_release':
      return (await findClaim(db, target))?.stage ?? null;
  }
}

/** Holds a position's row (created at 0 when missing) until the transaction ends; the others lock by id. */
export async function lockOperationalTarget(trx: Transaction<Database>, change: OperationalChange, actor: string) {
  if (change.kind === 'position') await lockPosition(trx, parsePositionTarget(change.target), actor);
  if (change.kind === 'deal_release') await lockDealId(trx, change.target);
}

/**
 * Applies one operational change in the caller's transaction (its `before` already checked). `refuse` builds
 * the error for a change that cannot apply whatever the state.
 */
export async function applyOperationalChange(
  trx: Transaction<Database>,
  change: OperationalChange,
  ctx: { actor: string; changeRequestId: string },
  refuse: (message: string) => Error,
): Promise<void> {
  const context = { changeRequestId: ctx.changeRequestId };
  const reason = `change request ${ctx.changeRequestId}`;
  switch (change.kind) {
    case 'execution_token':
      await issueToken(trx, { id: change.target, ...change.after, actor: ctx.actor }, context);
      return;
    case 'strategy_pause': {
      const current = await getStrategy(trx, change.target);
      if (!current) throw refuse(`strategy_pause ${change.target}: the strategy has not opted in`);
      const { paused, reason: pausedReason } = change.after;
      await upsertStrategy(
        trx,
        { ...current, paused, pausedReason: paused ? pausedReason : null },
        ctx.actor,
        pausedReason ?? reason,
        context,
      );
      return;
    }
    case 'breaker_event': {
      const { before, after } = change;
      if (!before) throw refuse(`breaker_event ${change.target}: no such event`);
      if (before.rule !== after.rule || before.action !== after.action || before.commandType !== after.commandType)
        throw refuse(`breaker_event ${change.target}: only its resolution changes, not what tripped`);
      await resolveBreakerEvent(trx, change.target, ctx.actor, after.resolution ?? reason, context);
      return;
    }
    case 'position':
      await reconcilePosition(
        trx,
        { ...parsePositionTarget(change.target), quantity: change.after, actor: ctx.actor, reason },
        context,
      );
      return;
    case 'deal_release':
      // The approval is recorded here; the deal's workflow, the reservation's one writer, releases it once
      // the request has committed (the change request activities send it reconcileDeal with this request's id).
      if (change.before !== 'needs_reconciliation')
        throw refuse(`deal_release ${change.target}: the deal is not waiting in needs_reconciliation`);
      await appendAuditEvent(trx, {
        actor: ctx.actor,
        kind: AuditKind.dealLifecycle.releaseApproved,
        subject: `deal:${change.target}`,
        details: { dealId: change.target, changeRequestId: ctx.changeRequestId },
      });
      return;
  }
}
