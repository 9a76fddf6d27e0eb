import { WorkflowUpdateFailedError } from '@temporalio/client';
import { z } from 'zod';
import { BreakerRuleSchema } from '../../domain/autonomy/breakers';
import { ApproverRoleSchema, whitelistFor } from '../../domain/autonomy/phases';
import type { ProposalView } from '../../domain/autonomy/proposals';
import { ATTESTABLE_ITEMS } from '../../domain/autonomy/readiness-checklist';
import { ActorSchema, ReasonSchema } from '../../domain/control-plane/types';
import { describeIssues, safeText } from '../../domain/shared/validation';
import type { GovernanceCycleResult } from '../../../workflows/governance-cycle';
import { approveUpdate, rejectUpdate } from '../../../workflows/messages';
import {
  EXPANSION_PROPOSAL_WORKFLOW_TYPE,
  GOVERNANCE_CYCLE_WORKFLOW_ID,
  GOVERNANCE_CYCLE_WORKFLOW_TYPE,
} from '../../../workflows/names';
import { ErrorType } from '../../domain/shared/errors';
import {
  actorOf,
  EXIT,
  expectArgs,
  field,
  type Invocation,
  optionalBool,
  printJsonOr,
  runOnce,
  sub,
  table,
  UsageError,
  withData,
  withWarden,
} from './shared';

const describeProposal = (p: ProposalView) =>
  `${p.proposalId}: ${p.fromPhase} → ${p.targetPhase} ${p.status.toUpperCase()}; approvals ${p.approvals.map((a) => `${a.role}=${a.approver}`).join(', ') || 'none'}${p.missingRoles.length ? `; missing ${p.missingRoles.join(', ')}` : ''}${p.validationEndsAt ? `; validation ends ${p.validationEndsAt}` : ''}`;

async function autonomyStatus({ config, flags, args }: Invocation): Promise<number> {
  expectArgs('autonomy status', args, 0);
  return withData(config, async (data) => {
    const status = await data.autonomyStatus();
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
  });
}

async function proposals({ config, flags, args }: Invocation): Promise<number> {
  expectArgs('proposals', args, 0);
  return withData(config, async (data) => {
    const list = await data.listProposals(flags.pending ?? false);
    printJsonOr(flags, list, () => (list.length === 0 ? ['no proposals'] : list.map(describeProposal)));
    return EXIT.ok;
  });
}

/** Approvals go through the proposal's update, so the approver hears the reason for a refusal. */
async function proposalDecision(kind: 'approve' | 'reject', { config, flags, args }: Invocation): Promise<number> {
  expectArgs(`proposal ${kind}`, args, 1);
  const id = field('id', safeText({ max: 200 }), args[0]);
  const role = field('--role', ApproverRoleSchema, flags.role);
  const approver = field('--approver', ActorSchema, flags.approver ?? process.env.WARDEN_ACTOR);
  return withWarden(config, async (warden) => {
    const handle = warden.client.workflow.getHandle(id);
    try {
      const view =
        kind === 'approve'
          ? await handle.executeUpdate(approveUpdate, {
              args: [{ role, approver, ...(flags.comment ? { comment: flags.comment } : {}) }],
            })
          : await handle.executeUpdate(rejectUpdate, {
              args: [{ role, approver, reason: field('--reason', ReasonSchema, flags.reason) }],
            });
      printJsonOr(flags, view, () => [describeProposal(view)]);
      return EXIT.ok;
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError) {
        process.stderr.write(`warden: ${kind} refused: ${error.cause?.message ?? error.message}\n`);
        return EXIT.problem;
      }
      throw error;
    }
  });
}

/**
 * An operator's expansion proposal: Warden records it (one step up from the current phase, on the next
 * phase's own terms; the requester, in an approver role, may not approve it) and starts its workflow.
 */
