// Driving governed deals from the harness through outages: each deal is
// started once (a start whose answer was lost is joined, never repeated) and
// followed to its typed result, read from the workflow itself, never from
// Warden's metrics.
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowFailedError } from '@temporalio/client';
import { DealAlreadyStartedError } from '../../src/client';
import type { DealInput, DealResult } from '../../src/domain/deals/types';
import { dealWorkflowId } from '../../workflows/names';
import { type Cluster, persistently } from './cluster';

export type NeedsReconciliation = Extract<DealResult, { status: 'needs_reconciliation' }>;

/** How a deal ended, as its workflow tells it. */
export type DealOutcome =
  /** The workflow completed with this result. */
  | { kind: 'closed'; result: DealResult }
  /** The workflow holds the reservation and waits for `reconcileDeal` (invariant 9): open, by design. */
  | { kind: 'waiting'; result: NeedsReconciliation }
  /** The workflow failed, was terminated or timed out: no typed result. */
  | { kind: 'workflow_failed'; error: string }
  /** Still running at the deadline, at this stage. */
  | { kind: 'stuck'; stage: string };

export interface SentDeal {
  dealId: string;
  engine: string;
  amount: number;
  workflowId: string;
  outcome: DealOutcome;
  /** Wall-clock ms: start asked, outcome known. */
  startedAt: number;
  endedAt: number;
}

/** The deal's status in one word: the result's, or how its workflow went wrong. */
export function statusOf(outcome: DealOutcome): string {
  return outcome.kind === 'closed' || outcome.kind === 'waiting' ? outcome.result.status : outcome.kind;
}

/** Starts the deal, retrying through outages; a start that took effect before its answer was lost is joined. */
export async function startDealOnce(cluster: Cluster, input: DealInput): Promise<string> {
  return persistently(async () => {
    try {
      return (await cluster.warden.startDeal(input)).workflowId;
    } catch (error) {
      // Deal ids here are unique per run: "already started" can only be our own earlier attempt.
      if (error instanceof DealAlreadyStartedError) return dealWorkflowId(input.dealId);
      throw error;
    }
  }, `start deal ${input.dealId}`);
}

type Settled = { ok: true; result: DealResult } | { ok: false; error: unknown };

/**
 * Waits for the deal's outcome: the workflow's result, or (asked every
 * `pollMs` while it runs) the needs_reconciliation it waits in. Connection
 * errors during an outage are retried until `withinMs`: generous by default,
 * since on a starved machine (2 cores, several clusters) a deal caught by a
 * worker kill has been seen to take 3 minutes and still end well.
 */
export async function awaitDealOutcome(
  cluster: Cluster,
  dealId: string,
  { withinMs = 600_000, pollMs = 2_000 }: { withinMs?: number; pollMs?: number } = {},
): Promise<DealOutcome> {
  const handle = cluster.client.workflow.getHandle<() => Promise<DealResult>>(dealWorkflowId(dealId));
  const deadline = Date.now() + withinMs;
  // A deal answered by its query leaves the result's long poll open: cancel it, or it outlives the cluster.
  let polling = new AbortController();
  try {
    return await followDeal(cluster, dealId, handle, deadline, pollMs, () => {
      polling = new AbortController();
      return polling.signal;
    });
  } finally {
    polling.abort();
  }
}

async function followDeal(
  cluster: Cluster,
  dealId: string,
  handle: { result(): Promise<DealResult> },
  deadline: number,
  pollMs: number,
  freshSignal: () => AbortSignal,
): Promise<DealOutcome> {
  let pending: Promise<Settled> | undefined;
  let stage = 'unknown';
  while (Date.now() < deadline) {
    pending ??= cluster.client
      .withAbortSignal(freshSignal(), () => handle.result())
      .then(
        (result): Settled => ({ ok: true, result }),
        (error: unknown): Settled => ({ ok: false, error }),
      );
    const settled = await Promise.race([pending, sleep(pollMs).then(() => undefined)]);
    if (settled?.ok) return { kind: 'closed', result: settled.result };
    if (settled && !settled.ok) {
      pending = undefined;
      if (settled.error instanceof WorkflowFailedError)
        return { kind: 'workflow_failed', error: settled.error.cause?.message ?? settled.error.message };
      // Temporal is down or restarting: ask again shortly.
      await sleep(500);
      continue;
    }
    try {
      const progress = await cluster.warden.dealProgress(dealId);
      stage = progress.stage;
      if (progress.result?.status === 'needs_reconciliation') return { kind: 'waiting', result: progress.result };
    } catch {
      // No worker to answer the query right now (killed, restarting): the result may still come.
    }
  }
  return { kind: 'stuck', stage };
}

/**
 * Runs `inputs` with at most `concurrency` deals in flight: each is started,
 * then followed to its outcome, and only then does its slot take the next.
 * `onOutcome` hears each outcome as it comes (the fault plan paces on it).
 */
export async function driveDeals(
  cluster: Cluster,
  inputs: (DealInput & { amount: number })[],
  options: { concurrency: number; withinMs?: number; onOutcome?: (deal: SentDeal) => void },
): Promise<SentDeal[]> {
  // Filled by index, so the answer keeps the order the deals were planned in.
  const sent: SentDeal[] = [];
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < inputs.length; i = next++) {
      const input = inputs[i]!;
      const startedAt = Date.now();
      const workflowId = await startDealOnce(cluster, input);
      const outcome = await awaitDealOutcome(cluster, input.dealId, { withinMs: options.withinMs });
      const deal: SentDeal = {
        dealId: input.dealId,
        engine: input.engine,
        amount: input.amount,
        workflowId,
        outcome,
        startedAt,
        endedAt: Date.now(),
      };
      sent[i] = deal;
      options.onOutcome?.(deal);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, inputs.length) }, lane));
  return sent;
}
