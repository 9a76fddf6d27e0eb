import type { ApplyMode } from '../control-plane/types';
import type { DealResult, DealTerms } from './types';

/**
 * A deal id executes at most once. The first workflow for an id claims it with
 * its terms; the claim then records how far the deal got:
 * - `claimed`: gates under way, nothing executed;
 * - `executing`: the permit was used (the pre-execute check passed), so the
 *   executor may have run;
 * - `needs_reconciliation`: it may have executed and waits for an operator;
 * - `done`: the result is recorded.
 */
export type ClaimStage = 'claimed' | 'executing' | 'needs_reconciliation' | 'done';

export interface StoredClaim {
  dealId: string;
  terms: DealTerms;
  workflowId: string;
  runId: string;
  stage: ClaimStage;
  result: DealResult | null;
  permitId: string | null;
  applyMode: Exclude<ApplyMode, 'dry_run'> | null;
}

export interface ClaimRequest {
  dealId: string;
  terms: DealTerms;
  workflowId: string;
  runId: string;
}

export type ClaimOutcome =
  | { outcome: 'claimed' }
  /** The deal id already has a result: it is this workflow's result too, and nothing runs again. */
  | { outcome: 'result'; result: DealResult }
  /** An earlier run of this workflow got past the pre-execute check: never execute again, reconcile. */
  | {
      outcome: 'needs_reconciliation';
      permitId: string | null;
      applyMode: Exclude<ApplyMode, 'dry_run'> | null;
      cause: string;
    }
  | { outcome: 'denied'; reason: 'deal_id_reused' | 'deal_in_progress'; detail: string };

export type ClaimWrite = 'insert' | 'take_over' | 'none';

export function sameTerms(a: DealTerms, b: DealTerms): boolean {
  return (
    a.engine === b.engine &&
    a.symbol === b.symbol &&
    Math.round(a.amount * 100) === Math.round(b.amount * 100) &&
    a.executionClass === b.executionClass &&
    (a.strategyId ?? null) === (b.strategyId ?? null) &&
    a.side === b.side
  );
}

function describeTerms(t: DealTerms): string {
  return `${t.side} ${t.amount} ${t.symbol} on ${t.engine} (${t.executionClass}${t.strategyId ? `, strategy ${t.strategyId}` : ''})`;
}

/**
 * Decides a claim on the locked claim row. `usedBefore` says the deal id left
 * reservations or permits before claims existed: it is refused, its terms
 * being unknown. A claim by the same run (a retry) is granted again; a new
 * run of the same workflow id (a reset, or a restart after it closed) takes
 * over only while nothing executed.
 */
export function decideClaim(
  existing: StoredClaim | undefined,
  request: ClaimRequest,
  usedBefore: boolean,
): ClaimOutcome & { write: ClaimWrite } {
  if (!existing) {
    if (usedBefore)
      return {
        outcome: 'denied',
        reason: 'deal_id_reused',
        detail: `deal ${request.dealId} already holds reservations or permits from before deal claims`,
        write: 'none',
      };
    return { outcome: 'claimed', write: 'insert' };
  }
  if (existing.workflowId === request.workflowId && existing.runId === request.runId)
    return { outcome: 'claimed', write: 'none' };
  if (!sameTerms(existing.terms, request.terms))
    return {
      outcome: 'denied',
      reason: 'deal_id_reused',
      detail: `deal ${request.dealId} was claimed by ${existing.workflowId} for ${describeTerms(existing.terms)}`,
      write: 'none',
    };
  if (existing.result) return { outcome: 'result', result: existing.result, write: 'none' };
  if (existing.workflowId !== request.workflowId)
    return {
      outcome: 'denied',
      reason: 'deal_in_progress',
      detail: `deal ${request.dealId} is under way in workflow ${existing.workflowId}`,
      write: 'none',
    };
  if (existing.stage === 'claimed') return { outcome: 'claimed', write: 'take_over' };
  // This run takes the wait over, so its reconciled result is the one recorded.
  return {
    outcome: 'needs_reconciliation',
    permitId: existing.permitId,
    applyMode: existing.applyMode,
    cause: `an earlier run (${existing.runId}) of ${existing.workflowId} got past the pre-execute check`,
    write: 'take_over',
  };
}

/**
 * Whether a run may use its permit, by the claim: only a run of the workflow
 * that holds the claim, and never after another run used it. `advance` says
 * the claim moves to `executing` (and to this run) with the permit.
 */
export function claimAllowsExecution(
  claim: StoredClaim | undefined,
  run: { workflowId: string; runId: string } | undefined,
): { ok: true; advance: boolean } | { ok: false; ambiguous: boolean; detail: string } {
  // Deals started before claims, and callers that name no run, keep the permit's own rules.
  if (!claim || run === undefined) return { ok: true, advance: false };
  if (claim.workflowId !== run.workflowId)
    return { ok: false, ambiguous: false, detail: `deal ${claim.dealId} is held by workflow ${claim.workflowId}` };
  if (claim.stage === 'claimed') return { ok: true, advance: true };
  if (claim.stage === 'executing' && claim.runId === run.runId) return { ok: true, advance: false };
  return {
    ok: false,
    ambiguous: claim.stage !== 'done',
    detail: `deal ${claim.dealId} is ${claim.stage} (run ${claim.runId})`,
  };
}

/**
 * Whether a release (`reconcileDeal` with `executed: false`) counts: only under a change request that applied
 * (so people other than its requester approved it) and that releases this very deal. Anything else is refused,
 * naming the request, and the deal keeps its reservation (invariant 9).
 */
export function releaseCounts(
  dealId: string,
  changeRequestId: string | undefined,
  request: { status: string; changes: readonly { kind: string; target: string }[] } | undefined,
): { counted: true } | { counted: false; problem: string } {
  if (changeRequestId === undefined)
    return {
      counted: false,
      problem: `changeRequestId: releasing deal ${dealId} needs an approved deal_release change request (warden deal reconcile ${dealId} --executed false opens one)`,
    };
  if (!request) return { counted: false, problem: `changeRequestId: no change request ${changeRequestId}` };
  if (!request.changes.some((c) => c.kind === 'deal_release' && c.target === dealId))
    return {
      counted: false,
      problem: `changeRequestId: change request ${changeRequestId} does not release deal ${dealId}`,
    };
  if (request.status !== 'applied')
    return {
      counted: false,
      problem: `changeRequestId: change request ${changeRequestId} is ${request.status}, not applied: the release waits for its approvals`,
    };
  return { counted: true };
}
