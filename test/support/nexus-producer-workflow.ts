// A producer's workflows, bundled on their own and run in the producer's own
// namespace (test/integration/nexus.e2e.test.ts): they reach Warden only
// through the Nexus endpoint, with the service definition a producer imports.
import { NexusOperationFailure } from '@temporalio/common';
import { createNexusServiceClient } from '@temporalio/workflow';
import type { CommandExecutionInput, CommandResult } from '../../src/domain/autonomy/commands';
import type { DealInput, DealResult } from '../../src/domain/deals/types';
import { wardenNexusService } from '../../src/domain/nexus/service';

const warden = (endpoint: string) => createNexusServiceClient({ endpoint, service: wardenNexusService });

export async function producerDeal(endpoint: string, deal: DealInput): Promise<DealResult> {
  return warden(endpoint).executeOperation('executeDeal', deal, { scheduleToCloseTimeout: '1 minute' });
}

export async function producerCommand(endpoint: string, command: CommandExecutionInput): Promise<CommandResult> {
  return warden(endpoint).executeOperation('executeCommand', command, { scheduleToCloseTimeout: '1 minute' });
}

/** What a producer sees when Warden refuses its request: the failure's cause, by type and message. */
export async function producerDealRefused(
  endpoint: string,
  deal: unknown,
): Promise<{ failure: string; cause: string | undefined; message: string | undefined }> {
  try {
    await warden(endpoint).executeOperation('executeDeal', deal as DealInput, { scheduleToCloseTimeout: '1 minute' });
    return { failure: 'none', cause: undefined, message: undefined };
  } catch (error) {
    if (!(error instanceof NexusOperationFailure)) throw error;
    return { failure: error.name, cause: error.cause?.name, message: error.cause?.message };
  }
}
