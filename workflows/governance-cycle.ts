import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  ParentClosePolicy,
  patched,
  proxyActivities,
  startChild,
  WorkflowIdReusePolicy,
  workflowInfo,
} from '@temporalio/workflow';
import type { AutonomyActivities } from '../src/domain/autonomy/activities';
import type { HeimdallWeekReview } from '../src/domain/prod-eligibility/promotion';
import type { BaselineReview } from '../src/domain/watchdogs/baselines';
import { type GovernanceCycleInput, GovernanceCycleInputSchema } from '../src/domain/autonomy/week';
import { parseInput } from '../src/domain/shared/errors';
import { expansionProposal } from './expansion-proposal';
import { policyChangeWorkflowId } from './names';
import { policyChange } from './policy-change';
import { Visibility } from './lib/visibility';

const autonomy = proxyActivities<AutonomyActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumInterval: '1 minute' },
});

export interface GovernanceCycleResult {
  reportId: string;
  expand: boolean;
  reasons: string[];
  proposalId: string | null;
  /** Since friday-promotion: the Friday change request this cycle opened (or found opened today); null if none. */
  changeRequestId?: string | null;
  /** What the week's holds suppressed (issue 19). */
  held?: ('expansion' | 'promotions')[];
}

/** Since friday-promotion: seed 000's Heimdall review as the report keeps it. */
export interface FridayPromotion extends HeimdallWeekReview {
  /** Seed 000's baseline resets, proposed in the same change request. */
  baselines?: BaselineReview;
  changeRequestId: string | null;
  /** False when today's request already existed (a second run the same day): nothing new was opened. */
  opened: boolean;
}

/**
 * Seed 002's weekly governance cycle, run by a Schedule (Friday end of day
 * UTC): metrics → readiness → breakers → expansion decision → report →
 * state; an expansion starts its own long-lived proposal workflow. Seed 000's
 * Friday Heimdall review rides along and opens a change request.
 */
export async function governanceCycle(rawInput: GovernanceCycleInput = {}): Promise<GovernanceCycleResult> {
  // Run by the week's workflow (issue 19), it hears what the week's holds suppress; by the Schedule or by hand, nothing.
  const { suppress = [], week } = parseInput(GovernanceCycleInputSchema, rawInput ?? {}, 'governanceCycle input');
  const visibility = new Visibility().decide();
  const held = {
    expansion: suppress.includes('expansion'),
    promotions: suppress.includes('promotions'),
  };
  const at = new Date().toISOString();
  const prepared = await autonomy.prepareGovernanceReport({ at });
  let proposalId: string | null = null;
  if (prepared.terms && !held.expansion) {
    // Abandoned, not owned: the proposal outlives this week's cycle. Its terms were recorded as Warden's by
    // prepareGovernanceReport; the proposal loads them by this id (the args are ignored since warden-owned-proposals).
    await startChild(expansionProposal, {
      workflowId: prepared.terms.proposalId,
      args: [prepared.terms],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
    proposalId = prepared.terms.proposalId;
  }
  // Histories from before the Friday promotion replay without it.
  const heimdall = patched('friday-promotion') && !held.promotions ? await fridayPromotion(at) : undefined;
  const { terms, ...report } = prepared;
  // A hold says so in the report: what the cycle would have done, and who held it back.
  const holds = suppress.length > 0 ? { suppressed: suppress, week: week ?? null } : undefined;
  // Keyed by this run: a retried save finds its report. Activity inputs are not compared on replay.
  const { workflowId, runId } = workflowInfo();
  const reportId = await autonomy.saveGovernanceReport({
    report: {
      ...report,
      proposal: held.expansion ? null : terms,
      ...(heimdall ? { heimdall } : {}),
      ...(holds ? { held: { ...holds, ...(held.expansion && terms ? { proposalHeld: terms } : {}) } } : {}),
    },
    proposalId,
    at,
    key: `governance-report:${workflowId}:${runId}`,
  });
  visibility.show(
    { outcome: proposalId !== null ? 'expansion_proposed' : prepared.decision.expand ? 'expansion_held' : 'steady' },
    `Report ${reportId}: ${prepared.decision.reasons.join('; ') || 'no reasons'}`,
  );
  return {
    reportId,
    expand: prepared.decision.expand,
    reasons: prepared.decision.reasons,
    proposalId,
    ...(heimdall ? { changeRequestId: heimdall.changeRequestId } : {}),
    ...(suppress.length > 0 ? { held: suppress } : {}),
  };
}

/**
 * Seed 000's Friday promotion: what each domain's week earned goes into one
 * change request. The cycle only opens it; the request applies what tightens
 * and waits for people (other than this system requester) to approve what
 * loosens, such as prod use. Abandoned, not owned: it outlives the cycle.
 */
async function fridayPromotion(at: string): Promise<FridayPromotion> {
  const { review: heimdall, baselines, request } = await autonomy.reviewHeimdallWeek({ at });
  const review = { ...heimdall, ...(baselines ? { baselines } : {}) };
  if (!request) return { ...review, changeRequestId: null, opened: false };
  try {
    await startChild(policyChange, {
      workflowId: policyChangeWorkflowId(request.id),
      args: [request],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      // One request per cycle day, even after it closed: a re-run that day must not propose the week twice.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
    return { ...review, changeRequestId: request.id, opened: true };
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    return { ...review, changeRequestId: request.id, opened: false };
  }
}
