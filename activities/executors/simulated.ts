import type { DealExecutor, ExecuteDealInput, ExecuteDealResult } from '../../src/domain/deals/types';

/**
 * Warden's stand-in for a producer's executor, for the demo and tests: it
 * "fills" every order and books no loss. Producers register their own
 * `executeDeal` on their own task queue.
 */
export function createSimulatedExecutor(): DealExecutor {
  return {
    async executeDeal(input: ExecuteDealInput): Promise<ExecuteDealResult> {
      return { realizedLoss: 0, externalId: `sim-${input.applyMode}-${input.dealId}` };
    },
  };
}
