import { log } from '@temporalio/activity';
import type { Kysely } from 'kysely';
import { type CapitalBandThresholds, DEFAULT_CAPITAL_BANDS } from '../src/domain/capital/bands';
import { createBandWatcher } from './capital-band';
import type { WardenClient } from '../src/client';
import type { Database } from '../src/db/database';
import { enforceControlPlane } from '../src/domain/control-plane/rules';
import type { ApplyMode, ExecutionClass } from '../src/domain/control-plane/types';
import { appendAuditEvent } from '../src/db/audit.repository';
import { readControlPlaneState } from '../src/db/control-plane.repository';
import { assertProdEligible } from '../src/db/heimdall.repository';
import { recordKpiEvent } from '../src/db/kpi.repository';
import { consumePermit, issuePermit, revokePermit } from '../src/db/permits.repository';
import { releaseReservation, reserveExposure, settleResult } from '../src/db/risk.repository';
import type { DealResult } from '../src/domain/deals/types';
import type { GovernorSettings } from '../src/domain/permits/rules';

export type ExecutionAuthorization =
  | { authorized: true; applyMode: ApplyMode }
  | { authorized: false; gate: 'control_plane' | 'permit'; reason: string; detail: string };

export interface DealActivityDeps {
  db: Kysely<Database>;
  governor: GovernorSettings;
  /** Reaches the control plane for auto-disarm (signal-with-start, so it is never lost). */
  controlPlane: Pick<WardenClient, 'setApplyMode' | 'refreshCapitalBand'>;
  capitalBands?: CapitalBandThresholds;
}

// Each activity takes an idempotency key from the workflow: a retry after a
// commit returns the first outcome and counts nothing twice.
export function createDealActivities({ db, governor, controlPlane, capitalBands = DEFAULT_CAPITAL_BANDS }: DealActivityDeps) {
  const nudgeCapitalBand = createBandWatcher({ db, capitalBands, controlPlane });
  return {
    async reserveExposure(input: { key: string; engine: string; amount: number; actor: string; at: string }) {
      const decision = await reserveExposure(db, { ...input, at: new Date(input.at) });
      // The reservation stands whatever happens to the nudge; the tripwire's run re-measures too.
      if (decision.ok) await nudgeCapitalBand('risk-guard').catch((error: unknown) => log.warn('capital band nudge failed', { error: String(error) }));
      return decision;
    },

    settleResult: (input: { key: string; realizedLoss: number; actor: string }) => settleResult(db, input),

    releaseReservation: (input: { key: string; actor: string; reason: string }) => releaseReservation(db, input),

    assertProdEligible: (input: { recommendationId: string; domain?: string; actor: string; correlationId: string }) => assertProdEligible(db, input),

    issuePermit: (input: { key: string; dealId: string; symbol: string; at: string; actor: string }) =>
      issuePermit(db, governor, { ...input, at: new Date(input.at) }),

    /**
     * The last gate before the executor: the control plane is read again (a
     * kill switch engaged since the first check stops the deal here), and only
     * then is the permit used.
     */
    async authorizeExecution(input: { permitId: string; dealId: string; executionClass: ExecutionClass; at: string }): Promise<ExecutionAuthorization> {
      const decision = enforceControlPlane(input.executionClass, await readControlPlaneState(db));
      if (!decision.allowed) return { authorized: false, gate: 'control_plane', reason: decision.reason, detail: decision.detail };
      const used = await consumePermit(db, { permitId: input.permitId, dealId: input.dealId, at: new Date(input.at) });
      if (!used.ok) return { authorized: false, gate: 'permit', reason: used.reason, detail: `permit ${input.permitId} could not be used` };
      return { authorized: true, applyMode: decision.applyMode };
    },

    revokePermit: (input: { permitId: string; reason: string }) => revokePermit(db, input),

    /** Seed 003 auto-disarm: the control plane drops to dry_run, audited there like any change. */
    async disarmToDryRun(input: { symbol: string; dealId: string; detail: string }): Promise<void> {
      await controlPlane.setApplyMode({
        mode: 'dry_run',
        actor: 'governor',
        reason: `auto-disarm: burst_limit_breach on ${input.symbol} (deal ${input.dealId}: ${input.detail})`,
      });
    },

    /** The deal's audit event and, for a deal that reached the executor, its KPI event: one transaction. */
    async recordDealOutcome(input: {
      key: string;
      actor: string;
      result: DealResult;
      compensation: string | null;
      kpi: { domain: string; metric: string; success: boolean; value: number; at: string } | null;
    }): Promise<void> {
      await db.transaction().execute(async (trx) => {
        if (input.kpi) await recordKpiEvent(trx, { ...input.kpi, at: new Date(input.kpi.at), source: 'dealExecution', key: `${input.key}:kpi` });
        await appendAuditEvent(trx, {
          actor: input.actor,
          kind: `deal.${input.result.status}`,
          subject: `deal:${input.result.dealId}`,
          details: { result: input.result, compensation: input.compensation },
          idempotencyKey: input.key,
        });
      });
    },
  };
}

export type DealActivities = ReturnType<typeof createDealActivities>;
