import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../../reliability/lib/cluster';
import type { SentDeal } from '../../reliability/lib/deals';
import type { ExecutorCall } from '../../reliability/lib/recording-executor';
import type { ScenarioResult } from '../../reliability/lib/scenario';
import { checkExecutor, checkTypedResults } from '../../reliability/lib/verdicts';
import { runLoad } from '../../reliability/scenarios/load';

// Issue 15 items 1 and 2, small: 40 deals at start concurrency 20 against the seed caps, through
// Warden's production worker as its own process, with a worker SIGKILL+restart and a PostgreSQL crash
// in the middle (the full harness adds two more kills and a Temporal restart: `npm run chaos`).
describe('load under faults (small)', () => {
  let cluster: Cluster;
  let result: ScenarioResult;

  beforeAll(async () => {
    cluster = await startCluster({ dir: mkdtempSync(path.join(tmpdir(), 'warden-load-')) });
    result = await runLoad(cluster, {
      deals: 40,
      concurrency: 20,
      faults: ['worker', 'postgres'],
      dealWithinMs: 90_000,
    });
  }, 240_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('ends every deal typed, within every cap, with the ledger, the executor and the audit chain agreeing', () => {
    const f = result.figures;
    expect(result.failures).toEqual([]);
    expect(result.passed).toBe(true);
    expect(f['deals sent']).toBe(40);
    expect(f['deals workflow_failed']).toBe(0);
    expect(f['deals stuck']).toBe(0);
    expect(f['deals executed']).toBeGreaterThan(0);
    // The caps were met: some deals were refused by the risk guard.
    const capDenials = Object.entries(f)
      .filter(([key]) => key.startsWith('denied risk:'))
      .reduce((sum, [, n]) => sum + Number(n), 0);
    expect(capDenials).toBeGreaterThan(0);
    expect(f['faults: worker SIGKILL+restart']).toBe(1);
    expect(f['faults: PostgreSQL crash']).toBe(1);
    expect(f['worker crashes (unasked)']).toBe(0);
    expect(f['audit verify']).toBe('ok');
    expect(f['permits issued at end']).toBe(0);
    // Only deals waiting for reconciliation may hold money; the executor saw each executed deal once.
    expect(f['reservations held at end']).toBe(f['deals needs_reconciliation']);
    expect(f['executor deals']).toBe(Number(f['deals executed']) + Number(f['waiting deals the executor saw']));
  });

  it('the verdicts name a let-through, a double execution and an untyped end', () => {
    const deal = (dealId: string, outcome: SentDeal['outcome']): SentDeal => ({
      dealId,
      engine: 'CAPITAL',
      amount: 10,
      workflowId: `deal-${dealId}`,
      outcome,
      startedAt: 0,
      endedAt: 0,
    });
    const call = (dealId: string, runId: string, attempt = 1): ExecutorCall => ({
      event: 'start',
      dealId,
      amount: 10,
      engine: 'CAPITAL',
      workflowId: `deal-${dealId}`,
      runId,
      activityId: '1',
      attempt,
      at: 0,
    });
    const deals = [
      deal('a', { kind: 'closed', result: { status: 'denied', dealId: 'a', gate: 'risk', reason: 'x', detail: 'y' } }),
      deal('b', {
        kind: 'waiting',
        result: { status: 'needs_reconciliation', dealId: 'b', applyMode: 'live', permitId: 'p', cause: 'timeout' },
      }),
      deal('c', { kind: 'stuck', stage: 'execute' }),
    ];
    const executor = checkExecutor(
      { db: cluster.db, deals, calls: [call('a', 'r1'), call('b', 'r1'), call('b', 'r2')], lossOf: () => 0 },
      new Map(),
    );
    expect(executor.failures).toEqual([
      expect.stringContaining('double execution: deal b'),
      expect.stringContaining('let through: deal a reported denied'),
    ]);
    expect(checkTypedResults(deals).failures).toEqual([expect.stringContaining('deal c: no result, stuck at execute')]);
  });
});
