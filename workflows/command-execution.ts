import {
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ApprovalActivities } from '../src/domain/identity/activities';
import type { AutonomyActivities, AutonomyContext } from '../src/domain/autonomy/activities';
import type { CommandGateActivities } from '../src/domain/autonomy/command-activities';
import {
  type CommandDecision,
  CommandDecisionSchema,
  type CommandExecutionInput,
  CommandExecutionInputSchema,
  type CommandGateDecision,
  DEFAULT_COMMAND_MESSAGES_PER_RUN,
  type CommandResult,
  type CommandView,
} from '../src/domain/autonomy/commands';
import type { CommandStatus } from '../src/domain/autonomy/metrics';
import { isWhitelisted } from '../src/domain/autonomy/phases';
import { parseInput } from '../src/domain/shared/errors';
import { redactToken } from '../src/domain/identity/redact';
import { ApprovalInbox, awaitDecision, screenApproval } from './lib/approval-inbox';
import { execute, type Incident } from './lib/command-executor';
import { splitCarried } from './lib/continued';
import { type Generation, Patches } from './lib/patches';
import { SEARCH_ATTRIBUTES_PATCH, Visibility } from './lib/visibility';
import { approveCommandSignal, commandStatusQuery, rejectCommandSignal } from './messages';

/**
 * Since this patch a command waiting for its decision hands over to a new run after its message
 * budget, or when the server suggests it: a flood of refused decisions grew one run's history to the
 * server's limit, and the server terminated the command.
 */
const COMMAND_ROLLS_OVER = 'command-rolls-over';

const COMMAND_GENERATION_2026_12 = [
  'signed-approvals',
  'command-governed',
  'command-admitted-at-once',
  'command-governed-pre-execute',
  SEARCH_ATTRIBUTES_PATCH,
];
/** A command started since its generation patch takes every patched path below on that one marker (see Patches). */
const COMMAND_GENERATIONS: readonly Generation[] = [
  { id: 'command-generation-2026-12-rolls', covers: [...COMMAND_GENERATION_2026_12, COMMAND_ROLLS_OVER] },
  { id: 'command-generation-2026-12', covers: COMMAND_GENERATION_2026_12 },
];

/**
 * What a run continued as new carries: the wait as the last run left it (its decisions all judged),
 * with what the first run's admission read. The next run decides nothing again: a hand-over a flood
 * set off must not change the command (the pre-execute check still reads the control plane then).
 */
interface CarriedCommand {
  /** Workflow time (epoch ms) after which no decision counts: the first run's. */
  deadline: number;
  rejectedMessages: number;
  context: AutonomyContext;
}
/** The start payload, plus what only a run continued as new carries. */
export type CommandRun = CommandExecutionInput & { carried?: CarriedCommand };

const autonomy = proxyActivities<AutonomyActivities & ApprovalActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '30 seconds' },
});
// Read-only gate checks: short, retried until the database answers.
const gates = proxyActivities<CommandGateActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds' },
});

// Since command-admitted-at-once: the context and the first gate, in one local activity.
const admission = proxyLocalActivities<CommandGateActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '200 milliseconds', maximumInterval: '10 seconds' },
});

type Kind = 'approve' | 'reject';

/**
 * Seed 002: a whitelisted command runs on its own; any other waits for a
 * human (`approveCommand` / `rejectCommand`) until its timeout, then is
 * rejected. Paused types are refused. Every outcome is recorded and checked
 * against the circuit breakers.
 */
