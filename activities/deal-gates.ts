import type { Kysely } from 'kysely';
import type { WardenClient } from '../src/client';
import type { Database } from '../src/db/database';
import { recordAuditEvent } from '../src/db/audit.repository';
import { assertProdEligible } from '../src/db/heimdall.repository';
import { recordKpiEvent } from '../src/db/kpi.repository';
import { consumePermit, issuePermit, revokePermit } from '../src/db/permits.repository';
import { releaseReservation, reserveExposure, settleResult } from '../src/db/risk.repository';
import type { DealResult } from '../src/deals/types';
import type { GovernorSettings } from '../src/permits/rules';

export interface DealActivityDeps {
  db: Kysely<Database>;
  governor: GovernorSettings;
  /** Reaches the control plane for auto-disarm (signal-with-start, so it is never lost). */
  controlPlane: Pick<WardenClient, 'setApplyMode'>;
}

// Each activity takes an idempotency key from the workflow: a retry after a
// commit returns the first outcome and counts nothing twice.
export function createDealActivities({ db, governor, controlPlane }: DealActivityDeps) {
  return {
    reserveExposure: (input: { key: string; engine: string; amount: number; actor: string; at: string }) =>
      reserveExposure(db, { ...input, at: new Date(input.at) }),

    settleResult: (input: { key: string; realizedLoss: number; actor: string }) => settleResult(db, input),

    releaseReservation: (input: { key: string; actor: string; reason: string }) => releaseReservation(db, input),

    assertProdEligible: (input: { recommendationId: string; domain?: string; actor: string; correlationId: string }) => assertProdEligible(db, input),

    issuePermit: (input: { key: string; dealId: string; symbol: string; at: string; actor: string }) =>
      issuePermit(db, governor, { ...input, at: new Date(input.at) }),

    consumePermit: (input: { permitId: string; dealId: string; at: string }) => consumePermit(db, { ...input, at: new Date(input.at) }),

    revokePermit: (input: { permitId: string; reason: string }) => revokePermit(db, input),

    /** Seed 003 auto-disarm: the control plane drops to dry_run, audited there like any change. */
    async disarmToDryRun(input: { symbol: string; dealId: string; detail: string }): Promise<void> {
      await controlPlane.setApplyMode({
        mode: 'dry_run',
        actor: 'governor',
        reason: `auto-disarm: burst_limit_breach on ${input.symbol} (deal ${input.dealId}: ${input.detail})`,
      });
    },

    recordKpi: (input: { key: string; domain: string; metric: string; success: boolean; value: number; at: string }) =>
      recordKpiEvent(db, { ...input, at: new Date(input.at), source: 'dealExecution' }),

    async recordDealOutcome(input: { key: string; actor: string; result: DealResult }): Promise<void> {
      await recordAuditEvent(db, {
        actor: input.actor,
        kind: `deal.${input.result.status}`,
        subject: `deal:${input.result.dealId}`,
        details: { result: input.result },
        idempotencyKey: input.key,
      });
    },
  };
}

export type DealActivities = ReturnType<typeof createDealActivities>;
