import { Context } from '@temporalio/activity';
import type { Logger } from '@temporalio/common';
import type { Kysely, Transaction } from 'kysely';
import { type CapitalBandThresholds, DEFAULT_CAPITAL_BANDS } from '../src/domain/capital/bands';
import { createBandWatcher, inBackground } from './capital-band';
import type { Database } from '../src/db/database';
import type { ControlPlanePort } from '../src/domain/control-plane/port';
import { enforceControlPlane, tradingStateOf } from '../src/domain/control-plane/rules';
import { holdsExit } from '../src/db/positions.repository';
import { effectiveApplyMode } from '../src/domain/deals/policy';
import { appendAuditEvent } from '../src/db/audit.repository';
import { AuditKind } from '../src/domain/audit/kinds';
import { readControlPlaneState } from '../src/db/control-plane.repository';
import { recordKpiEvent } from '../src/db/kpi.repository';
import { consumePermitIn, issuePermit, revokePermit } from './gates/permits';
import { assertProdEligible } from './gates/prod-eligibility';
import { releaseReservation, reserveExposure, settleResult } from './gates/risk';
import { auditReconciliation, claimDeal } from './gates/claims';
import { recordClaimOutcome } from '../src/db/deal-claims.repository';
import type { DealActivities, DealOutcomeRecord, DealPolicyActivities } from '../src/domain/deals/activities';
import { admitDeal } from './gates/admission';
import { engageOnKill } from './strategy-gate';
import type { GovernorSettings } from '../src/domain/permits/rules';

export interface DealActivityDeps {
  db: Kysely<Database>;
  governor: GovernorSettings;
  /** Does this worker serve an `executeDeal` on Warden's own queue? Without one, admission denies `no_executor`. */
  executorServed?: boolean;
  /** Reaches the control plane for auto-disarm (signal-with-start, so it is never lost). */
  controlPlane: Pick<ControlPlanePort, 'setApplyMode' | 'refreshCapitalBand' | 'engageKillSwitch'>;
  capitalBands?: CapitalBandThresholds;
}

// Each activity takes an idempotency key from the workflow: a retry after a
// commit returns the first outcome and counts nothing twice. The gates'
// transactions (read → decide → write + audit) are in ./gates.
export function createDealActivities({
  db,
  governor,
  controlPlane,
  capitalBands = DEFAULT_CAPITAL_BANDS,
  executorServed = false,
}: DealActivityDeps): DealActivities & DealPolicyActivities {
  const nudgeCapitalBand = createBandWatcher({ db, capitalBands, controlPlane });
  // The reservation stands whatever happens to the nudge; the tripwire's run re-measures too.
  const afterReserve = inBackground(() => nudgeCapitalBand('risk-guard'));
  // The activity's own logger, kept past its end: the nudge may run after the activity answered. Called
  // as a plain function (the gates' tests do), there is no activity: the console then.
  const nudgeAfterReserve = () => {
    let logger: Pick<Logger, 'warn'> = console;
    try {
      logger = Context.current().log;
    } catch {
      // not inside an activity
    }
    afterReserve.request(logger);
  };
  return {
    async admitDeal(input) {
      const admission = await admitDeal({ db, governor, executorServed }, input);
      // A KILL verdict of the strategy gate, decided in admission, engages from here.
      if (input.clear?.strategy && admission.strategy)
        await engageOnKill(controlPlane, input.clear.strategy, admission.strategy);
      if (admission.clearance?.cleared) nudgeAfterReserve();
      return admission;
    },

    async reserveExposure({ exit, ...input }) {
      const decision = await reserveExposure(db, { ...input, at: new Date(input.at) }, exit);
      if (decision.ok) nudgeAfterReserve();
      return decision;
    },

    settleResult: ({ outcome, ...input }) => settleResult(db, input, outcome && ((trx) => recordOutcome(trx, outcome))),

    releaseReservation: (input) => releaseReservation(db, input),

    assertProdEligible: (input) => assertProdEligible(db, input),

    issuePermit: (input) => issuePermit(db, governor, { ...input, at: new Date(input.at) }),

    /**
     * The last gate before the executor: the control plane is read again (a
     * kill switch engaged since the first check stops the deal here), and only
     * then is the permit used — in one transaction that holds the control
     * plane's row FOR SHARE, so an engage (FOR UPDATE) commits either before
     * this read and the deal stops, or after its permit was used: never a
     * permit used after the engage was persisted.
     */
    authorizeExecution: (input) =>
      db.transaction().execute(async (trx) => {
        const state = await readControlPlaneState(trx, { share: true });
        // In reduce mode only a deal admitted as an exit (it holds its part of the position) goes on.
        const reduce =
          tradingStateOf(state) !== 'reducing'
            ? undefined
            : (await holdsExit(trx, input.dealId))
              ? { reduces: true as const }
              : { reduces: false as const, detail: 'the deal was not admitted as an exit of its position' };
        const decision = enforceControlPlane(input.executionClass, state, reduce);
        if (!decision.allowed)
          return {
            authorized: false,
            gate: 'control_plane',
            reason: decision.reason,
            detail: decision.detail,
          };
        // OBSERVE_ONLY never executes (dry_run); SANDBOX_EXEC never goes past testnet.
        const applyMode = effectiveApplyMode(input.executionClass, decision.applyMode);
        const used = await consumePermitIn(trx, {
          permitId: input.permitId,
          dealId: input.dealId,
          at: new Date(input.at),
          ...(input.run ? { run: { ...input.run, applyMode } } : {}),
        });
        if (!used.ok)
          return {
            authorized: false,
            gate: 'permit',
            reason: used.reason,
            detail: 'detail' in used ? used.detail : `permit ${input.permitId} could not be used`,
            ...('ambiguous' in used && used.ambiguous ? { ambiguous: true } : {}),
          };
        return {
          authorized: true,
          applyMode,
          executorTimeoutSeconds: governor.executorTimeoutSeconds ?? 60,
        };
      }),

    revokePermit: (input) => revokePermit(db, input),

    claimDeal: (input) => claimDeal(db, input),

    auditReconciliation: (input) => auditReconciliation(db, input),

    /** Seed 003 auto-disarm: the control plane drops to dry_run, audited there like any change. */
    async disarmToDryRun(input) {
      await controlPlane.setApplyMode({
        mode: 'dry_run',
        actor: 'governor',
        reason: `auto-disarm: burst_limit_breach on ${input.symbol} (deal ${input.dealId}: ${input.detail})`,
      });
    },

    /** The deal's audit event and, for a deal that reached the executor, its KPI event: one transaction. */
    async recordDealOutcome(input) {
      await db.transaction().execute((trx) => recordOutcome(trx, input));
    },
  };
}

/** A deal's end, in the caller's transaction (its own, or the settle's): each write keyed, so once. */
async function recordOutcome(trx: Transaction<Database>, input: DealOutcomeRecord): Promise<void> {
  if (input.kpi)
    await recordKpiEvent(trx, {
      ...input.kpi,
      at: new Date(input.kpi.at),
      source: 'dealExecution',
      key: `${input.key}:kpi`,
    });
  if (input.claim)
    await recordClaimOutcome(trx, {
      dealId: input.result.dealId,
      workflowId: input.claim.workflowId,
      runId: input.claim.runId,
      result: input.result,
    });
  await appendAuditEvent(trx, {
    actor: input.actor,
    kind: AuditKind.deal[input.result.status],
    subject: `deal:${input.result.dealId}`,
    details: { result: input.result, compensation: input.compensation },
    idempotencyKey: input.key,
  });
}
