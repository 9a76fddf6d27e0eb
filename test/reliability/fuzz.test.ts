import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFuzzEnv, type FuzzEnv } from '../../reliability/fuzz/env';
import { type Attempt, type Boundary, runBoundary, verdictFailures } from '../../reliability/fuzz/runner';
import { allBoundaries } from '../../reliability/fuzz/suite';
import { createTestDatabase, devServerAddress, type TestDatabase, workflowBundle } from '../helpers';

// The fuzz harness's small version: the same generators and verdicts as
// `npm run fuzz`, 25 payloads on a sample of every kind of boundary.
const RUNS = 25;
const NAMESPACE = 'warden-fuzz-e2e';
const SAMPLE = [
  'workflow dealExecution',
  'signal controlPlane.setGoLive',
  'signal controlPlane.engageKillSwitch',
  'signal controlPlane.releaseKillSwitch',
  'update controlPlane.changeControlPlane',
  'update policyChange.approve',
  'signal goLivePlaybook.completePlaybookStep',
  'signal expansionProposal.breakerTripped',
  'update dealExecution.reconcileDeal',
  'signal strategyPromotion.approvePromotion',
  'POST /control-plane/kill-switch/engage',
  'POST /change-requests',
  'GET /audit',
  'POST /operations/deal.start',
  'POST /operations/killSwitch.release',
];

describe('fuzz harness (small)', () => {
  let t: TestDatabase;
  let env: FuzzEnv;
  beforeAll(async () => {
    t = await createTestDatabase();
    env = await createFuzzEnv({
      db: t.db,
      address: devServerAddress(),
      namespace: NAMESPACE,
      workflowBundle: workflowBundle(),
    });
  });
  afterAll(async () => {
    await env?.stop();
    await t?.drop();
  });

  it(
    'hostile payloads on a sample of every kind of boundary: no task failure, state change, unnamed refusal, 500 or hang; engage ≤ 1 s after each',
    { timeout: 120_000 },
    async () => {
      const boundaries = (await allBoundaries(env)).filter((b) => SAMPLE.includes(b.name));
      expect(boundaries.map((b) => b.name).sort()).toEqual([...SAMPLE].sort());
      const failures: Record<string, string[]> = {};
      for (const [i, boundary] of boundaries.entries()) {
        const result = await runBoundary(env, boundary, RUNS, 7 + i);
        console.log(`${boundary.name}: ${result.seconds.toFixed(1)} s, engage ${result.engageMs?.toFixed(0)} ms`);
        const failed = verdictFailures(result, RUNS);
        if (failed.length > 0) failures[boundary.name] = [...failed, ...result.findings.slice(0, 3)];
        expect(result.rejected).toBeGreaterThan(0);
      }
      expect(failures).toEqual({});
    },
  );

  it('the verdicts fail: a refusal naming no field, a state change from refused input, a 500', async () => {
    let writes = 0;
    const broken = (name: string, attempt: (i: number) => Attempt): Boundary => ({
      name,
      kind: 'http',
      template: { reason: 'fuzz-seed' },
      known: new Set(['reason']),
      chunk: 5,
      concurrency: 1,
      async send(_payload, i) {
        return attempt(i);
      },
    });
    const unnamed = await runBoundary(
      env,
      broken('unnamed', () => ({ rejected: true, message: 'Invalid input' })),
      5,
      1,
    );
    expect(unnamed.unnamed).toBe(5);
    const changing = broken('changing', () => ({ rejected: true, message: 'reason: must say why' }));
    changing.send = async () => {
      writes += 1;
      await t.db
        .updateTable('control_plane_state')
        .set({ reason: `changed by a refusal ${writes}` })
        .execute();
      return { rejected: true, message: 'reason: must say why' };
    };
    const changed = await runBoundary(env, changing, 5, 1);
    expect(changed.stateChanges).toBe(1);
    const erroring = await runBoundary(
      env,
      broken('erroring', () => ({ rejected: false, serverError: '500 internal' })),
      5,
      1,
    );
    expect(verdictFailures(erroring, 5)).toEqual(['5 server errors']);
    expect(verdictFailures(unnamed, 5)).toEqual(['5 refusals naming no field']);
  });
});
