/**
 * What the reservation sweep asks Temporal: is a deal's workflow still
 * running? Activities depend on this port, never on `src/client`; the worker
 * implements it with its Client (`describe` of the workflow's latest run).
 */
export type DealWorkflowStatus = 'running' | 'closed' | 'not_found';

export interface DealWorkflowPort {
  dealWorkflowStatus(workflowId: string): Promise<DealWorkflowStatus>;
}

/** The release an applied `deal_release` change request approved, as its deal's workflow receives it. */
export interface DealReleaseWord {
  actor: string;
  reason: string;
  changeRequestId: string;
}

/**
 * Sends a deal's workflow (the reservation's one writer) the release its change request approved, as a
 * `reconcileDeal` with `executed: false`. A deal no longer waiting (a resend after it ended) is no error.
 */
export interface DealReleasePort {
  releaseDeal(workflowId: string, dealId: string, word: DealReleaseWord): Promise<void>;
}
