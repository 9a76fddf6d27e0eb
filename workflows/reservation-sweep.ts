import { proxyActivities } from '@temporalio/workflow';
import type { ReservationSweepActivities, SweepReport } from '../src/domain/deals/activities';

const { sweepOrphanedHoldings } = proxyActivities<ReservationSweepActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumInterval: '30 seconds' },
});

/**
 * Run by a Schedule (and on demand): reservations and permits still held by a
 * deal whose workflow is closed are released when the deal provably never
 * reached its executor, and flagged for reconciliation when it may have.
 * A running deal's holdings are never touched.
 */
export async function reservationSweep(): Promise<SweepReport> {
  return sweepOrphanedHoldings({ at: new Date().toISOString() });
}
