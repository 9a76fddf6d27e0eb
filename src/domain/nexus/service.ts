// The Nexus service a producer calls from its own namespace (docs/producers.md).
// Node-free and free of workflow code, so a producer's workflow bundle imports
// it as is. Inputs and results are the deal and command workflows' own types:
// a Nexus caller asks for exactly what a typed-client caller may ask for, and
// gets the same typed result (a denial is a result, not an error).
import * as nexus from 'nexus-rpc';
import type { CommandExecutionInput, CommandResult } from '../autonomy/commands';
import type { DealInput, DealResult } from '../deals/types';

/** The service name producers' workflows address through the endpoint. A public name: it never changes. */
export const WARDEN_NEXUS_SERVICE = 'warden';

export const wardenNexusService = nexus.service(WARDEN_NEXUS_SERVICE, {
  /** Runs (or joins) the governed deal `deal-<dealId>` and answers with its DealResult. */
  executeDeal: nexus.operation<DealInput, DealResult>(),
  /** Runs (or joins) the governed command `command-<commandId>` and answers with its CommandResult. */
  executeCommand: nexus.operation<CommandExecutionInput, CommandResult>(),
});

export type WardenNexusService = typeof wardenNexusService;
