/**
 * What the reservation sweep asks Temporal: is a deal's workflow still
 * running? Activities depend on this port, never on `src/client`; the worker
 * implements it with its Client (`describe` of the workflow's latest run).
 */
export type DealWorkflowStatus = 'running' | 'closed' | 'not_found';

export interface DealWorkflowPort {
  dealWorkflowStatus(workflowId: string): Promise<DealWorkflowStatus>;
}
