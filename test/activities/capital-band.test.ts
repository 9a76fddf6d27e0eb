import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBandWatcher, inBackground } from '../../activities/capital-band';
import { reserveExposure } from '../../activities/gates/risk';
import { readCapitalUsage } from '../../src/db/capital.repository';
import { upsertRiskPolicy } from '../../src/db/risk.repository';
import { DEFAULT_CAPITAL_BANDS } from '../../src/domain/capital/bands';
import type { ControlPlanePort } from '../../src/domain/control-plane/port';
import { createTestDatabase, type TestDatabase } from '../helpers';

// Seed 000's GLOBAL daily exposure cap is 1500: band B begins at 375, C at 750, D at 1125.
describe('capital band watcher on PostgreSQL', () => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await createTestDatabase();
  });
  afterEach(async () => {
    await t.drop();
  });

  const port = () => ({ refreshCapitalBand: vi.fn<ControlPlanePort['refreshCapitalBand']>(async () => undefined) });
  const reserve = async (key: string, engine: string, amount: number) =>
    expect(await reserveExposure(t.db, { key, engine, amount, actor: 'test', at: new Date() })).toMatchObject({
      ok: true,
    });
  const band = async () => (await readCapitalUsage(t.db, DEFAULT_CAPITAL_BANDS)).band;

  it('nudges the control plane once per band crossed, naming the actor', async () => {
    const controlPlane = port();
    const nudge = createBandWatcher({ db: t.db, capitalBands: DEFAULT_CAPITAL_BANDS, controlPlane });
    await nudge('risk-guard'); // first reading: A
    await nudge('risk-guard');
    expect(controlPlane.refreshCapitalBand.mock.calls).toEqual([[{ actor: 'risk-guard' }]]);

    await reserve('w1', 'WHOLESALE', 300); // 300/1500: still A
    await nudge('risk-guard');
    expect(controlPlane.refreshCapitalBand).toHaveBeenCalledTimes(1);

    await reserve('w2', 'WHOLESALE', 100); // 400/1500: B
    expect(await band()).toBe('B');
    await nudge('tripwire');
    await nudge('tripwire');
    expect(controlPlane.refreshCapitalBand.mock.calls).toEqual([[{ actor: 'risk-guard' }], [{ actor: 'tripwire' }]]);

    // No GLOBAL cap: headroom unknown, read as D.
    await upsertRiskPolicy(
      t.db,
      {
        engine: 'GLOBAL',
        maxDailyLoss: 250,
        maxDailyExposure: null,
        maxOpenRisk: null,
        maxActionsPerDay: null,
        enabled: true,
      },
      'alice',
    );
    expect(await band()).toBe('D');
    await nudge('risk-guard');
    expect(controlPlane.refreshCapitalBand).toHaveBeenCalledTimes(3);
  });

  it('a failed nudge is not remembered: the next call tries again', async () => {
    const controlPlane = port();
    controlPlane.refreshCapitalBand.mockRejectedValueOnce(new Error('temporal unavailable'));
    const nudge = createBandWatcher({ db: t.db, capitalBands: DEFAULT_CAPITAL_BANDS, controlPlane });
    await expect(nudge('risk-guard')).rejects.toThrow('temporal unavailable');
    await nudge('risk-guard');
    await nudge('risk-guard');
    expect(controlPlane.refreshCapitalBand).toHaveBeenCalledTimes(2);
  });

  it('judges the band on the thresholds it is given', async () => {
    await reserve('w1', 'WHOLESALE', 400);
    const controlPlane = port();
    // 400/1500 is B on the default thresholds, still A when B begins at half the cap.
    const strict = createBandWatcher({ db: t.db, capitalBands: { B: 0.5, C: 0.7, D: 0.9 }, controlPlane });
    await strict('a');
    await reserve('w2', 'WHOLESALE', 100); // 500/1500 = 0.33: A on these thresholds
    await strict('a');
    expect(controlPlane.refreshCapitalBand).toHaveBeenCalledTimes(1);
    await reserve('w3', 'CAPITAL', 300); // 800/1500 = 0.53: B
    await strict('a');
    expect(controlPlane.refreshCapitalBand).toHaveBeenCalledTimes(2);
  });
});

// After a reserve the nudge runs off the deal's path (activities/deal-gates.ts): one at a time.
describe('a nudge in the background', () => {
  it('answers its requester at once, and folds every request made while one runs into one more run', async () => {
    let release!: () => void;
    let runs = 0;
    const background = inBackground(async () => {
      runs++;
      if (runs === 1) await new Promise<void>((resolve) => (release = resolve));
    });
    const log = { warn: vi.fn() };
    background.request(log);
    for (let i = 0; i < 5; i++) background.request(log);
    expect(runs).toBe(1); // the first still waits, and the requests returned
    release();
    await background.idle();
    expect(runs).toBe(2);
    background.request(log);
    await background.idle();
    expect(runs).toBe(3);
    expect(log.warn).not.toHaveBeenCalled();
  });

  it("logs a failed nudge on the latest requester's logger, and runs the next request", async () => {
    let fail = true;
    const background = inBackground(async () => {
      if (fail) throw new Error('temporal unavailable');
    });
    const first = { warn: vi.fn() };
    background.request(first);
    await background.idle();
    expect(first.warn).toHaveBeenCalledWith('capital band nudge failed', { error: 'Error: temporal unavailable' });
    fail = false;
    const second = { warn: vi.fn() };
    background.request(second);
    await background.idle();
    expect(second.warn).not.toHaveBeenCalled();
  });
});