async function proposalCreate({ config, flags, args }: Invocation): Promise<number> {
  expectArgs('proposal create', args, 0);
  const role = field('--role', ApproverRoleSchema, flags.role);
  const reason = field('--reason', ReasonSchema, flags.reason);
  const requestedBy = actorOf(flags);
  const terms = await withData(config, async (data) => {
    try {
      return await data.proposeExpansion({ requestedBy, role, reason });
    } catch (error) {
      if (error instanceof Error && error.name === ErrorType.ProposalRefused) throw new UsageError(error.message);
      throw error;
    }
  });
  await withWarden(config, (warden) =>
    warden.client.workflow.start(EXPANSION_PROPOSAL_WORKFLOW_TYPE, {
      taskQueue: config.temporal.taskQueue,
      workflowId: terms.proposalId,
      // Only the id matters: the workflow loads its terms from Warden's record.
      args: [{ proposalId: terms.proposalId }],
    }),
  );
  printJsonOr(flags, terms, () => [
    `${terms.proposalId}: ${terms.fromPhase} → ${terms.targetPhase} proposed by ${requestedBy}; needs ${terms.requiredRoles.join(', ')} (not ${requestedBy})`,
  ]);
  return EXIT.ok;
}

async function readiness({ config, flags, args }: Invocation): Promise<number> {
  expectArgs('readiness', args, 0);
  return withData(config, async (data) => {
    const report = await data.assessReadiness();
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
  });
}

async function breakers({ config, flags, args }: Invocation): Promise<number> {
  const [what = 'events', ...rest] = args;
  return withData(config, async (data) => {
    if (what === 'rules') {
      expectArgs('breakers rules', rest, 0);
      const rules = await data.listBreakerRules();
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
      const events = await data.listBreakerEvents(flags.pending ?? false);
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
      const id = field('id', z.string().regex(/^\d+$/, 'expected an event id'), rest[0]);
      const resolved = await data.resolveBreakerEvent(
        id,
        actorOf(flags),
        field('--reason', ReasonSchema, flags.reason),
      );
      if (!resolved) throw new UsageError(`breakers resolve: no open event ${id}`);
      printJsonOr(flags, { id, resolved }, () => [`resolved event ${id}`]);
      return EXIT.ok;
    }
    if (what === 'set-rule') {
      expectArgs('breakers set-rule', rest, 1);
      const name = field('name', safeText({ max: 100 }), rest[0]);
      const current = (await data.listBreakerRules()).find((r) => r.name === name);
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
      await data.setBreakerRule(parsed.data, actorOf(flags));
      printJsonOr(flags, parsed.data, () => [
        `${current ? 'updated' : 'created'} rule ${name}: ${parsed.data.condition} over ${parsed.data.window} → ${parsed.data.action}`,
      ]);
      return EXIT.ok;
    }
    throw new UsageError('breakers: expected rules, events, resolve or set-rule');
  });
}

async function attestItem({ config, flags, args }: Invocation): Promise<number> {
  expectArgs('attest', args, 1);
  const item = field(
    'item',
    z.enum(ATTESTABLE_ITEMS as [string, ...string[]], { message: `expected one of ${ATTESTABLE_ITEMS.join(', ')}` }),
    args[0],
  );
  const passed = optionalBool('--passed', flags.passed) ?? true;
  const actor = actorOf(flags);
  return withData(config, async (data) => {
    await data.attest({ item, passed, actor, ...(flags.note ? { note: flags.note } : {}) });
    printJsonOr(flags, { item, passed, actor }, () => [
      `attested ${item}: ${passed ? 'met' : 'NOT met'} (by ${actor})`,
    ]);
    return EXIT.ok;
  });
}

async function approvers({ config, flags, args }: Invocation): Promise<number> {
  const [what, ...rest] = args;
  if (what !== 'add') throw new UsageError('approvers: expected add ROLE NAME');
  expectArgs('approvers add', rest, 2);
  const role = field('role', ApproverRoleSchema, rest[0]);
  const approver = field('name', ActorSchema, rest[1]);
  return withData(config, async (data) => {
    await data.addApprover(role, approver, actorOf(flags));
    printJsonOr(flags, { role, approver }, () => [`${approver} may approve as ${role}`]);
    return EXIT.ok;
  });
}

async function cycleRun({ config, flags, args }: Invocation): Promise<number> {
  expectArgs('cycle run', args, 0);
  return withWarden(config, async (warden) => {
    const result = await runOnce<GovernanceCycleResult>(
      warden,
      config,
      GOVERNANCE_CYCLE_WORKFLOW_TYPE,
      `${GOVERNANCE_CYCLE_WORKFLOW_ID}-manual`,
    );
    printJsonOr(flags, result, () => [
      `report ${result.reportId}: ${result.expand ? `EXPAND — proposal ${result.proposalId} started` : 'no expansion'}`,
      ...result.reasons.map((r) => `  ${r}`),
    ]);
    return EXIT.ok;
  });
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
