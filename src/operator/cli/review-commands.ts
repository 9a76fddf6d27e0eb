import { DEFAULT_REVIEW_PERIOD_MS, type Listed, type MondayReview } from '../review/monday-review';
import { SinceSchema } from '../review/since';
import { EXIT, expectArgs, field, type Invocation, printJsonOr } from './shared';

const percent = (fraction: number) => `${(fraction * 100).toFixed(1)}%`;
const counts = <T extends { count: number }>(rows: T[], label: (row: T) => string) =>
  rows.map((r) => `${label(r)} ${r.count}`).join(', ');

function section<T>(label: string, list: Listed<T>, line: (item: T) => string): string[] {
  if (list.count === 0) return [];
  const more = list.count > list.latest.length ? [`      … and ${list.count - list.latest.length} earlier`] : [];
  return [`  ${label}: ${list.count}`, ...list.latest.map((item) => `      ${line(item)}`), ...more];
}

const orNothing = (lines: string[]) => (lines.length === 0 ? ['  nothing'] : lines);

function describeReview(r: MondayReview, temporalProblem: string | null): string[] {
  const cp = r.controlPlane;
  const capital =
    r.capital.usage === null
      ? 'no GLOBAL daily exposure cap set'
      : `${percent(r.capital.usage)} of the GLOBAL daily cap, ${r.capital.committed} of ${r.capital.cap} committed`;
  const { broke, denied, drifted, awaitingApproval: waiting } = r;
  return [
    `Monday review: ${r.since} → ${r.generatedAt}`,
    '',
    `health:        ${r.health.status}`,
    ...r.health.reasons.map((reason) => `  ${reason.status.padEnd(6)} ${reason.code}: ${reason.detail}`),
    `capital band:  ${r.capital.band}: ${capital} on ${r.capital.day}`,
    `control plane: go-live ${cp.goLiveEnabled ? 'ON' : 'off'}, trading ${cp.tradingState}, kill switch ${cp.killSwitchEngaged ? `ENGAGED by ${cp.killSwitchSource ?? 'unknown'}` : 'released'}, apply mode ${cp.applyMode}`,
    '',
    'What broke',
    ...orNothing([
      ...section(
        'kill-switch engagements',
        broke.killSwitchEngagements,
        (k) => `${k.at} by ${k.actor}${k.source ? ` (${k.source})` : ''}: ${k.reason ?? 'no reason recorded'}`,
      ),
      ...section(
        'tripwire firings',
        broke.tripwireFirings,
        (t) =>
          `${t.at} ${t.policy} → ${t.action ?? '?'}${t.dropFraction === null ? '' : `, drop ${percent(t.dropFraction)}`}`,
      ),
      ...section('canary trips', broke.canaryTrips, (c) => `${c.at} ${c.checks.join(', ')}`),
      ...section(
        'circuit-breaker events',
        broke.breakerEvents,
        (e) =>
          `${e.at} #${e.id} ${e.rule} ${e.action} (${e.severity})${e.resolvedAt ? ' resolved' : ' OPEN'}: ${e.detail}`,
      ),
      ...section('failed deals', broke.failedDeals, (d) => `${d.at} ${d.dealId}: ${d.error ?? 'no error recorded'}`),
      ...section('auto-disarms', broke.autoDisarms, (d) => `${d.at} ${d.symbol}: ${d.reason}`),
      ...section(
        'failed commands',
        broke.failedCommands,
        (c) => `${c.at} ${c.commandType} ${c.commandId} ${c.status}${c.detail ? `: ${c.detail}` : ''}`,
      ),
      ...section('incidents', broke.incidents, (i) => `${i.at} ${i.severity}: ${i.description}`),
    ]),
    '',
    'What was denied',
    ...orNothing([
      ...(denied.deals.total > 0
        ? [`  deals denied: ${denied.deals.total} (${counts(denied.deals.byGate, (g) => `${g.gate}/${g.reason}`)})`]
        : []),
      ...(denied.risk.length > 0
        ? [`  risk reservations: ${counts(denied.risk, (d) => `${d.engine}/${d.reason}`)}`]
        : []),
      ...(denied.prodEligibility.length > 0
        ? [`  Heimdall prod-ineligible: ${counts(denied.prodEligibility, (d) => d.reason)}`]
        : []),
      ...(denied.recommendations.length > 0
        ? [`  recommendations gated at creation: ${counts(denied.recommendations, (d) => `${d.domain}/${d.reason}`)}`]
        : []),
      ...(denied.permits.length > 0 ? [`  permit blocks: ${counts(denied.permits, (d) => d.reason)}`] : []),
      ...(denied.strategyGate.length > 0 ? [`  strategy gate: ${counts(denied.strategyGate, (d) => d.action)}`] : []),
      ...(denied.controlPlaneChanges.length > 0
        ? [`  control-plane changes refused: ${counts(denied.controlPlaneChanges, (d) => d.change)}`]
        : []),
      ...(denied.commandApprovals.length > 0
        ? [`  commands not approved: ${counts(denied.commandApprovals, (d) => d.approval)}`]
        : []),
      ...(denied.rejectedMessages.length > 0
        ? [`  refused messages: ${counts(denied.rejectedMessages, (d) => d.kind)}`]
        : []),
    ]),
    '',
    'Positions at risk',
    ...orNothing(
      section(
        'open positions',
        r.positionsAtRisk,
        (p) => `${p.scope} ${p.scopeId} ${p.symbol}: ${p.quantity} (since ${p.updatedAt})`,
      ),
    ),
    '',
    'Unresolved outcomes',
    ...orNothing(
      section(
        'deals needing reconciliation',
        r.unresolvedOutcomes,
        (d) =>
          `${d.since} ${d.dealId} ${d.engine} ${d.symbol} ${d.side} ${d.amount}: ${d.reserved ?? 0} held reserved${d.cause ? ` — ${d.cause}` : ''}`,
      ),
    ),
    '',
    'What drifted',
    ...orNothing([
      ...drifted.tripwires.map(
        (t) =>
          `  tripwire ${t.policy} TRIGGERED${t.baseline !== null && t.current !== null ? ` ${t.baseline.toFixed(3)}→${t.current.toFixed(3)}` : ''}${t.dropFraction === null ? '' : ` (drop ${percent(t.dropFraction)})`}`,
      ),
      ...drifted.strategyDrift.map(
        (d) =>
          `  strategy ${d.strategyId} ${d.metric}: ${d.evaluations} drifting evaluation(s), worst ${d.worst}, max deviation ${percent(d.maxDeviation)}`,
      ),
      ...section(
        'strategy demotions and pauses',
        drifted.strategyChanges,
        (c) => `${c.at} ${c.strategyId} ${c.change}${c.reason ? `: ${c.reason}` : ''}`,
      ),
      ...drifted.strategyHealth.map(
        (s) =>
          `  strategy ${s.strategyId} (${s.level}${s.paused ? ', paused' : ''}): health ${s.score.toFixed(2)}, debt ${s.debt}, sizing ×${s.sizingMultiplier.toFixed(2)}`,
      ),
      ...drifted.scorecards
        .filter((s) => s.belowTarget)
        .map(
          (s) =>
            `  Heimdall ${s.domain}: success rate ${percent(s.successRate ?? 0)} over ${s.trials} trial(s), below ${percent(s.minSuccessRate)}`,
        ),
    ]),
    '',
    'Waiting for approval',
    ...orNothing([
      ...waiting.proposals.map(
        (p) =>
          `  proposal ${p.proposalId} ${p.fromPhase}→${p.targetPhase} (${p.status}): missing ${p.missingRoles.join(', ') || 'none'}${p.approvedBy.length > 0 ? `; approved by ${p.approvedBy.join(', ')}` : ''}; expires ${p.expiresAt}`,
      ),
      ...(waiting.killSwitchRelease
        ? [
            `  kill-switch release: approved so far by ${waiting.killSwitchRelease.approvals.map((a) => `${a.actor} (${a.role})`).join(', ')}`,
          ]
        : []),
      ...(waiting.workflows ?? []).map((w) => `  ${w.kind} ${w.workflowId} since ${w.startedAt}: ${w.detail}`),
      ...waiting.playbooks.map(
        (p) =>
          `  go-live playbook ${p.id} (started by ${p.startedBy}): ${p.stepsDone} of ${p.stepsTotal} steps done, next ${p.nextStep ?? 'none'}`,
      ),
    ]),
    ...(temporalProblem
      ? [`  (Temporal not reached, so open commands, promotions and orders are not listed: ${temporalProblem})`]
      : []),
  ];
}

export const reviewCommands: Record<string, (inv: Invocation) => Promise<number>> = {
  async review({ flags, args, ops }) {
    expectArgs('review', args, 0);
    const since =
      flags.since === undefined
        ? new Date(Date.now() - DEFAULT_REVIEW_PERIOD_MS)
        : field('--since', SinceSchema, flags.since);
    const { review, temporalProblem } = await ops.call('review', { since: since.toISOString() });
    printJsonOr(flags, review, () => describeReview(review, temporalProblem));
    return EXIT.ok;
  },
};
