// The reservation sweep (issue 13, invariants 2 and 9): a deal workflow that
// was terminated, timed out or lost keeps its reservation and permit for
// ever. The sweep finds holdings whose workflow is closed (asking Temporal
// through the DealWorkflowPort the worker implements), releases those that
// provably never reached the executor and flags the rest for reconciliation.
import type { Kysely } from 'kysely';
import type { Database } from '../src/db/database';
import { recordAuditEvent } from '../src/db/audit.repository';
import { listDealHoldings, readDealHolding, settleOrphanClaim } from '../src/db/deal-claims.repository';
import { setPermitStatus } from '../src/db/permits.repository';
import { AuditKind } from '../src/domain/audit/kinds';
import type { ReservationSweepActivities, SweepReport } from '../src/domain/deals/activities';
import { type DealHolding, sweepActionFor } from '../src/domain/deals/orphans';
import type { DealWorkflowPort, DealWorkflowStatus } from '../src/domain/deals/port';
import { releaseInTransaction } from './gates/risk';

export interface ReservationSweepDeps {
  db: Kysely<Database>;
  workflows: DealWorkflowPort;
}

const SWEEPER = 'reservation-sweep';

/** The workflow a holding belongs to: its claim's, or (before claims) the id every client starts deals under. */
export const holdingWorkflowId = (h: DealHolding) => h.workflowId ?? `deal-${h.dealId}`;

export function createReservationSweepActivities({ db, workflows }: ReservationSweepDeps): ReservationSweepActivities {
  return {
    async sweepOrphanedHoldings(): Promise<SweepReport> {
      const report: SweepReport = { released: [], flagged: [], kept: 0 };
      for (const seen of await listDealHoldings(db)) {
        const workflow = await workflows.dealWorkflowStatus(holdingWorkflowId(seen));
        if (sweepActionFor(seen, workflow) === 'keep') {
          report.kept++;
          continue;
        }
        const done = await sweepDeal(db, seen.dealId, workflow);
        if (done === 'release') report.released.push(seen.dealId);
        else if (done === 'flag') report.flagged.push(seen.dealId);
        else report.kept++;
      }
      return report;
    },
  };
}

/** One closed workflow's holding, judged again on its locked rows, then released or flagged; audited once. */
async function sweepDeal(db: Kysely<Database>, dealId: string, workflow: DealWorkflowStatus) {
  const { action, holding } = await db.transaction().execute(async (trx) => {
    const holding = await readDealHolding(trx, dealId, { forUpdate: true });
    const action = sweepActionFor(holding, workflow);
    if (action === 'release') {
      for (const permit of holding.permits.filter((p) => p.status === 'issued'))
        await setPermitStatus(trx, permit.id, { status: 'revoked' });
      if (holding.reservation)
        await releaseInTransaction(trx, {
          key: holding.reservation.key,
          actor: SWEEPER,
          reason: `workflow ${workflow} before its permit was used`,
        });
      await settleOrphanClaim(trx, dealId, {
        stage: 'done',
        result: {
          status: 'failed',
          dealId,
          error: `its workflow closed (${workflow}) before the executor; released by the reservation sweep`,
          compensated: true,
        },
      });
    }
    if (action === 'flag') await settleOrphanClaim(trx, dealId, { stage: 'needs_reconciliation' });
    return { action, holding };
  });
  if (action === 'keep') return action;
  // Keyed: the chain's lock is never waited for under the ledger's, and a retry appends once.
  await recordAuditEvent(db, {
    actor: SWEEPER,
    kind: action === 'release' ? AuditKind.dealLifecycle.orphanReleased : AuditKind.dealLifecycle.orphanFlagged,
    subject: `deal:${dealId}`,
    details: {
      workflowId: holdingWorkflowId(holding),
      workflow,
      stage: holding.stage,
      reservation: holding.reservation,
      permits: holding.permits,
      cause:
        action === 'flag'
          ? `its workflow closed (${workflow}) after the permit was used: the order may have executed`
          : undefined,
    },
    idempotencyKey: `deal-sweep:${action}:${dealId}`,
  });
  return action;
}
