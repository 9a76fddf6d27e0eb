import { sql, type Transaction } from 'kysely';
import { AuditKind } from '../domain/audit/kinds';
import {
  type ControlPlaneBoundChange,
  isControlPlaneBound,
  type PolicyChange,
  type PolicyChangeKind,
  type PolicyChangeOf,
  type PolicyDocument,
  samePolicyValue,
} from '../domain/change-requests/changes';
import { ErrorType } from '../domain/shared/errors';
import { MATURITY_LEVELS } from '../domain/strategy/rules';
import { PolicyIdSchema } from '../domain/watchdogs/tripwire';
import { activateApiKey, revokeApiKey } from './api-keys.repository';
import { appendAuditEvent } from './audit.repository';
import { addApprover, removeApprover } from './autonomy.repository';
import { setBreakerRule } from './breakers.repository';
import { setCommandPolicy } from './command-policies.repository';
import type { Database } from './database';
import { setExecutionPolicy } from './execution-policies.repository';
import { setHeimdallPolicy } from './heimdall.repository';
import { activeRestriction, isRestrictionId, readPolicyDocument, readStoredValue } from './policy-document.repository';
import { applyOperationalChange, lockOperationalTarget } from './operational-changes.repository';
import { upsertRiskPolicy } from './risk.repository';
import { getStrategy, setStrategyLevel, upsertStrategy } from './strategy.repository';
import { setRegressionPolicy } from './watchdogs.repository';

export { readPolicyDocument, readStoredValue } from './policy-document.repository';

// The appliers of an approved change request (the document is read in policy-document.repository): every
// write in the caller's transaction, each through the setter that owns its table (so each audits as it always
// did, now with the request's id), after checking the stored value is still the one the request was read
// against.

const POLICY_APPLY_LOCK = 0x504f_4c43; // "POLC": one change request applies at a time

/** A change's `before` no longer matches what is stored: the request is stale, nothing of it applies. */
export class StaleChangeError extends Error {
  override name = ErrorType.PolicyChangeStale;
  constructor(
    readonly kind: PolicyChangeKind,
    readonly target: string,
    readonly stored: unknown,
  ) {
    super(`${kind} ${target}: the stored value changed since the request was read (now ${JSON.stringify(stored)})`);
  }
}

/** A change that cannot apply whatever the state: e.g. an API key nobody created, or one revoked. */
export class PolicyChangeRefusedError extends Error {
  override name = ErrorType.PolicyChangeRefused;
}

/** The row each kind writes, by its key column (regression policies have two, below). */
const ROWS = {
  risk_policy: ['risk_policy', 'engine'],
  breaker_rule: ['circuit_breaker_rule', 'name'],
  heimdall_policy: ['heimdall_policy', 'domain'],
  strategy: ['strategy', 'id'],
  execution_policy: ['execution_policy', 'engine'],
  command_policy: ['command_policy', 'command_type'],
  api_key: ['api_key', 'id'],
  execution_token: ['execution_token', 'id'],
  strategy_pause: ['strategy', 'id'],
  breaker_event: ['circuit_breaker_event', 'id'],
} as const satisfies Partial<Record<PolicyChangeKind, readonly [keyof Database, string]>>;

/**
 * Holds the row a change writes until the transaction ends, so no other writer moves it between the check
 * and the write. Approvers are rows that exist or not (the apply lock serialises them); the control plane
 * is its own writer.
 */
async function lockTarget(trx: Transaction<Database>, change: PolicyChange, actor: string): Promise<void> {
  if (change.kind === 'position' || change.kind === 'deal_release') return lockOperationalTarget(trx, change, actor);
  if (change.kind === 'regression_policy') {
    const { domain, metric } = PolicyIdSchema.parse(change.target);
    await sql`select 1 from regression_policy where domain = ${domain} and metric = ${metric} for update`.execute(trx);
    return;
  }
  const row = change.kind in ROWS ? ROWS[change.kind as keyof typeof ROWS] : undefined;
  if (row)
    await sql`select 1 from ${sql.table(row[0])} where ${sql.ref(row[1])} = ${change.target} for update`.execute(trx);
}

/** What is stored for `change`, and whether it is still what the change was read against. */
async function checkAsRead(trx: Transaction<Database>, change: PolicyChange, document: PolicyDocument) {
  if (change.kind === 'restriction' && !isRestrictionId(change.target)) {
    // Placing one tightens and is idempotent: nothing to go stale. Clearing by engine was read against
    // "an active one matching the selector", whichever it is.
    if (change.before === null) return { stored: null, asRead: true };
    const stored = await activeRestriction(trx, change.target, change.before);
    return { stored, asRead: stored !== null && stored.engine === change.before.engine };
  }
  const stored = await readStoredValue(trx, change.kind, change.target, document);
  return { stored, asRead: samePolicyValue(stored, change.before) };
}

export interface ApplyContext {
  actor: string;
  changeRequestId: string;
}

/**
 * Applies an approved request's changes in the caller's transaction: checks every change's `before` against
 * what is stored (StaleChangeError on the first that moved, so nothing is clobbered), then writes each with
 * one audit event carrying `changeRequestId`. Returns the control-plane and restriction changes, which only
 * the control-plane workflow writes (invariant 10): send them with applyControlPlaneChanges once committed.
 */
