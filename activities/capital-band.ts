import type { Logger } from '@temporalio/common';
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

/** A nudge run off its callers' path (see inBackground). */
export interface BackgroundNudge {
  /** Asks for a nudge; returns at once. A failure is logged on `log`. */
  request(log: Pick<Logger, 'warn'>): void;
  /** Resolves once no nudge runs or waits. */
  idle(): Promise<void>;
}

/**
 * `nudge` off the callers' path, one at a time: a deal's answer never waits for the band's read, and a
 * request while one runs asks for one more after it (which reads every reserve committed meanwhile),
 * however many reserves commit at once. A failure is logged on the latest requester's logger; the
 * tripwire's schedule measures the band again anyway.
 */
export function inBackground(nudge: () => Promise<void>): BackgroundNudge {
  let running: Promise<void> | undefined;
  let again = false;
  let logger: Pick<Logger, 'warn'> | undefined;
  const run = async () => {
    do {
      again = false;
      try {
        await nudge();
      } catch (error) {
        logger?.warn('capital band nudge failed', { error: String(error) });
      }
    } while (again);
    running = undefined;
  };
  return {
    request(log) {
      logger = log;
      if (running) again = true;
      else running = run();
    },
    idle: async () => {
      while (running) await running;
    },
  };
}
