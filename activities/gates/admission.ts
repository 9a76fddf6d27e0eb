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
import type { AdmitDealInput, Clearance, DealAdmission } from '../../src/domain/deals/activities';
import { decideAdmission, positionKeyOf } from '../../src/domain/deals/policy';
import { dropExitHold, holdExit, readExitCheck } from '../../src/db/positions.repository';
import { permitAudits } from '../../src/domain/permits/decisions';
import type { GovernorSettings } from '../../src/domain/permits/rules';
import { eligibilityAudit } from '../../src/domain/prod-eligibility/rules';
import { reserveAudit } from '../../src/domain/risk/reservations';
import { readStrategyOutcome, type StrategyGateOutcome } from '../../src/domain/strategy/gate';
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
 */
export async function admitDeal(deps: AdmissionDeps, input: AdmitDealInput): Promise<DealAdmission> {
  const audits: AuditEntry[] = [];
  const admission = await deps.db.transaction().execute(async (trx): Promise<DealAdmission> => {
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
    if (!decided.admitted || input.clear === undefined) return decided;
    return { ...decided, ...(await clearDeal(trx, deps.governor, input, decided, audits)) };
  });
  // After the commit, in one transaction of its own: the ledger and symbol locks are never held while
  // waiting for the audit chain. Keyed, so a retry after a crash in between appends each once.
  if (audits.length > 0) await recordAuditEvents(deps.db, audits);
  return admission;
}

/**
 * The control plane, the strategy gate (for an order), the risk reserve, prod eligibility and the permit,
 * in seed order, in the caller's transaction. A gate that refuses after the reserve gives the reservation
 * back there and then, so a denied deal holds nothing. A retry after the commit finds its reservation and
 * answers the first decision: the control plane is not asked again (the last gate asks it, before the
 * executor), and the strategy gate answers its first decision (kept by trace id), so the same size.
 */
async function clearDeal(
  trx: Transaction<Database>,
  governor: GovernorSettings,
  input: AdmitDealInput,
  admitted: Extract<DealAdmission, { admitted: true }>,
  audits: AuditEntry[],
): Promise<Pick<DealAdmission, 'clearance' | 'strategy'>> {
  const clear = input.clear!;
  const { executionClass } = admitted;
  const at = new Date(clear.at);
  let exit = false;
  let amount = clear.amount;
  const prior = await findReservation(trx, clear.key);
  const state = prior === undefined ? await readControlPlaneState(trx, { share: true }) : undefined;
  const position = positionKeyOf({ strategyId: input.strategyId, engine: input.engine, symbol: clear.symbol });
  const refused = (reason: string, detail: string): Clearance => ({
    cleared: false,
    gate: 'control_plane',
    reason,
    detail,
  });
  let strategy: StrategyGateOutcome | undefined;
  if (clear.strategy !== undefined) {
    // The control plane before the strategy gate, as the deal's own steps ask them; an exit is judged on
    // the order's size, holding nothing (it is held below, at the size the gate leaves it).
    if (state !== undefined) {
      const reduce =
        clear.side === undefined
          ? undefined
          : await readExitCheck(trx, { dealId: input.dealId, position, side: clear.side, amount });
      const entry = enforceControlPlane(executionClass, state, reduce);
      if (!entry.allowed) return { clearance: refused(entry.reason, entry.detail) };
    }
    strategy = await evaluateStrategyOrder(trx, clear.strategy);
    const reading = readStrategyOutcome(strategy, clear.strategy.strategyId, amount, admitted.policy.strategyRequired);
    // Denied, shadow or waiting for a human: nothing is held, and the deal's strategy step goes on from here.
    if (reading.next !== 'go') return { strategy };
    amount = reading.amount;
  }
  const cleared = (clearance: Clearance) => ({ clearance, ...(strategy !== undefined ? { strategy } : {}) });
  if (state !== undefined) {
    // An exit holds its part of the position (judged in src/domain/deals/exits.ts): in reduce mode only
    // exits pass, and in any mode an exit takes no daily exposure.
    const reduce =
      clear.side === undefined
        ? undefined
        : await holdExit(trx, {
            key: clear.key,
            dealId: input.dealId,
            position,
            side: clear.side,
            amount,
            actor: clear.actor,
          });
    exit = reduce?.reduces === true;
    const entry = enforceControlPlane(executionClass, state, reduce);
    if (!entry.allowed) {
      if (exit) await dropExitHold(trx, clear.key);
      return cleared(refused(entry.reason, entry.detail));
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
    return cleared({ cleared: false, gate: 'risk', reason: reserved.reason, detail: reserved.detail });
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
    if (!eligible.ok) return cleared(await refusedAfterReserve('prod_eligibility', eligible.reason, eligible.detail));
  }

  const request = { key: clear.key, dealId: input.dealId, symbol: clear.symbol, at, actor: clear.actor };
  const permit = await issuePermitInTransaction(trx, governor, request);
  audits.push(...permitAudits(request, permit));
  if (!permit.granted) return cleared(await refusedAfterReserve('permit', permit.reason, permit.detail, permit.disarm));
  return cleared({ cleared: true, permitId: permit.permitId, expiresAt: permit.expiresAt });
}
