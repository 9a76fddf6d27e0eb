import type { Kysely } from 'kysely';
import type { CapitalBand, CapitalBandThresholds } from '../src/domain/capital/bands';
import { readCapitalUsage } from '../src/db/capital.repository';
import type { Database } from '../src/db/database';
import type { ControlPlanePort } from '../src/domain/control-plane/port';

/**
 * Tells the control plane when capital usage crossed into another band, so
 * its state (and what the playbook and review read) follows the ledger. The
 * signal is only a nudge: the control plane measures the band itself.
 */
export function createBandWatcher(deps: {
  db: Kysely<Database>;
  capitalBands: CapitalBandThresholds;
  controlPlane: Pick<ControlPlanePort, 'refreshCapitalBand'>;
}) {
  let lastSeen: CapitalBand | undefined;
  return async function nudgeCapitalBand(actor: string): Promise<void> {
    const { band } = await readCapitalUsage(deps.db, deps.capitalBands);
    if (band === lastSeen) return;
    await deps.controlPlane.refreshCapitalBand({ actor });
    lastSeen = band;
  };
}
