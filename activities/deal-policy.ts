import type { Kysely } from 'kysely';
import type { Database } from '../src/db/database';
import { readExecutionPolicy } from '../src/db/execution-policies.repository';
import { getStrategy } from '../src/db/strategy.repository';
import type { DealPolicyActivities } from '../src/domain/deals/activities';
import { decideAdmission } from '../src/domain/deals/policy';

export interface DealPolicyDeps {
  db: Kysely<Database>;
  /** Does this worker serve an `executeDeal` on Warden's own queue (the simulated one, or a user's)? */
  executorServed: boolean;
}

/**
 * What an action is (issue 13 item 2): admission reads the engine's policy
 * and the named strategy → decides with src/domain/deals/policy.ts. It
 * writes nothing: a denial is the deal's own, audited by its outcome.
 */
export function createDealPolicyActivities({ db, executorServed }: DealPolicyDeps): DealPolicyActivities {
  return {
    async admitDeal(input) {
      const policy = await readExecutionPolicy(db, input.engine);
      const strategy = input.strategyId === undefined ? undefined : await getStrategy(db, input.strategyId);
      return decideAdmission({
        policy,
        requestedClass: input.requestedClass,
        strategyId: input.strategyId,
        strategy,
        recommendationId: input.recommendationId,
        executorTaskQueue: input.executorTaskQueue,
        ownTaskQueue: input.ownTaskQueue,
        executorServed,
      });
    },
  };
}
