import type { DealExecutor, ExecuteDealInput, ExecuteDealResult } from '../../src/domain/deals/types';
import type { CommandExecutor } from '../../src/domain/autonomy/activities';

/**
 * Warden's stand-in for a producer's executor, for the demo and tests: it
 * "fills" every order and books no loss. Wired only by `npm start`
 * (workers/local.ts), the tests, and workers/main.ts with
 * WARDEN_SIMULATED_EXECUTORS=true: never a default (no fake fills in
 * production). Producers register their own `executeDeal` on their own task queue.
 */
export function createSimulatedExecutor(): DealExecutor {
  return {
    async executeDeal(input: ExecuteDealInput): Promise<ExecuteDealResult> {
      return { realizedLoss: 0, externalId: `sim-${input.applyMode}-${input.dealId}` };
    },
  };
}

/** Stand-in for the machine's command service, for the demo and tests: every command succeeds. */
export function createSimulatedCommandExecutor(): CommandExecutor {
  return { executeCommand: async () => ({}) };
}
