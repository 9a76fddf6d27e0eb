// A deal's admission (issue 13 item 2, in one transaction since issue 16): what
// the deal is by the engine's policy, and then, when the deal asks to be
// cleared, the control plane's word, the risk reserve, prod eligibility and
// the permit, each decided by its own rules in src/domain, all read and written
// in one transaction. The audit events it owes follow in one append, keyed.
import type { Kysely, Transaction } from 'kysely';
import type { AuditEntry } from '../../src/db/audit.repository';
import { recordAuditEvents } from '../../src/db/audit.repository';
import { readControlPlaneState } from '../../src/db/control-plane.repository';
import type { Database } from '../../src/db/database';
import { recordAdmissionInputs } from '../../src/db/deal-claims.repository';
import { readExecutionPolicy } from '../../src/db/execution-policies.repository';
import { findReservation } from '../../src/db/risk.repository';
import { getStrategy } from '../../src/db/strategy.repository';
import type { AdmissionInputs } from '../../src/domain/change-requests/replay-inputs';
import { enforceControlPlane } from '../../src/domain/control-plane/rules';
import type { AdmitDealInput, Clearance, DealAdmission, DealExit } from '../../src/domain/deals/activities';
import { decideAdmission } from '../../src/domain/deals/policy';
import { positionKeyOf } from '../../src/domain/deals/positions';
import { dropExitHold, holdExit } from '../../src/db/positions.repository';
import { permitAudits } from '../../src/domain/permits/decisions';
import type { GovernorSettings } from '../../src/domain/permits/rules';
import { eligibilityAudit } from '../../src/domain/prod-eligibility/rules';
import { reserveAudit } from '../../src/domain/risk/reservations';
import { readStrategyOutcome } from '../../src/domain/strategy/gate';
import { firstControlPlaneCheck } from '../control-plane';
import { evaluateStrategyOrder } from '../strategy-gate';
import { issuePermitInTransaction } from './permits';
import { decideProdEligibility } from './prod-eligibility';
import { releaseInTransaction, reserveInTransaction } from './risk';

export interface AdmissionDeps {
  db: Kysely<Database>;
  governor: GovernorSettings;
  /** Does this worker serve an `executeDeal` on Warden's own queue (the simulated one, or a user's)? */
  executorServed: boolean;
}

/**
 * Admission reads the engine's policy and the named strategy → decides with src/domain/deals/policy.ts.
 * A denial is the deal's own, audited by its outcome. What the deal asked is kept on its claim, so
 * `warden policy plan` can replay it under proposed policies. With `clear`, the gates that follow are
 * decided in the same transaction (see clearDeal); the control plane's row is held FOR SHARE meanwhile,
 * so an engage commits before this reads it or after the deal holds its permit, as at the last gate.
 *
 * With an order (`clear.strategy`), the control plane and seed 001's gate are decided in that transaction
 * and an order the gate lets go on at once is cleared in a second one, in this same activity. The gate
 * holds its strategy's row (each order decided from the level and pause the one before it left): in one
 * transaction it would hold it through the reserve and the permit, one deal of the strategy at a time.
 */
export async function admitDeal(deps: AdmissionDeps, input: AdmitDealInput): Promise<DealAdmission> {
  const audits: AuditEntry[] = [];
  const clear = input.clear;
  let admission = await deps.db.transaction().execute(async (trx): Promise<DealAdmission> => {
    const asked: AdmissionInputs = {
      requestedClass: input.requestedClass,
      strategyId: input.strategyId,
      recommendationId: input.recommendationId,
      executorTaskQueue: input.executorTaskQueue,
      ownTaskQueue: input.ownTaskQueue,
      executorServed: deps.executorServed,
    };
    await recordAdmissionInputs(trx, input.dealId, asked);
    const policy = await readExecutionPolicy(trx, input.engine);
    const strategy = input.strategyId === undefined ? undefined : await getStrategy(trx, input.strategyId);
    const decided = decideAdmission({ ...asked, policy, strategy });
    if (!decided.admitted || clear === undefined) return decided;
    if (clear.strategy !== undefined) return { ...decided, ...(await judgeOrder(trx, input, decided.executionClass)) };
    return {
      ...decided,
      clearance: await clearDeal(trx, deps.governor, input, decided.executionClass, clear.amount, audits),
    };
  });
  const order = clear?.strategy;
  if (admission.admitted && order !== undefined && admission.strategy !== undefined && !admission.clearance) {
    const reading = readStrategyOutcome(
      admission.strategy,
      order.strategyId,
      clear!.amount,
      admission.policy.strategyRequired,
    );
    // Denied, shadow or waiting for a human: nothing is held, and the deal's strategy step goes on from here.
    if (reading.next === 'go') {
      const { executionClass } = admission;
      const clearance = await deps.db
        .transaction()
        .execute((trx) => clearDeal(trx, deps.governor, input, executionClass, reading.amount, audits));
      admission = { ...admission, clearance };
    }
  }
  // After the commit, in one transaction of its own: the ledger and symbol locks are never held while
  // waiting for the audit chain. Keyed, so a retry after a crash in between appends each once.
  if (audits.length > 0) await recordAuditEvents(deps.db, audits);
  return admission;
}

