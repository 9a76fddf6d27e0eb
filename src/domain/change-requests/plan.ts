import { type ClassifiedChange, type ClassifyContext, classifyChange } from './classify';
import { diffPolicyDocuments, type PartialPolicyDocument, type PolicyChange, type PolicyDocument } from './changes';
import { proposedDocument } from './policy-file';
import { type ReplayReport, replayPolicies } from './replay';
import type { RecordedGateInputs } from './replay-inputs';

// `warden policy plan` (and POST /policy/plan): the diff of a proposed document against the running
// state, split by invariant 8 into what applies at once and what waits for others' approval, and the
// replay of the recorded week under it. Pure; the caller reads the state and the records.

export interface PolicyPlan {
  appliesNow: ClassifiedChange[];
  needsApproval: ClassifiedChange[];
  replay: ReplayReport;
}

export function classifyAll(changes: readonly PolicyChange[], ctx: ClassifyContext): ClassifiedChange[] {
  return changes.map((c) => ({ ...c, ...classifyChange(c, ctx) }));
}

export function planPolicy(
  current: PolicyDocument,
  proposed: PartialPolicyDocument,
  ctx: ClassifyContext,
  inputs: RecordedGateInputs,
): PolicyPlan {
  const classified = classifyAll(diffPolicyDocuments(current, proposed), ctx);
  return {
    appliesNow: classified.filter((c) => c.direction === 'tighten'),
    needsApproval: classified.filter((c) => c.direction === 'loosen'),
    replay: replayPolicies(inputs, current, proposedDocument(current, proposed)),
  };
}

const show = (v: unknown) => (v === null ? 'none' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** One line per change, then its reasons: `risk_policy WHOLESALE` / `  maxDailyExposure 300 → 500: raises the cap`. */
export function describeChange(c: ClassifiedChange): string[] {
  const head =
    c.before === null
      ? `${c.kind} ${c.target}: new`
      : c.after === null
        ? `${c.kind} ${c.target}: removed`
        : `${c.kind} ${c.target}`;
  const lines = [head, ...c.why.map((w) => `    ${w}`)];
  if (c.before === null && c.kind !== 'approver' && typeof c.after === 'object' && c.after !== null)
    lines.push(`    → ${show(c.after)}`);
  return lines;
}

/** The replay as a table: gate, reason, would now deny, would now allow; then the mode shifts. */
export function renderReplay(r: ReplayReport): string[] {
  const lines = [
    `replay ${r.from.slice(0, 10)} … ${r.to.slice(0, 16).replace('T', ' ')} UTC: ${r.replayed.deals} deals, ${r.replayed.commands} commands;` +
      ` ${r.changed.deals} deals and ${r.changed.commands} commands would end differently`,
  ];
  if (r.counts.length > 0) {
    const rows = [['', 'gate', 'reason', 'would now deny', 'would now allow']].concat(
      r.counts.map((c) => [c.subject, c.gate, c.reason, String(c.wouldNowDeny), String(c.wouldNowAllow)]),
    );
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
    for (const row of rows) lines.push(`  ${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')}`.trimEnd());
  }
  for (const s of r.shifts) lines.push(`  ${s.subject}s run in ${s.to} instead of ${s.from}: ${s.count}`);
  return lines;
}

/** The plan as `warden policy plan` prints it. */
export function renderPlan(plan: PolicyPlan): string {
  const section = (title: string, changes: ClassifiedChange[]) =>
    changes.length === 0
      ? [`${title}: nothing`]
      : [`${title}:`, ...changes.flatMap((c) => describeChange(c).map((l) => `  ${l}`))];
  return [
    ...(plan.appliesNow.length + plan.needsApproval.length === 0
      ? ['no changes: the file matches the running state']
      : []),
    ...section('applies now (tightens)', plan.appliesNow),
    ...section('needs approval (loosens)', plan.needsApproval),
    '',
    ...renderReplay(plan.replay),
  ].join('\n');
}
