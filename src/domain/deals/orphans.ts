import type { ClaimStage } from './claims';
import type { DealWorkflowStatus } from './port';

/** What a deal still holds in Warden's records: its reservation, its permits, its claim. */
export interface DealHolding {
  dealId: string;
  /** From the claim; null for a deal from before claims (its workflow id is then only presumed). */
  workflowId: string | null;
  stage: ClaimStage | null;
  reservation: { key: string; engine: string; amount: number; status: string } | null;
  permits: { id: string; status: string }[];
}

/**
 * - `keep`: its workflow runs (or cannot be found for a deal from before
 *   claims), or it holds nothing;
 * - `release`: its workflow closed before it used its permit, so it provably
 *   never reached the executor: give the reservation and the permit back;
 * - `flag`: its workflow closed after the permit was used: the order may have
 *   executed, so the reservation stays held for reconciliation.
 */
export type SweepAction = 'keep' | 'release' | 'flag';

export function holds(h: DealHolding): boolean {
  return h.reservation?.status === 'reserved' || h.permits.some((p) => p.status === 'issued');
}

export function mayHaveExecuted(h: DealHolding): boolean {
  return (
    h.stage === 'executing' || h.stage === 'needs_reconciliation' || h.permits.some((p) => p.status === 'consumed')
  );
}

/** Only a closed workflow's holdings are swept: a running deal's reservation is never touched. */
export function sweepActionFor(h: DealHolding, workflow: DealWorkflowStatus): SweepAction {
  if (workflow === 'running' || !holds(h)) return 'keep';
  // Gone from Temporal's retention: only a claim proves which workflow it was.
  if (workflow === 'not_found' && h.workflowId === null) return 'keep';
  if (mayHaveExecuted(h)) return h.reservation?.status === 'reserved' ? 'flag' : 'keep';
  return 'release';
}

export interface OrphanView {
  dealId: string;
  workflowId: string;
  workflow: DealWorkflowStatus;
  stage: ClaimStage | null;
  engine: string | null;
  amount: number | null;
  reservation: string | null;
  permits: { id: string; status: string }[];
  action: Exclude<SweepAction, 'keep'>;
}

/** The orphans among the holdings, given each one's workflow status: what the sweep would do with each. */
export function orphanViews(
  holdings: DealHolding[],
  statusOf: (h: DealHolding) => { workflowId: string; workflow: DealWorkflowStatus },
): OrphanView[] {
  const views: OrphanView[] = [];
  for (const h of holdings) {
    const { workflowId, workflow } = statusOf(h);
    const action = sweepActionFor(h, workflow);
    if (action === 'keep') continue;
    views.push({
      dealId: h.dealId,
      workflowId,
      workflow,
      stage: h.stage,
      engine: h.reservation?.engine ?? null,
      amount: h.reservation?.amount ?? null,
      reservation: h.reservation?.status ?? null,
      permits: h.permits,
      action,
    });
  }
  return views;
}
