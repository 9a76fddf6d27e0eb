// Issue 15 item 5, small: change requests and expansion proposals with racing
// duplicate and conflicting approvals and a worker SIGKILL+restart in the
// middle, against Warden's production worker as its own process.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../../reliability/lib/cluster';
import { runApprovals } from '../../reliability/scenarios/approvals';

describe('reliability: approvals under faults', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ dir: mkdtempSync(path.join(tmpdir(), 'warden-approvals-')) });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('each request ends once, consistent with its approvals; none counted twice or lost, across a worker restart', async () => {
    const result = await runApprovals(cluster, { requests: 12, restartWorker: true, concurrency: 6 });
    expect(result.failures, JSON.stringify(result.figures)).toEqual([]);
    expect(result.passed).toBe(true);
    expect(result.figures).toMatchObject({ change_requests: 11, proposals: 1 });
    expect(result.figures.worker_restart_ms).toBeGreaterThan(0);
    // The races were real: some requests applied, some were rejected, and self-approvals were refused.
    expect(result.figures.cr_applied).toBeGreaterThan(0);
    expect(result.figures.cr_rejected).toBeGreaterThan(0);
    expect(result.figures.refused_update_self_approval).toBeGreaterThan(0);
  }, 90_000);
});
