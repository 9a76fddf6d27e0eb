import { ActivityFailure, condition, patched, proxyActivities, setHandler, uuid4, workflowInfo } from '@temporalio/workflow';
import type { ApprovalActivities } from '../activities/approvals';
import type { AutonomyActivities, CommandExecutor } from '../activities/autonomy';
import { type CommandDecision, CommandDecisionSchema, type CommandExecutionInput, CommandExecutionInputSchema, type CommandResult, type CommandView } from '../src/domain/autonomy/commands';
import type { CommandStatus } from '../src/domain/autonomy/metrics';
import { isWhitelisted } from '../src/domain/autonomy/phases';
import { parseInput } from '../src/domain/shared/errors';
import { redactToken } from '../src/domain/identity/redact';
import { AUTONOMY_APPROVER_ROLE } from '../src/domain/identity/roles';
import { describeIssues } from '../src/domain/shared/validation';
import { approveCommandSignal, commandStatusQuery, rejectCommandSignal } from './messages';

const autonomy = proxyActivities<AutonomyActivities & ApprovalActivities>({ startToCloseTimeout: '30 seconds', retry: { maximumInterval: '30 seconds' } });

/**
 * Seed 002: a whitelisted command runs on its own; any other waits for a
 * human (`approveCommand` / `rejectCommand`) until its timeout, then is
 * rejected. Paused types are refused. Every outcome is recorded and checked
 * against the circuit breakers.
 */
