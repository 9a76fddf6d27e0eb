import { z } from 'zod';
import { BreakerRuleSchema } from '../../domain/autonomy/breakers';
import { ApproverRoleSchema, whitelistFor } from '../../domain/autonomy/phases';
import type { ProposalView } from '../../domain/autonomy/proposals';
import { ATTESTABLE_ITEMS } from '../../domain/autonomy/readiness-checklist';
import { ActorSchema, ReasonSchema } from '../../domain/control-plane/types';
import { describeIssues, rowIdSchema, safeText } from '../../domain/shared/validation';
import { EXIT, expectArgs, field, type Invocation, optionalBool, printJsonOr, sub, table, UsageError } from './shared';
import { printSubmitted } from './change-commands';
import { OperationFailed } from './transport';

const describeProposal = (p: ProposalView) =>
  `${p.proposalId}: ${p.fromPhase} → ${p.targetPhase} ${p.status.toUpperCase()}; approvals ${p.approvals.map((a) => `${a.role}=${a.approver}`).join(', ') || 'none'}${p.missingRoles.length ? `; missing ${p.missingRoles.join(', ')}` : ''}${p.validationEndsAt ? `; validation ends ${p.validationEndsAt}` : ''}`;

async function autonomyStatus({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('autonomy status', args, 0);
  const status = await ops.call('autonomy.status', {});
  const whitelist = whitelistFor(status.phases, status.state.phase);
  printJsonOr(flags, { ...status, whitelist }, () => [
    `phase:        ${status.state.phase} since ${status.state.phaseSince}`,
    `whitelist:    ${whitelist.allCommands ? 'ALL commands' : whitelist.commands.join(', ') || 'none (every command needs approval)'}`,
    `paused:       ${status.state.pausedCommandTypes.join(', ') || 'none'}`,
    `in validation: ${status.state.activeProposalId ?? 'none'}`,
    `last report:  ${status.state.lastReportAt ?? 'never'}`,
    `approvers:    ${Object.entries(status.approvers)
      .map(([role, people]) => `${role}=${people.join('|') || '—'}`)
      .join('  ')}`,
  ]);
  return EXIT.ok;
}

async function proposals({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('proposals', args, 0);
  const list = await ops.call('proposals.list', { pending: flags.pending ?? false });
  printJsonOr(flags, list, () => (list.length === 0 ? ['no proposals'] : list.map(describeProposal)));
  return EXIT.ok;
}

/** Approvals go through the proposal's update, as the key's identity in one of its approver roles. */
async function proposalDecision(kind: 'approve' | 'reject', { flags, args, ops }: Invocation): Promise<number> {
  expectArgs(`proposal ${kind}`, args, 1);
  const id = field('id', safeText({ max: 200 }), args[0]);
  const role = field('--role', ApproverRoleSchema, flags.role);
  const reason = kind === 'reject' ? field('--reason', ReasonSchema, flags.reason) : '';
  try {
    const view =
      kind === 'approve'
        ? await ops.call('proposal.approve', { id, role, ...(flags.comment ? { comment: flags.comment } : {}) })
        : await ops.call('proposal.reject', { id, role, reason });
    printJsonOr(flags, view, () => [describeProposal(view)]);
    return EXIT.ok;
  } catch (error) {
    // The workflow's refusal, with its reason: the approver hears why.
    if (!(error instanceof OperationFailed) || error.status !== 409) throw error;
    process.stderr.write(`warden: ${kind} refused: ${error.message}\n`);
    return EXIT.problem;
  }
}

/**
 * An operator's expansion proposal: Warden records it (one step up from the current phase, on the next
 * phase's own terms; the requester, in an approver role, may not approve it) and starts its workflow.
 */
async function proposalCreate({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('proposal create', args, 0);
  const role = field('--role', ApproverRoleSchema, flags.role);
  const reason = field('--reason', ReasonSchema, flags.reason);
  const terms = await ops.call('proposal.create', { role, reason });
  printJsonOr(flags, terms, () => [
    `${terms.proposalId}: ${terms.fromPhase} → ${terms.targetPhase} proposed by ${terms.requestedBy}; needs ${terms.requiredRoles.join(', ')} (not ${terms.requestedBy})`,
  ]);
  return EXIT.ok;
}

async function readiness({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('readiness', args, 0);
  const report = await ops.call('readiness.assess', {});
  printJsonOr(flags, report, () => [
    `readiness ${report.score}/80 (${(report.scoreFraction * 100).toFixed(1)}%): ${report.status}`,
    `technical ${report.categories.technical.earned}/35, process ${report.categories.process.earned}/25, organizational ${report.categories.organizational.earned}/20`,
    ...table(
      ['item', 'points', 'required', 'passed', 'evidence'],
      report.items.map((i) => [i.key, i.points, i.required ? 'yes' : '', i.passed ? 'yes' : 'NO', i.evidence]),
    ),
    '',
    report.blockers.length === 0 ? 'no blockers' : 'blockers:',
    ...report.blockers.map((b) => `  ${b}`),
  ]);
  return EXIT.ok;
}

async function breakers({ flags, args, ops }: Invocation): Promise<number> {
  const [what = 'events', ...rest] = args;
  if (what === 'rules') {
    expectArgs('breakers rules', rest, 0);
    const rules = await ops.call('breakers.rules', {});
    printJsonOr(flags, rules, () =>
      table(
        ['name', 'enabled', 'condition', 'window', 'action', 'severity'],
        rules.map((r) => [r.name, r.enabled ? 'yes' : 'no', r.condition, r.window, r.action, r.alertSeverity]),
      ),
    );
    return EXIT.ok;
  }
  if (what === 'events') {
    expectArgs('breakers events', rest, 0);
    const events = await ops.call('breakers.events', { pending: flags.pending ?? false });
    printJsonOr(flags, events, () =>
      table(
        ['id', 'rule', 'action', 'scope', 'at', 'resolved', 'detail'],
        events.map((e) => [
          e.id,
          e.rule,
          e.action,
          e.commandType,
          e.at,
          e.resolvedAt ? `${e.resolvedAt} by ${e.resolvedBy}` : 'OPEN',
          e.detail,
        ]),
      ),
    );
    return EXIT.ok;
  }
  if (what === 'resolve') {
    expectArgs('breakers resolve', rest, 1);
    const id = field('id', rowIdSchema('expected an event id'), rest[0]);
    const { changeRequest } = await ops.call('breakers.resolve', {
      id,
      reason: field('--reason', ReasonSchema, flags.reason),
    });
    if (!changeRequest) throw new UsageError(`breakers resolve: no open event ${id}`);
    // One that lifts a command-type pause waits for approval; the others close at once.
    return printSubmitted(flags, changeRequest);
  }
  if (what === 'set-rule') {
    expectArgs('breakers set-rule', rest, 1);
    const name = field('name', safeText({ max: 100 }), rest[0]);
    const current = (await ops.call('breakers.rules', {})).find((r) => r.name === name);
    const candidate = {
      name,
      enabled: flags.enabled === undefined ? (current?.enabled ?? true) : flags.enabled === 'true',
      condition: flags.condition ?? current?.condition,
      window: flags.window ?? current?.window,
      action: flags.action ?? current?.action,
      alertSeverity: flags.severity ?? current?.alertSeverity,
    };
    const parsed = BreakerRuleSchema.safeParse(candidate);
    if (!parsed.success) throw new UsageError(`breakers set-rule: ${describeIssues(parsed.error)}`);
    const reason = flags.reason === undefined ? {} : { reason: field('--reason', ReasonSchema, flags.reason) };
    return printSubmitted(flags, await ops.call('breakers.setRule', { rule: parsed.data, ...reason }));
  }
  throw new UsageError('breakers: expected rules, events, resolve or set-rule');
}

async function attestItem({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('attest', args, 1);
  const item = field(
    'item',
    z.enum(ATTESTABLE_ITEMS as [string, ...string[]], { message: `expected one of ${ATTESTABLE_ITEMS.join(', ')}` }),
    args[0],
  );
  const passed = optionalBool('--passed', flags.passed) ?? true;
  await ops.call('readiness.attest', { item, passed, ...(flags.note ? { note: flags.note } : {}) });
  printJsonOr(flags, { item, passed }, () => [`attested ${item}: ${passed ? 'met' : 'NOT met'}`]);
  return EXIT.ok;
}

async function approvers({ flags, args, ops }: Invocation): Promise<number> {
  const [what, ...rest] = args;
  if (what !== 'add' && what !== 'remove') throw new UsageError('approvers: expected add|remove ROLE NAME');
  expectArgs(`approvers ${what}`, rest, 2);
  const role = field('role', ApproverRoleSchema, rest[0]);
  const approver = field('name', ActorSchema, rest[1]);
  const reason = flags.reason === undefined ? {} : { reason: field('--reason', ReasonSchema, flags.reason) };
  // Adding an approver loosens (a change request); removing one applies at once.
  return printSubmitted(
    flags,
    await ops.call(what === 'add' ? 'approvers.add' : 'approvers.remove', { role, approver, ...reason }),
  );
}

async function cycleRun({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('cycle run', args, 0);
  const result = await ops.call('cycle.run', {});
  printJsonOr(flags, result, () => [
    `report ${result.reportId}: ${result.expand ? `EXPAND — proposal ${result.proposalId} started` : 'no expansion'}`,
    ...result.reasons.map((r) => `  ${r}`),
  ]);
  return EXIT.ok;
}

export const autonomyCommands: Record<string, (inv: Invocation) => Promise<number>> = {
  autonomy: sub('autonomy', { status: autonomyStatus }),
  proposals,
  proposal: sub('proposal', {
    create: proposalCreate,
    approve: (inv) => proposalDecision('approve', inv),
    reject: (inv) => proposalDecision('reject', inv),
  }),
  readiness,
  breakers,
  attest: attestItem,
  approvers,
  cycle: sub('cycle', { run: cycleRun }),
};