export async function commandExecution(rawRun: CommandRun): Promise<CommandResult> {
  const { carried, start } = splitCarried<CarriedCommand>(rawRun);
  const input = parseInput(CommandExecutionInputSchema, start, 'commandExecution input');
  const view: CommandView = {
    commandId: input.commandId,
    commandType: input.commandType,
    stage: 'loading',
    autonomous: null,
    decision: null,
    rejectedMessages: carried?.rejectedMessages ?? 0,
    result: null,
  };
  const patches = Patches.since(COMMAND_GENERATIONS);
  // Runs from before its generation never hand over.
  const rolls = carried !== undefined || patches.covers(COMMAND_ROLLS_OVER);
  const due = () =>
    rolls &&
    (inbox.receivedInRun >= (input.messagesPerRun ?? DEFAULT_COMMAND_MESSAGES_PER_RUN) ||
      workflowInfo().continueAsNewSuggested);
  // Since signed approvals: a decision counts only once its approver (and token, if any) passed an activity's check.
  const verifiesApprovers = patches.has('signed-approvals');
  // Since command-governed: the control plane and the command type's policy decide, at the start and just before the executor.
  const governed = patches.has('command-governed');
  const visibility = new Visibility().decide(patches);
  visibility.show({ stage: 'admission' }, `Command ${input.commandId} (${input.commandType}), at admission`);
  // Decisions are queued as they come (even before the context is loaded) and judged in order by the main loop.
  const inbox = new ApprovalInbox<Kind>({
    verifyApproval: autonomy.verifyApproval,
    audit: { subject: `command:${input.commandId}`, auditRejectedMessage: autonomy.auditRejectedMessage },
  });
  setHandler(approveCommandSignal, inbox.receiver('approve', 'approveCommand'), {
    description: 'Approve this command. {"approver": "alice", "role": "tech_lead", "comment": "…"}',
  });
  setHandler(rejectCommandSignal, inbox.receiver('reject', 'rejectCommand'), {
    description: 'Reject this command. {"approver": "alice", "role": "tech_lead", "comment": "…"}',
  });
  setHandler(commandStatusQuery, () => view, { description: 'Stage, decision and result of this command.' });

  const notWaiting = `command ${input.commandId} is not waiting for a decision`;
  const candidates: { kind: Kind; message: string; decision: CommandDecision }[] = [];
  /** Judges queued decisions: the first valid one while waiting counts; the rest are refused with their reason. */
  const judge = (approvers: Record<string, string[]>) => {
    for (const item of inbox.takeAll()) {
      const screened = screenApproval(CommandDecisionSchema, item.payload, approvers, () =>
        view.stage !== 'awaiting_approval' || view.decision ? notWaiting : null,
      );
      if (!screened.ok) inbox.refuse(item.message, item.payload ?? null, screened.problem);
      else if (verifiesApprovers)
        candidates.push({ kind: item.kind, message: item.message, decision: screened.approval });
      else view.decision = { kind: item.kind, ...screened.approval };
    }
  };
  /** The first candidate whose approver check passes decides; the rest are refused with their reason. */
  const checkCandidates = async () => {
    while (candidates.length > 0) {
      const c = candidates.shift()!;
      const { token, ...decision } = c.decision;
      const verdict = view.decision
        ? { ok: false as const, problem: notWaiting }
        : await inbox.verify(
            c.decision,
            c.kind,
            // Requester ≠ approver; a requester may still reject (withdraw) their own command.
            c.kind === 'approve' ? [{ actor: input.requestedBy, as: 'submitted this command' }] : [],
          );
      if (verdict.ok) view.decision = { kind: c.kind, ...decision };
      else inbox.refuse(c.message, redactToken(c.decision), verdict.problem);
    }
  };
  const flushRefused = () => inbox.auditRefusals(() => void (view.rejectedMessages += 1));
  /** The next run, once nothing received is left to judge (else the next drain judges it first). */
  const handOver = async (deadline: number) => {
    await condition(allHandlersFinished);
    if (inbox.waiting > 0 || inbox.refusing > 0) return;
    await continueAsNew<typeof commandExecution>({
      ...input,
      carried: { deadline, rejectedMessages: view.rejectedMessages, context },
    });
  };

  const gateInput = {
    commandId: input.commandId,
    commandType: input.commandType,
    ...(input.executionClass ? { requestedClass: input.executionClass } : {}),
    hasExecutorTaskQueue: input.executorTaskQueue !== undefined,
  };
  const admitted =
    carried === undefined && governed && patches.has('command-admitted-at-once')
      ? await admission.admitCommand(gateInput)
      : null;
  const context = carried?.context ?? admitted?.context ?? (await autonomy.loadAutonomyContext());
  const record = async (
    status: CommandStatus,
    extra: {
      approval?: 'approved' | 'rejected' | 'timed_out' | 'refused_paused';
      detail?: string | null;
      incident?: Incident | null;
      autonomous: boolean;
      gate?: CommandGateDecision;
    },
  ) => {
    view.stage = 'recording';
    await autonomy.recordCommandOutcome({
      commandId: input.commandId,
      commandType: input.commandType,
      phase: context.phase,
      autonomous: extra.autonomous,
      status,
      approval: extra.approval ?? null,
      approver: view.decision?.approver ?? null,
      role: view.decision?.role ?? null,
      detail: extra.detail ?? null,
      incident: extra.incident ?? null,
      at: new Date().toISOString(),
      ...(extra.gate
        ? {
            executionClass: extra.gate.executionClass,
            ...(extra.gate.allowed
              ? { applyMode: extra.gate.applyMode }
              : { denial: { gate: extra.gate.gate, reason: extra.gate.reason } }),
          }
        : {}),
    });
  };
  /** A gate said no: recorded as the command's outcome (not an execution, so no breaker counts it as a failure). */
  const deny = async (
    gate: Extract<CommandGateDecision, { allowed: false }>,
    autonomous: boolean,
    approval?: 'approved',
  ): Promise<CommandResult> => {
    await record('denied', { approval, detail: gate.detail, autonomous, gate });
    return finish({
      status: 'denied',
      commandId: input.commandId,
      gate: gate.gate,
      reason: gate.reason,
      detail: gate.detail,
      phase: context.phase,
      autonomous,
      executionClass: gate.executionClass,
    });
  };
  const check = (stage: 'start' | 'pre_execute') => gates.checkCommandGate({ ...gateInput, stage });
  const finish = async (result: CommandResult) => {
    judge(context.approvers);
    await flushRefused();
    view.result = result;
    view.stage = 'done';
    visibility.show(
      {
        stage: 'done',
        outcome: result.status,
        deniedGate: result.status === 'denied' ? result.gate : null,
        awaitingApproval: null,
      },
      result.status === 'denied' ? `Denied at ${result.gate}: ${result.reason}` : `Ended: ${result.status}`,
    );
    return result;
  };

  if (carried === undefined && context.pausedCommandTypes.includes(input.commandType)) {
    await record('rejected', {
      approval: 'refused_paused',
      detail: `${input.commandType} is paused by a circuit breaker`,
      autonomous: false,
    });
    return finish({
      status: 'refused',
      commandId: input.commandId,
      reason: 'command_type_paused',
      phase: context.phase,
    });
  }

  // A continued run was waiting for a human: admitted, and not autonomous, by the first run.
  const autonomous = carried === undefined && isWhitelisted(context.whitelist, input.commandType);
  view.autonomous = autonomous;
  if (governed && carried === undefined) {
    // The first gate, as for a deal: go-live off or a kill switch stops the command before anyone is asked.
    view.stage = 'control_plane';
    const entry = admitted?.gate ?? (await check('start'));
    if (!entry.allowed) return deny(entry, autonomous);
  }
  if (!autonomous) {
    view.stage = 'awaiting_approval';
    const deadline = carried?.deadline ?? new Date().getTime() + input.approvalTimeoutSeconds * 1000;
    // Roles with someone on the allowlist: a role nobody holds approves nothing.
    const roles = Object.entries(context.approvers)
      .filter(([, names]) => names.length > 0)
      .map(([role]) => role);
    const what = `Command ${input.commandId} (${input.commandType})`;
    const until = new Date(deadline).toISOString();
    visibility.show(
      { stage: 'awaiting_approval', awaitingApproval: roles },
      `${what} waits for approveCommand or rejectCommand from ${roles.join(' or ') || 'an approver'} until ${until}`,
    );
    // Since the visibility patch a command that waits for people says so (audited: operators are notified).
    if (visibility.announces && carried === undefined)
      await autonomy.announceApprovalWaiting({
        key: `command:${input.commandId}:approval-waiting`,
        subject: `command:${input.commandId}`,
        what,
        roles,
        deadline: until,
        requestedBy: input.requestedBy,
      });
    await awaitDecision({
      deadline,
      decided: () => view.decision !== null,
      wake: () => inbox.waiting > 0,
      drain: async () => {
        judge(context.approvers);
        await checkCandidates();
        await flushRefused();
        // Hands over once every decision received is judged and audited: nothing in flight is lost.
        if (!view.decision && due()) await handOver(deadline);
      },
      drainFirst: true,
      drainOnTimeout: true,
    });
    if (!view.decision) {
      await record('rejected', {
        approval: 'timed_out',
        detail: `no decision within ${input.approvalTimeoutSeconds} s`,
        autonomous: false,
      });
      return finish({
        status: 'rejected',
        commandId: input.commandId,
        autonomous: false,
        phase: context.phase,
        detail: 'approval_timeout',
      });
    }
    if (view.decision.kind === 'reject') {
      await record('rejected', { approval: 'rejected', detail: view.decision.comment ?? null, autonomous: false });
      return finish({
        status: 'rejected',
        commandId: input.commandId,
        autonomous: false,
        phase: context.phase,
        detail: view.decision.comment ?? 'rejected',
      });
    }
  }

  const approval = autonomous ? undefined : ('approved' as const);
  let ready: Extract<CommandGateDecision, { allowed: true }> | undefined;
  // A command started before command-governed and still waiting at the upgrade gets the pre-execute check too:
  // reached for the first time now, the second marker is recorded; old histories replayed here have none.
  if (governed || patches.has('command-governed-pre-execute')) {
    // A kill switch engaged (or go-live turned off) while the command waited stops it here, before any side effect.
    view.stage = 'pre_execute_check';
    const gate = await check('pre_execute');
    if (!gate.allowed) return deny(gate, autonomous, approval);
    if (gate.applyMode === 'dry_run') {
      const detail = gate.detail ?? 'dry_run: not executed';
      await record('dry_run', { approval, detail, autonomous, gate });
      return finish({
        status: 'dry_run',
        commandId: input.commandId,
        autonomous,
        phase: context.phase,
        detail,
        executionClass: gate.executionClass,
        applyMode: 'dry_run',
      });
    }
    ready = gate;
  }

  view.stage = 'executing';
  const outcome = await execute(input, ready);
  if ('denied' in outcome) return deny(outcome.denied, autonomous, approval);
  const { status, detail, incident } = outcome;
  await record(status, { approval, detail, incident, autonomous, ...(ready ? { gate: ready } : {}) });
  return finish({
    status,
    commandId: input.commandId,
    autonomous,
    phase: context.phase,
    detail,
    ...(ready ? { executionClass: ready.executionClass, applyMode: ready.applyMode } : {}),
  });
}