export async function applyPolicyChanges(
  trx: Transaction<Database>,
  changes: readonly PolicyChange[],
  ctx: ApplyContext,
): Promise<ControlPlaneBoundChange[]> {
  await sql`select pg_advisory_xact_lock(${POLICY_APPLY_LOCK})`.execute(trx);
  for (const change of changes) await lockTarget(trx, change, ctx.actor);
  const document = await readPolicyDocument(trx);
  for (const change of changes) {
    const { stored, asRead } = await checkAsRead(trx, change, document);
    if (!asRead) throw new StaleChangeError(change.kind, change.target, stored);
  }
  for (const change of changes) if (!isControlPlaneBound(change)) await applyOne(trx, change, ctx);
  return changes.filter(isControlPlaneBound);
}

async function applyOne(
  trx: Transaction<Database>,
  change: Exclude<PolicyChange, ControlPlaneBoundChange>,
  ctx: ApplyContext,
): Promise<void> {
  const { actor, changeRequestId } = ctx;
  const context = { changeRequestId };
  const reason = `change request ${changeRequestId}`;
  switch (change.kind) {
    case 'risk_policy':
      return void (await upsertRiskPolicy(trx, { engine: change.target, ...change.after }, actor, context));
    case 'regression_policy':
      return void (await setRegressionPolicy(
        trx,
        { ...PolicyIdSchema.parse(change.target), ...change.after },
        actor,
        context,
      ));
    case 'breaker_rule':
      return setBreakerRule(trx, { name: change.target, ...change.after }, actor, context);
    case 'heimdall_policy':
      return void (await setHeimdallPolicy(trx, { domain: change.target, ...change.after }, actor, context));
    case 'execution_policy':
      return void (await setExecutionPolicy(trx, { engine: change.target, ...change.after, actor, reason }, context));
    case 'command_policy':
      return void (await setCommandPolicy(
        trx,
        {
          commandType: change.target,
          executionClass: change.after.executionClass,
          safeInReduce: change.after.safeInReduce ?? false,
          actor,
          reason,
        },
        context,
      ));
    case 'strategy':
      return applyStrategy(trx, change, ctx);
    case 'approver':
      if (change.after) return addApprover(trx, change.after.role, change.after.name, actor, context);
      return void (await removeApprover(trx, change.before!.role, change.before!.name, actor, context));
    case 'api_key':
      return applyApiKey(trx, change, ctx);
    case 'execution_token':
    case 'strategy_pause':
    case 'breaker_event':
    case 'position':
    case 'deal_release':
      return applyOperationalChange(trx, change, ctx, (message) => new PolicyChangeRefusedError(message));
  }
}

/**
 * Settings through upsertStrategy (a new strategy starts at L0), then the level: the one place outside the
 * strategyPromotion workflow where a level rises, because the request carrying it passed its approvals.
 */
async function applyStrategy(trx: Transaction<Database>, change: PolicyChangeOf<'strategy'>, ctx: ApplyContext) {
  const { level, ...settings } = change.after;
  const current = await getStrategy(trx, change.target);
  const from = current?.level ?? 'L0';
  const { level: _from, ...settingsBefore } = change.before ?? { level: from };
  if (!current || !samePolicyValue(settingsBefore, settings)) {
    const base = current ?? { id: change.target, paused: false, pausedReason: null };
    await upsertStrategy(
      trx,
      { ...base, ...settings, level: from },
      ctx.actor,
      `change request ${ctx.changeRequestId}`,
      {
        changeRequestId: ctx.changeRequestId,
      },
    );
  }
  if (level === from) return;
  await setStrategyLevel(trx, { id: change.target, to: level, since: new Date(), from });
  const up = MATURITY_LEVELS.indexOf(level) > MATURITY_LEVELS.indexOf(from);
  await appendAuditEvent(trx, {
    actor: ctx.actor,
    kind: up ? AuditKind.strategy.promoted : AuditKind.strategy.demoted,
    subject: `strategy:${change.target}`,
    details: { strategyId: change.target, from, to: level, by: 'change_request', changeRequestId: ctx.changeRequestId },
  });
}

/** A key is created (inactive) outside the request; the request only activates or revokes it. */
async function applyApiKey(trx: Transaction<Database>, change: PolicyChangeOf<'api_key'>, ctx: ApplyContext) {
  const stored = change.before;
  if (!stored) throw new PolicyChangeRefusedError(`api_key ${change.target}: no such key (create it first)`);
  if (stored.identity !== change.after.identity || !samePolicyValue(stored.roles, change.after.roles))
    throw new PolicyChangeRefusedError(
      `api_key ${change.target}: a key's identity and roles are fixed at creation; create a new key instead`,
    );
  if (stored.active === change.after.active) return;
  const context = { changeRequestId: ctx.changeRequestId };
  if (!change.after.active) {
    await revokeApiKey(trx, change.target, ctx.actor, `change request ${ctx.changeRequestId}`, context);
    return;
  }
  if (!(await activateApiKey(trx, change.target, ctx.actor, context)))
    throw new PolicyChangeRefusedError(`api_key ${change.target}: a revoked key stays revoked; create a new key`);
}
