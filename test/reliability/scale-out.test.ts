// Issue 15 item 7, small: two worker processes (each serving the API) on one
// task queue and database share the API's rate limits, agree on /metrics, and
// keep the kill switch's and the load's invariants.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../../reliability/lib/cluster';
import { runScaleOut } from '../../reliability/scenarios/scale-out';

const LIMIT = 12;

describe('reliability: scale-out to two processes', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({
      dir: mkdtempSync(path.join(tmpdir(), 'warden-scale-')),
      workers: 2,
      env: { WARDEN_RATE_LIMIT_PER_MINUTE: String(LIMIT) },
    });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('one limit across both APIs, equal governance metrics, and the kill switch and load invariants hold', async () => {
    const result = await runScaleOut(cluster, {
      rateLimitPerMinute: LIMIT,
      killSwitch: { deals: 20, repeats: 1, concurrency: 10, amount: 0.01 },
      load: { deals: 20, concurrency: 10, faults: false },
    });
    expect(result.failures).toEqual([]);
    expect(result.figures['accepted across processes']).toBe(LIMIT);
    expect(result.figures['governance series compared']).toBeGreaterThan(10);
    expect(result.figures['kill-switch: denied']).toBeGreaterThan(0);
    expect(result.passed).toBe(true);
  }, 300_000);
});
