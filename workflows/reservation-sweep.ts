import { proxyActivities } from '@temporalio/workflow';
import type { ReservationSweepActivities, SweepReport } from '../src/domain/deals/activities';
import { Visibility } from './lib/visibility';

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
  const visibility = new Visibility().decide();
  const report = await sweepOrphanedHoldings({ at: new Date().toISOString() });
  visibility.show(
    { outcome: report.flagged.length > 0 ? 'flagged' : report.released.length > 0 ? 'released' : 'clean' },
    `Released ${report.released.length}, flagged for reconciliation ${report.flagged.length}, kept ${report.kept}`,
  );
  return report;
}
