import type { Kysely } from 'kysely';
import type { Database } from '../src/db/database';
import { recordAdmissionInputs } from '../src/db/deal-claims.repository';
import { readExecutionPolicy } from '../src/db/execution-policies.repository';
import { getStrategy } from '../src/db/strategy.repository';
import type { DealPolicyActivities } from '../src/domain/deals/activities';
import type { AdmissionInputs } from '../src/domain/change-requests/replay-inputs';
import { decideAdmission } from '../src/domain/deals/policy';

export interface DealPolicyDeps {
  db: Kysely<Database>;
  /** Does this worker serve an `executeDeal` on Warden's own queue (the simulated one, or a user's)? */
  executorServed: boolean;
}

/**
 * What an action is (issue 13 item 2): admission reads the engine's policy
 * and the named strategy → decides with src/domain/deals/policy.ts. A denial
 * is the deal's own, audited by its outcome. What the deal asked is kept on
 * its claim, so `warden policy plan` can replay it under proposed policies
 * (the claim is the only record of its recommendation before the prod gate).
 */
export function createDealPolicyActivities({ db, executorServed }: DealPolicyDeps): DealPolicyActivities {
  return {
    async admitDeal(input) {
      const asked: AdmissionInputs = {
        requestedClass: input.requestedClass,
        strategyId: input.strategyId,
        recommendationId: input.recommendationId,
        executorTaskQueue: input.executorTaskQueue,
        ownTaskQueue: input.ownTaskQueue,
        executorServed,
      };
      const [policy, strategy] = await Promise.all([
        readExecutionPolicy(db, input.engine),
        input.strategyId === undefined ? undefined : getStrategy(db, input.strategyId),
        recordAdmissionInputs(db, input.dealId, asked),
      ]);
      return decideAdmission({ ...asked, policy, strategy });
    },
  };
}