export async function commandExecution(rawInput: CommandExecutionInput): Promise<CommandResult> {
  const input = parseInput(CommandExecutionInputSchema, rawInput, 'commandExecution input');
  const executor = proxyActivities<CommandExecutor>({
    taskQueue: input.executorTaskQueue ?? workflowInfo().taskQueue,
    startToCloseTimeout: '2 minutes',
    retry: { maximumAttempts: 3, nonRetryableErrorTypes: ['CommandRejected'] },
  });
  const view: CommandView = { commandId: input.commandId, commandType: input.commandType, stage: 'loading', autonomous: null, decision: null, rejectedMessages: 0, result: null };
  const refused: { message: string; payload: unknown; problem: string }[] = [];
  // Since signed approvals: a decision counts only once its approver (and token, if any) passed an activity's check.
  const verifiesApprovers = patched('signed-approvals');
  const candidates: { kind: 'approve' | 'reject'; message: string; payload: unknown; decision: CommandDecision }[] = [];
  // Decisions are queued as they come (even before the context is loaded) and judged in order by the main loop.
  const incoming: { kind: 'approve' | 'reject'; message: string; payload: unknown }[] = [];
  setHandler(approveCommandSignal, (payload: unknown) => void incoming.push({ kind: 'approve', message: 'approveCommand', payload }), {
    description: 'Approve this command. {"approver": "alice", "role": "tech_lead", "comment": "…"}',
  });
  setHandler(rejectCommandSignal, (payload: unknown) => void incoming.push({ kind: 'reject', message: 'rejectCommand', payload }), {
    description: 'Reject this command. {"approver": "alice", "role": "tech_lead", "comment": "…"}',
  });
  setHandler(commandStatusQuery, () => view, { description: 'Stage, decision and result of this command.' });

  /** Judges queued decisions: the first valid one while waiting counts; the rest are refused with their reason. */
  const judge = (approvers: Record<string, string[]>) => {
    for (const item of incoming.splice(0)) {
      const parsed = CommandDecisionSchema.safeParse(item.payload);
      const problem = !parsed.success
        ? describeIssues(parsed.error)
        : view.stage !== 'awaiting_approval' || view.decision
          ? `command ${input.commandId} is not waiting for a decision`
          : !(approvers[parsed.data.role] ?? []).includes(parsed.data.approver)
            ? `${parsed.data.approver} is not on the allowlist for ${parsed.data.role}`
            : null;
      if (problem !== null || !parsed.success) refused.push({ message: item.message, payload: item.payload ?? null, problem: problem ?? 'invalid' });
      else if (verifiesApprovers) candidates.push({ ...item, decision: parsed.data });
      else view.decision = { kind: item.kind, ...(parsed.data as CommandDecision) };
    }
  };
  /** The first candidate whose approver check passes decides; the rest are refused with their reason. */
  const checkCandidates = async () => {
    while (candidates.length > 0) {
      const c = candidates.shift()!;
      const { token, ...decision } = c.decision;
      const verdict = view.decision
        ? { ok: false as const, problem: `command ${input.commandId} is not waiting for a decision` }
        : await autonomy.verifyApproval({ actor: decision.approver, role: AUTONOMY_APPROVER_ROLE[decision.role], usedFor: `command:${input.commandId}:${c.kind}`, ...(token !== undefined ? { token } : {}) });
      if (verdict.ok) view.decision = { kind: c.kind, ...decision };
      else refused.push({ message: c.message, payload: redactToken(c.decision), problem: verdict.problem });
    }
  };
  const flushRefused = async () => {
    while (refused.length > 0) {
      const r = refused.shift()!;
      view.rejectedMessages += 1;
      await autonomy.auditRejectedMessage({ subject: `command:${input.commandId}`, message: r.message, payload: r.payload, problem: r.problem, key: uuid4() });
    }
  };

  const context = await autonomy.loadAutonomyContext();
  const record = async (status: CommandStatus, extra: { approval?: 'approved' | 'rejected' | 'timed_out' | 'refused_paused'; detail?: string | null; incident?: { severity: 'low' | 'medium' | 'high' | 'critical'; description: string } | null; autonomous: boolean }) => {
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
    });
  };
  const finish = async (result: CommandResult) => {
    judge(context.approvers);
    await flushRefused();
    view.result = result;
    view.stage = 'done';
    return result;
  };

  if (context.pausedCommandTypes.includes(input.commandType)) {
    await record('rejected', { approval: 'refused_paused', detail: `${input.commandType} is paused by a circuit breaker`, autonomous: false });
    return finish({ status: 'refused', commandId: input.commandId, reason: 'command_type_paused', phase: context.phase });
  }

  const autonomous = isWhitelisted(context.whitelist, input.commandType);
  view.autonomous = autonomous;
  if (!autonomous) {
    view.stage = 'awaiting_approval';
    const deadline = new Date().getTime() + input.approvalTimeoutSeconds * 1000;
    for (;;) {
      judge(context.approvers);
      await checkCandidates();
      await flushRefused();
      const left = deadline - new Date().getTime();
      if (view.decision || left <= 0) break;
      await condition(() => incoming.length > 0, left);
    }
    if (!view.decision) {
      await record('rejected', { approval: 'timed_out', detail: `no decision within ${input.approvalTimeoutSeconds} s`, autonomous: false });
      return finish({ status: 'rejected', commandId: input.commandId, autonomous: false, phase: context.phase, detail: 'approval_timeout' });
    }
    if (view.decision.kind === 'reject') {
      await record('rejected', { approval: 'rejected', detail: view.decision.comment ?? null, autonomous: false });
      return finish({ status: 'rejected', commandId: input.commandId, autonomous: false, phase: context.phase, detail: view.decision.comment ?? 'rejected' });
    }
  }

  view.stage = 'executing';
  let status: CommandStatus;
  let detail: string | null = null;
  let incident: { severity: 'low' | 'medium' | 'high' | 'critical'; description: string } | null = null;
  try {
    const result = await executor.executeCommand({ commandId: input.commandId, commandType: input.commandType, params: input.params });
    status = result.rolledBack ? 'rolled_back' : 'succeeded';
    incident = result.incident ?? null;
  } catch (error) {
    if (!(error instanceof ActivityFailure)) throw error;
    status = 'failed';
    detail = error.cause?.message ?? error.message;
  }
  await record(status, { approval: autonomous ? undefined : 'approved', detail, incident, autonomous });
  return finish({ status, commandId: input.commandId, autonomous, phase: context.phase, detail });
}
