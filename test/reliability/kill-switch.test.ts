// Issue 15 item 3, small: the kill switch engaged while 40 deals run, against
// Warden's production worker as its own process.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../../reliability/lib/cluster';
import { runKillSwitch } from '../../reliability/scenarios/kill-switch';

describe('reliability: kill switch in flight', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ dir: mkdtempSync(path.join(tmpdir(), 'warden-ks-')) });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('no executor call starts after the engage is persisted, and every deal ends typed with nothing held', async () => {
    const result = await runKillSwitch(cluster, { deals: 40, repeats: 1, concurrency: 20 });
    expect(result.failures).toEqual([]);
    expect(result.passed).toBe(true);
    // Some deals were inside the executor at the engage, and the kill switch denied the rest.
    expect(result.figures.executed).toBeGreaterThan(0);
    expect(result.figures.denied).toBeGreaterThan(0);
    expect((result.figures.executed as number) + (result.figures.denied as number)).toBe(40);
    expect(result.figures.engage_to_first_denial_ms_p50).toBeGreaterThanOrEqual(0);
  }, 180_000);
});
