import { ParentClosePolicy, proxyActivities, startChild, workflowInfo } from '@temporalio/workflow';
import type { AutonomyActivities } from '../src/domain/autonomy/activities';
import { expansionProposal } from './expansion-proposal';

const autonomy = proxyActivities<AutonomyActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumInterval: '1 minute' },
});

export interface GovernanceCycleResult {
  reportId: string;
  expand: boolean;
  reasons: string[];
  proposalId: string | null;
}

/**
 * Seed 002's weekly governance cycle, run by a Schedule (Friday end of day
 * UTC): metrics → readiness → breakers → expansion decision → report →
 * state; an expansion starts its own long-lived proposal workflow.
 */
export async function governanceCycle(): Promise<GovernanceCycleResult> {
  const at = new Date().toISOString();
  const prepared = await autonomy.prepareGovernanceReport({ at });
  let proposalId: string | null = null;
  if (prepared.terms) {
    // Abandoned, not owned: the proposal outlives this week's cycle. Its terms were recorded as Warden's by
    // prepareGovernanceReport; the proposal loads them by this id (the args are ignored since warden-owned-proposals).
    await startChild(expansionProposal, {
      workflowId: prepared.terms.proposalId,
      args: [prepared.terms],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    });
    proposalId = prepared.terms.proposalId;
  }
  const { terms, ...report } = prepared;
  // Keyed by this run: a retried save finds its report. Activity inputs are not compared on replay.
  const { workflowId, runId } = workflowInfo();
  const reportId = await autonomy.saveGovernanceReport({
    report: { ...report, proposal: terms },
    proposalId,
    at,
    key: `governance-report:${workflowId}:${runId}`,
  });
  return { reportId, expand: prepared.decision.expand, reasons: prepared.decision.reasons, proposalId };
}