/** The deal as the exit rules read it (src/domain/deals/exits.ts), at `amount`; none without a side. */
function exitOf(input: AdmitDealInput, amount: number): DealExit | undefined {
  const { side, symbol } = input.clear!;
  if (side === undefined) return undefined;
  const position = positionKeyOf({ strategyId: input.strategyId, engine: input.engine, symbol });
  return { dealId: input.dealId, position, side, amount };
}

/**
 * The control plane, then seed 001's gate on the deal's order, in the caller's transaction: the gate's
 * outcome, or the control plane's refusal (the gate then not asked). The control plane is read as the
 * deal's own first gate reads it, holding nothing: the gate may wait for its strategy's row, and an engage
 * must not wait behind that (the clearing transaction holds the control plane's row, as for any deal).
 * A retry after the deal was cleared finds its reservation and asks the control plane no more; the gate
 * answers its first decision (kept by trace id).
 */
async function judgeOrder(
  trx: Transaction<Database>,
  input: AdmitDealInput,
  executionClass: DealAdmission['executionClass'],
): Promise<Pick<DealAdmission, 'clearance' | 'strategy'>> {
  const clear = input.clear!;
  if ((await findReservation(trx, clear.key)) === undefined) {
    const deal = exitOf(input, clear.amount);
    const entry = await firstControlPlaneCheck(trx, { executionClass, ...(deal ? { deal } : {}) });
    if (!entry.allowed)
      return { clearance: { cleared: false, gate: 'control_plane', reason: entry.reason, detail: entry.detail } };
  }
  return { strategy: await evaluateStrategyOrder(trx, clear.strategy!) };
}

/**
 * The control plane, the risk reserve (of `amount`: the order's size, or what the strategy gate left it),
 * prod eligibility and the permit, in seed order, in the caller's transaction. A gate that refuses after
 * the reserve gives the reservation back there and then, so a denied deal holds nothing. A retry after the
 * commit finds its reservation and answers the first decision: the control plane is not asked again (the
 * last gate asks it, before the executor).
 */
async function clearDeal(
  trx: Transaction<Database>,
  governor: GovernorSettings,
  input: AdmitDealInput,
  executionClass: DealAdmission['executionClass'],
  amount: number,
  audits: AuditEntry[],
): Promise<Clearance> {
  const clear = input.clear!;
  const at = new Date(clear.at);
  let exit = false;
  const prior = await findReservation(trx, clear.key);
  if (prior === undefined) {
    const state = await readControlPlaneState(trx, { share: true });
    // An exit holds its part of the position (judged in src/domain/deals/exits.ts): in reduce mode only
    // exits pass, and in any mode an exit takes no daily exposure.
    const deal = exitOf(input, amount);
    const reduce = deal && (await holdExit(trx, { ...deal, key: clear.key, actor: clear.actor }));
    exit = reduce?.reduces === true;
    const entry = enforceControlPlane(executionClass, state, reduce);
    if (!entry.allowed) {
      if (exit) await dropExitHold(trx, clear.key);
      return { cleared: false, gate: 'control_plane', reason: entry.reason, detail: entry.detail };
    }
  }
  const reserved = await reserveInTransaction(
    trx,
    { key: clear.key, engine: input.engine, amount, actor: clear.actor, at, exit },
    { prior },
  );
  audits.push(reserveAudit(reserved, clear.actor));
  if (!reserved.ok) {
    if (exit) await dropExitHold(trx, clear.key);
    return { cleared: false, gate: 'risk', reason: reserved.reason, detail: reserved.detail };
  }
  // A gate after the reserve refused: the reservation is given back in this transaction, and said so.
  const refusedAfterReserve = async (
    gate: 'prod_eligibility' | 'permit',
    reason: string,
    detail: string,
    disarm?: boolean,
  ): Promise<Clearance> => {
    await releaseInTransaction(trx, { key: clear.key, actor: clear.actor, reason: `denied at ${gate}: ${reason}` });
    return { cleared: false, gate, reason, detail, ...(disarm !== undefined ? { disarm } : {}), released: true };
  };

  if (input.recommendationId !== undefined) {
    const eligibility = { recommendationId: input.recommendationId, actor: clear.actor, correlationId: clear.key };
    const eligible = await decideProdEligibility(trx, {
      recommendationId: input.recommendationId,
      ...(clear.domain !== undefined ? { domain: clear.domain } : {}),
    });
    audits.push(eligibilityAudit(eligibility, eligible));
    if (!eligible.ok) return refusedAfterReserve('prod_eligibility', eligible.reason, eligible.detail);
  }

  const request = { key: clear.key, dealId: input.dealId, symbol: clear.symbol, at, actor: clear.actor };
  const permit = await issuePermitInTransaction(trx, governor, request);
  audits.push(...permitAudits(request, permit));
  if (!permit.granted) return refusedAfterReserve('permit', permit.reason, permit.detail, permit.disarm);
  return { cleared: true, permitId: permit.permitId, expiresAt: permit.expiresAt };
}
