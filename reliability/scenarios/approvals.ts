// Issue 15 item 5: change requests and expansion proposals under racing
// duplicate and conflicting approvals, with a worker SIGKILL+restart in the
// middle. The verdicts rest on what the harness sent, what each update
// answered, the workflows' results and the database's rows (the request and
// proposal tables, the policy tables, the audit log), never on Warden's counters.
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { type WorkflowHandle, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { sql } from 'kysely';
import { verifyAuditChain } from '../../src/db/audit.repository';
import { addApprover } from '../../src/db/autonomy.repository';
import { insertBreakerEvent, markRevertedProposal } from '../../src/db/breakers.repository';
import { proposeExpansion } from '../../src/db/expansion-proposals.repository';
import type { ApproverRole } from '../../src/domain/autonomy/phases';
import type { ProposalView } from '../../src/domain/autonomy/proposals';
import { AuditKind } from '../../src/domain/audit/kinds';
import { type ApprovalSlot, missingApprovals } from '../../src/domain/change-requests/approvals';
import type { ChangeRequestView, ProposedChange } from '../../src/domain/change-requests/request';
import type { Role } from '../../src/domain/identity/roles';
import {
  approveChangeSignal,
  approveChangeUpdate,
  approveSignal,
  approveUpdate,
  breakerTrippedSignal,
  cancelChangeUpdate,
  proposalStatusQuery,
  rejectChangeSignal,
  rejectChangeUpdate,
  rejectSignal,
  rejectUpdate,
} from '../../workflows/messages';
import { EXPANSION_PROPOSAL_WORKFLOW_TYPE, policyChangeWorkflowId } from '../../workflows/names';
import { type Cluster, persistently, TASK_QUEUE } from '../lib/cluster';
import type { ScenarioResult } from '../lib/scenario';

export interface ApprovalsOptions {
  /** Change requests and expansion proposals together (about one in ten is a proposal, at least one). */
  requests: number;
  /** SIGKILL the worker once half the requests have started, and start it again. */
  restartWorker: boolean;
  /** Change requests in flight at once. */
  concurrency?: number;
}

type Via = 'update' | 'signal';
type Decision = 'approve' | 'reject' | 'cancel';
interface Send {
  decision: Decision;
  via: Via;
  actor: string;
  role: string;
  /** accepted: the update answered success; refused: it failed with a reason; sent: a signal delivered. */
  outcome: 'accepted' | 'refused' | 'sent';
  problem?: string;
}

/** Why an approval was refused, as a figure's name. */
function reasonOf(problem: string): string {
  if (/requested this (change|proposal)/.test(problem)) return 'self_approval';
  if (/already approved as|one person cannot fill two roles/.test(problem)) return 'same_approver';
  if (/already given|already approved by/.test(problem)) return 'role_filled';
  if (/not among the approvals/.test(problem)) return 'role_not_needed';
  if (
    / is (applied|approved|rejected|cancelled|stale|expired|validating|reverted|refused)|already completed|closed/.test(
      problem,
    )
  )
    return 'closed';
  return 'other';
}

const isTransport = (error: unknown) => !(error instanceof WorkflowUpdateFailedError);
const isClosedRun = (error: unknown) =>
  error instanceof WorkflowNotFoundError || (error instanceof Error && /already completed/.test(error.message));

/**
 * One update, retried through a worker restart under the same update id (Temporal deduplicates it, so a
 * retry never decides twice); a refusal (or a run that has ended) is an answer, not a failure.
 */
async function updateOnce<R>(
  handle: WorkflowHandle,
  def: { name: string },
  payload: unknown,
): Promise<{ ok: true; value: R } | { ok: false; problem: string }> {
  const updateId = randomUUID();
  const deadline = Date.now() + 120_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return { ok: true, value: await handle.executeUpdate<R, [unknown]>(def.name, { args: [payload], updateId }) };
    } catch (error) {
      if (!isTransport(error)) {
        const cause = (error as WorkflowUpdateFailedError).cause;
        return { ok: false, problem: cause?.message ?? (error as Error).message };
      }
      if (isClosedRun(error)) return { ok: false, problem: 'closed: the run had already completed' };
      if (Date.now() > deadline) throw error;
      await sleep(Math.min(2_000, 100 * attempt));
    }
  }
}

/** A signal, retried through a restart (a second delivery is a duplicate the workflow counts once). */
async function signalOnce(handle: WorkflowHandle, def: { name: string }, payload: unknown) {
  try {
    await persistently(() => handle.signal<[unknown]>(def.name, payload), 'signal');
    return true;
  } catch (error) {
    if (isClosedRun(error) || isClosedRun((error as Error).cause)) return false;
    throw error;
  }
}

interface AuditRow {
  id: string;
  kind: string;
  actor: string;
  subject: string;
  details: Record<string, unknown>;
}

// ---- Change requests ----

type CrPlan =
  'dup-update' | 'update+signal' | 'approve-vs-reject' | 'surplus' | 'self' | 'reject-twice' | 'cancel-race';
const CR_PLANS: readonly CrPlan[] = [
  'dup-update',
  'update+signal',
  'approve-vs-reject',
  'surplus',
  'self',
  'reject-twice',
  'cancel-race',
];

interface CrRun {
  id: string;
  plan: CrPlan;
  kind: 'approver' | 'strategy';
  target: string;
  requester: string;
  sends: Send[];
  view?: ChangeRequestView;
  failures: string[];
  /** From submission to the workflow's result. */
  ms?: number;
}

/** Two kinds with different slots: approver additions (owner|manager + approver) and new strategies (risk officer + manager). */
function changeFor(i: number, tag: string): { kind: CrRun['kind']; target: string; change: ProposedChange } {
  if (i % 2 === 0) {
    const name = `rel-${tag}-${i}`;
    return {
      kind: 'approver',
      target: `ops_lead:${name}`,
      change: { kind: 'approver', target: `ops_lead:${name}`, after: { role: 'ops_lead', name } },
    };
  }
  const id = `rel-${tag}-${i}`;
  return {
    kind: 'strategy',
    target: id,
    change: {
      kind: 'strategy',
      target: id,
      after: { level: 'L1', enabled: true, capital: 1_000, tokenRequired: false, healthFloor: 0.25 },
    },
  };
}

/** Policy-table audit events an applied request of each kind writes (approver added; strategy upserted and promoted). */
const POLICY_EVENTS: Record<CrRun['kind'], readonly string[]> = {
  approver: [AuditKind.autonomy.approverAdded],
  strategy: [AuditKind.strategy.changed, AuditKind.strategy.promoted],
};

async function runChangeRequest(cluster: Cluster, i: number, tag: string): Promise<CrRun> {
  const plan = CR_PLANS[i % CR_PLANS.length]!;
  const { kind, target, change } = changeFor(i, tag);
  const requester = `req-${tag}-${i}`;
  const id = `cr-${randomBytes(6).toString('hex')}`;
  const run: CrRun = { id, plan, kind, target, requester, sends: [], failures: [] };
  const t0 = Date.now();
  await persistently(
    () =>
      cluster.warden
        .submitPolicyChanges({
          id,
          requestedBy: { name: requester, roles: ['manager'] },
          changes: [change],
          reason: plan,
        })
        .catch(async (error: unknown) => {
          // A retry after the start went through: the request is there, wait for it to be recorded.
          if ((error as Error).name !== 'AlreadyRunningError') throw error;
          return cluster.warden.changeRequestStatus(id);
        }),
    `submit ${id}`,
  );
  const handle = cluster.client.workflow.getHandle(policyChangeWorkflowId(id));
  // Roles that fill each kind's two slots (a, b), one more that fits (c), and an owner (fills any).
  const [a, b]: [Role, Role] = kind === 'approver' ? ['manager', 'risk_officer'] : ['risk_officer', 'manager'];
  const c: Role = kind === 'approver' ? 'owner' : 'manager';
  const send = async (decision: Decision, via: Via, actor: string, role: Role): Promise<void> => {
    const payload =
      decision === 'approve'
        ? { actor, role, comment: plan }
        : decision === 'reject'
          ? { actor, role, reason: `${plan}: no` }
          : { actor, reason: `${plan}: withdrawn` };
    if (via === 'signal') {
      const delivered = await signalOnce(
        handle,
        decision === 'approve' ? approveChangeSignal : rejectChangeSignal,
        payload,
      );
      run.sends.push({ decision, via, actor, role, outcome: 'sent', ...(delivered ? {} : { problem: 'closed' }) });
      return;
    }
    const def =
      decision === 'approve' ? approveChangeUpdate : decision === 'reject' ? rejectChangeUpdate : cancelChangeUpdate;
    const answer = await updateOnce<ChangeRequestView>(handle, def, payload);
    run.sends.push(
      answer.ok
        ? { decision, via, actor, role, outcome: 'accepted' }
        : { decision, via, actor, role, outcome: 'refused', problem: answer.problem },
    );
  };
  const A = `appr-a-${tag}-${i}`;
  const B = `appr-b-${tag}-${i}`;
  const C = `appr-c-${tag}-${i}`;
  const D = `appr-d-${tag}-${i}`;
  const race = (...sends: Promise<void>[]) => Promise.all(sends);
  switch (plan) {
    case 'dup-update':
      await race(send('approve', 'update', A, a), send('approve', 'update', A, a));
      await send('approve', 'update', B, b);
      break;
    case 'update+signal':
      await race(send('approve', 'update', A, a), send('approve', 'signal', A, a));
      await race(send('approve', 'signal', B, b), send('approve', 'update', B, b));
      break;
    case 'approve-vs-reject':
      await race(send('approve', 'update', A, a), send('reject', 'update', C, a), send('approve', 'signal', B, b));
      break;
    case 'surplus':
      await race(
        send('approve', 'update', A, a),
        send('approve', 'signal', B, b),
        send('approve', 'update', C, c),
        send('approve', 'update', D, 'owner'),
      );
      break;
    case 'self':
      await race(send('approve', 'update', requester, b), send('approve', 'signal', requester, a));
      await race(send('approve', 'update', A, a), send('approve', 'signal', B, b));
      break;
    case 'reject-twice':
      await race(send('reject', 'update', C, a), send('reject', 'signal', D, b), send('approve', 'update', A, a));
      break;
    case 'cancel-race':
      await race(
        send('approve', 'update', A, a),
        send('approve', 'update', B, b),
        send('cancel', 'update', requester, b),
      );
      break;
  }
  try {
    run.view = (await persistently(() => handle.result(), `result of ${id}`, 120_000)) as ChangeRequestView;
    run.ms = Date.now() - t0;
  } catch {
    run.failures.push(`${id} (${plan}): no result within 120 s (status ${(await statusOf(cluster, id)) ?? 'unknown'})`);
  }
  return run;
}

async function statusOf(cluster: Cluster, id: string): Promise<string | undefined> {
  const row = await cluster.db.selectFrom('change_request').select('status').where('id', '=', id).executeTakeFirst();
  return row?.status;
}

const sameSet = (x: readonly string[], y: readonly string[]) =>
  x.length === y.length && [...x].sort().join('\u0000') === [...y].sort().join('\u0000');

/** The verdicts on one change request, from what was sent and answered, its result and the database. */
async function judgeChangeRequest(cluster: Cluster, run: CrRun, audit: AuditRow[]): Promise<string[]> {
  const failures = [...run.failures];
  const view = run.view;
  if (!view) return failures;
  const at = `${run.id} (${run.plan})`;
  const fail = (what: string) => failures.push(`${at}: ${what}`);
  const row = await cluster.db.selectFrom('change_request').selectAll().where('id', '=', run.id).executeTakeFirst();
  const mine = audit.filter((e) => e.subject === `change-request:${run.id}`);
  const count = (kind: string) => mine.filter((e) => e.kind === kind).length;
  const K = AuditKind.changeRequest;

  if (!['applied', 'rejected', 'cancelled'].includes(view.status)) fail(`ended ${view.status}`);
  if (row?.status !== view.status) fail(`the table says ${row?.status}, the workflow ${view.status}`);
  const terminal = [K.applied, K.rejected, K.cancelled, K.expired, K.stale].map(count);
  if (terminal.reduce((s, n) => s + n, 0) !== 1)
    fail(`terminal audit events ${terminal.join('/')} (applied/rejected/cancelled/expired/stale)`);
  if (count(K.opened) !== 1) fail(`${count(K.opened)} opened events`);

  // No approval counted twice, none lost: the audit, the table and the result agree on who approved.
  const counted = mine.filter((e) => e.kind === K.approval_counted).map((e) => e.actor);
  if (new Set(counted).size !== counted.length) fail(`an approval counted twice: ${counted.join(', ')}`);
  const finalActors = view.approvals.map((a) => a.actor);
  if (!sameSet(counted, finalActors)) fail(`audited approvals ${counted.join(',')} ≠ final ${finalActors.join(',')}`);
  const stored = (row?.approvals ?? []).map((a) => a.actor);
  if (!sameSet(stored, finalActors)) fail(`stored approvals ${stored.join(',')} ≠ final ${finalActors.join(',')}`);
  if (finalActors.some((a) => a === run.requester)) fail('the requester approved their own request');
  for (const s of run.sends)
    if (s.decision === 'approve' && s.outcome === 'accepted' && !finalActors.includes(s.actor))
      fail(`${s.actor}'s acknowledged approval is not in the final state`);
  if (run.sends.some((s) => s.decision === 'reject' && s.outcome === 'accepted') && view.status !== 'rejected')
    fail(`a rejection was acknowledged but it ended ${view.status}`);
  if (run.sends.some((s) => s.decision === 'cancel' && s.outcome === 'accepted') && view.status !== 'cancelled')
    fail(`the cancel was acknowledged but it ended ${view.status}`);
  const rejecters = run.sends.filter((s) => s.decision === 'reject').map((s) => s.actor);
  if (view.status === 'rejected' && !rejecters.includes(view.decidedBy ?? ''))
    fail(`rejected by ${view.decidedBy}, who sent no rejection`);
  if (view.status === 'cancelled' && view.decidedBy !== run.requester) fail(`cancelled by ${view.decidedBy}`);

  // Applied only with the required distinct approvers; applied changes exactly once in the policy tables and audit.
  const policyEvents = audit.filter(
    (e) => e.details.changeRequestId === run.id && !e.subject.startsWith('change-request:'),
  );
  const applied = view.status === 'applied';
  if (applied) {
    const missing = missingApprovals(view.required as ApprovalSlot[], view.approvals);
    if (missing.length > 0 || view.required.length === 0) fail(`applied with ${missing.length} approval(s) missing`);
    if (new Set(finalActors).size !== finalActors.length) fail('applied with an approver counted twice');
    if (count(K.approved) !== 1) fail(`${count(K.approved)} approved events`);
  }
  const expected = applied ? POLICY_EVENTS[run.kind] : [];
  if (
    !sameSet(
      policyEvents.map((e) => e.kind),
      expected,
    )
  )
    fail(
      `policy audit events ${policyEvents.map((e) => e.kind).join(',') || 'none'}, expected ${expected.join(',') || 'none'}`,
    );
  const present =
    run.kind === 'approver'
      ? (
          await cluster.db
            .selectFrom('autonomy_approver')
            .select('approver')
            .where('role', '=', 'ops_lead')
            .where('approver', '=', run.target.slice('ops_lead:'.length))
            .execute()
        ).length
      : (await cluster.db.selectFrom('strategy').select(['id', 'level']).where('id', '=', run.target).execute()).filter(
          (s) => s.level === 'L1',
        ).length;
  if (present !== (applied ? 1 : 0)) fail(`${present} policy row(s) for ${run.target} after ${view.status}`);
  return failures;
}

// ---- Expansion proposals ----

type ProposalPlan = 'approve-vs-reject' | 'approve-all';
interface ProposalRun {
  id: string;
  plan: ProposalPlan;
  sends: Send[];
  ms?: number;
  /**
   * Its audit events lie in (from, to]: proposals run one at a time, and a proposal of the same phase
   * the same day reuses the id (Warden reopens the record), so the id alone does not tell them apart.
   */
  audit: { from: bigint; to: bigint };
  /** expansion_proposal's status once it ended (a later proposal under the same id overwrites the row). */
  stored?: string;
  /** The status once decided (validating, or rejected) and the final view. */
  decided?: ProposalView;
  view?: ProposalView;
  failures: string[];
}

const PROPOSER = 'rel-proposer';
const TECH = ['rel-tl-1', 'rel-tl-2'] as const;
const OPS = ['rel-ops-1', 'rel-ops-2'] as const;

async function setUpProposals(cluster: Cluster): Promise<void> {
  for (const [role, name] of [
    ['tech_lead', PROPOSER],
    ['tech_lead', TECH[0]],
    ['tech_lead', TECH[1]],
    ['ops_lead', OPS[0]],
    ['ops_lead', OPS[1]],
  ] as const)
    await addApprover(cluster.db, role, name, 'reliability-harness');
}

async function untilProposal(
  handle: WorkflowHandle,
  done: (v: ProposalView) => boolean,
  what: string,
): Promise<ProposalView> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const view = await persistently(() => handle.query(proposalStatusQuery), `status of ${what}`);
    if (done(view)) return view;
    if (Date.now() > deadline) throw new Error(`${what}: still ${view.status} after 60 s`);
    await sleep(100);
  }
}

/**
 * One proposal L3+ → L4 (tech_lead and ops_lead): racing approvals and a rejection; once approved
 * (validating), the harness plays the breaker (trips it, then puts the phase back) so the next can open.
 */
/** A breaker event that reverted proposal `id`'s phase, as the breaker evaluation records one; its id. */
async function recordRevert(cluster: Cluster, id: string): Promise<string> {
  const event = await insertBreakerEvent(
    cluster.db,
    {
      rule: 'reliability-harness',
      action: 'revert_to_l3',
      alertSeverity: 'critical',
      commandType: null,
      observed: 1,
      detail: 'ends validation',
    },
    new Date(),
  );
  await markRevertedProposal(cluster.db, event, id);
  return event;
}

async function lastAuditId(cluster: Cluster): Promise<bigint> {
  const row = await cluster.db
    .selectFrom('audit_event')
    .select((eb) => eb.fn.max('id').as('id'))
    .executeTakeFirst();
  return BigInt(row?.id ?? 0);
}

async function runProposal(cluster: Cluster, client: Client, i: number): Promise<ProposalRun> {
  const plan: ProposalPlan = i % 2 === 0 ? 'approve-vs-reject' : 'approve-all';
  const from = await persistently(() => lastAuditId(cluster), 'audit position');
  await cluster.db
    .updateTable('governance_state')
    .set({ current_phase: 'L3+', phase_since: new Date(), active_proposal_id: null })
    .execute();
  const terms = await proposeExpansion(cluster.db, {
    requestedBy: PROPOSER,
    role: 'tech_lead',
    reason: `reliability ${plan}`,
  });
  const id = terms.proposalId;
  const run: ProposalRun = { id, plan, sends: [], failures: [], audit: { from, to: from } };
  const t0 = Date.now();
  await persistently(
    () =>
      client.workflow
        .start(EXPANSION_PROPOSAL_WORKFLOW_TYPE, { taskQueue: TASK_QUEUE, workflowId: id, args: [{ proposalId: id }] })
        .catch((error: unknown) => {
          if ((error as Error).name !== 'WorkflowExecutionAlreadyStartedError') throw error;
        }),
    `start ${id}`,
  );
  const handle = client.workflow.getHandle(id);
  const send = async (decision: 'approve' | 'reject', via: Via, approver: string, role: ApproverRole) => {
    const payload = decision === 'approve' ? { role, approver, comment: plan } : { role, approver, reason: 'no' };
    if (via === 'signal') {
      const delivered = await signalOnce(handle, decision === 'approve' ? approveSignal : rejectSignal, payload);
      run.sends.push({
        decision,
        via,
        actor: approver,
        role,
        outcome: 'sent',
        ...(delivered ? {} : { problem: 'closed' }),
      });
      return;
    }
    const answer = await updateOnce<ProposalView>(
      handle,
      decision === 'approve' ? approveUpdate : rejectUpdate,
      payload,
    );
    run.sends.push(
      answer.ok
        ? { decision, via, actor: approver, role, outcome: 'accepted' }
        : { decision, via, actor: approver, role, outcome: 'refused', problem: answer.problem },
    );
  };
  // Sent while the workflow may still be reading Warden's record: early updates wait for it.
  if (plan === 'approve-vs-reject')
    await Promise.all([
      send('approve', 'update', TECH[0], 'tech_lead'),
      send('approve', 'signal', TECH[0], 'tech_lead'),
      send('reject', 'update', OPS[0], 'ops_lead'),
      send('approve', 'signal', OPS[1], 'ops_lead'),
      send('approve', 'update', PROPOSER, 'tech_lead'),
    ]);
  else
    await Promise.all([
      send('approve', 'update', TECH[0], 'tech_lead'),
      send('approve', 'update', TECH[0], 'tech_lead'),
      send('approve', 'signal', PROPOSER, 'tech_lead'),
      send('approve', 'signal', OPS[0], 'ops_lead'),
      send('approve', 'update', OPS[1], 'ops_lead'),
      send('approve', 'update', TECH[1], 'tech_lead'),
    ]);
  try {
    run.decided = await untilProposal(handle, (v) => v.status !== 'pending', id);
    if (run.decided.status === 'validating') {
      // A trip counts only with Warden's breaker event behind it: the harness records one, as a breaker would.
      const eventId = await persistently(() => recordRevert(cluster, id), `breaker event for ${id}`);
      await persistently(
        () => handle.signal(breakerTrippedSignal, { rule: 'reliability-harness', detail: 'ends validation', eventId }),
        `trip ${id}`,
      );
    }
    run.view = (await persistently(() => handle.result(), `result of ${id}`, 120_000)) as ProposalView;
    run.ms = Date.now() - t0;
  } catch (error) {
    run.failures.push(`${id} (${plan}): ${(error as Error).message}`);
  }
  run.audit.to = await persistently(() => lastAuditId(cluster), 'audit position');
  const row = await cluster.db
    .selectFrom('expansion_proposal')
    .select('status')
    .where('id', '=', id)
    .executeTakeFirst();
  run.stored = row?.status;
  return run;
}

function judgeProposal(run: ProposalRun, allAudit: AuditRow[]): string[] {
  const failures = [...run.failures];
  const view = run.view;
  if (!view || !run.decided) return failures;
  const fail = (what: string) => failures.push(`${run.id} #${view.createdAt} (${run.plan}): ${what}`);
  const audit = allAudit.filter((e) => BigInt(e.id) > run.audit.from && BigInt(e.id) <= run.audit.to);
  const stored = run.stored;
  const mine = audit.filter((e) => e.subject === `proposal:${run.id}`);
  const count = (kind: string) => mine.filter((e) => e.kind === kind).length;
  const P = AuditKind.proposal;
  const phaseApplied = audit.filter(
    (e) => e.kind === AuditKind.autonomy.phaseApplied && e.details.proposalId === run.id,
  ).length;

  if (!['rejected', 'reverted'].includes(view.status)) fail(`ended ${view.status}`);
  if (stored !== view.status) fail(`the table says ${stored}, the workflow ${view.status}`);
  const approvers = view.approvals.map((a) => a.approver);
  if (new Set(approvers).size !== approvers.length) fail(`an approver counted twice: ${approvers.join(',')}`);
  if (new Set(view.approvals.map((a) => a.role)).size !== view.approvals.length) fail('a role filled twice');
  if (approvers.includes(PROPOSER)) fail('the proposer approved their own proposal');
  if (count(P.approved) !== approvers.length)
    fail(`${count(P.approved)} approval events for ${approvers.length} approvals`);
  for (const s of run.sends)
    if (s.decision === 'approve' && s.outcome === 'accepted' && !approvers.includes(s.actor))
      fail(`${s.actor}'s acknowledged approval is not in the final state`);
  const rejectAccepted = run.sends.some((s) => s.decision === 'reject' && s.outcome === 'accepted');
  if (rejectAccepted && view.status !== 'rejected') fail(`a rejection was acknowledged but it ended ${view.status}`);
  const wasApplied = run.decided.status === 'validating';
  if (wasApplied) {
    if (view.missingRoles.length > 0) fail(`applied with ${view.missingRoles.join(',')} missing`);
    if (view.status !== 'reverted') fail(`validating, then ${view.status}`);
  } else if (view.status === 'rejected' && view.rejection?.approver !== OPS[0]) {
    fail(`rejected by ${view.rejection?.approver}, who sent no rejection`);
  }
  if (phaseApplied !== (wasApplied ? 1 : 0)) fail(`phase applied ${phaseApplied} time(s) after ${run.decided.status}`);
  if (count(P.applied) !== (wasApplied ? 1 : 0)) fail(`${count(P.applied)} applied events`);
  const terminal = [P.rejected, P.reverted, P.validated, P.expired, P.stale].map(count);
  if (terminal.reduce((s, n) => s + n, 0) !== 1) fail(`terminal audit events ${terminal.join('/')}`);
  return failures;
}

// ---- The scenario ----

async function pool<T>(count: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

export async function runApprovals(cluster: Cluster, options: ApprovalsOptions): Promise<ScenarioResult> {
  const started = Date.now();
  const tag = randomBytes(3).toString('hex');
  const proposals = Math.max(1, Math.round(options.requests / 10));
  const changeRequests = Math.max(0, options.requests - proposals);
  await setUpProposals(cluster);

  // The restart comes once a third of the requests have ended: some are mid-decision, the rest start during it.
  let ended = 0;
  let restartMs: number | undefined;
  let restart: Promise<void> | undefined;
  const end = <T>(result: T): T => {
    ended += 1;
    if (options.restartWorker && restart === undefined && ended >= Math.ceil(options.requests / 3)) {
      restart = (async () => {
        const t0 = Date.now();
        await cluster.workers[0]!.kill();
        await sleep(500);
        await cluster.workers[0]!.start();
        restartMs = Date.now() - t0;
      })();
    }
    return result;
  };
  const [crRuns, proposalRuns] = await Promise.all([
    pool(changeRequests, options.concurrency ?? 10, (i) => runChangeRequest(cluster, i, tag).then(end)),
    // One expansion proposal may be open at a time: they run one after another.
    pool(proposals, 1, (i) => runProposal(cluster, cluster.client, i).then(end)),
  ]);
  await restart;
  const elapsed = Date.now() - started;

  const audit = (await cluster.db
    .selectFrom('audit_event')
    .select(['id', 'kind', 'actor', 'subject', 'details'])
    .where((eb) =>
      eb.or([
        eb('subject', 'like', 'change-request:%'),
        eb('subject', 'like', 'proposal:%'),
        eb(sql`details->>'changeRequestId'`, 'is not', null),
        eb('kind', '=', AuditKind.autonomy.phaseApplied),
      ]),
    )
    .orderBy('id')
    .execute()) as AuditRow[];
  const failures: string[] = [];
  for (const run of crRuns) failures.push(...(await judgeChangeRequest(cluster, run, audit)));
  for (const run of proposalRuns) failures.push(...judgeProposal(run, audit));
  const chain = await verifyAuditChain(cluster.db);
  if (!chain.ok) failures.push(`audit chain broken at ${chain.brokenAt.kind} #${chain.brokenAt.id}: ${chain.problem}`);
  if (options.restartWorker && restartMs === undefined) failures.push('the worker was not restarted');

  const sends = [...crRuns, ...proposalRuns].flatMap((r) => r.sends);
  const figures: Record<string, number | string> = {
    requests: options.requests,
    change_requests: changeRequests,
    proposals,
    approvals_sent: sends.filter((s) => s.decision === 'approve').length,
    rejects_sent: sends.filter((s) => s.decision === 'reject').length,
    cancels_sent: sends.filter((s) => s.decision === 'cancel').length,
    by_update: sends.filter((s) => s.via === 'update').length,
    by_signal: sends.filter((s) => s.via === 'signal').length,
    updates_accepted: sends.filter((s) => s.outcome === 'accepted').length,
    approvals_counted:
      audit.filter((e) => e.kind === AuditKind.changeRequest.approval_counted).length +
      proposalRuns.reduce((n, r) => n + (r.view?.approvals.length ?? 0), 0),
  };
  const bump = (key: string) => void (figures[key] = ((figures[key] as number | undefined) ?? 0) + 1);
  for (const s of sends) if (s.outcome === 'refused') bump(`refused_update_${reasonOf(s.problem ?? '')}`);
  const runIds = new Set([
    ...crRuns.map((r) => `change-request:${r.id}`),
    ...proposalRuns.map((r) => `proposal:${r.id}`),
  ]);
  for (const e of audit)
    if (
      runIds.has(e.subject) &&
      (e.kind === AuditKind.changeRequest.message_rejected || e.kind === AuditKind.autonomy.messageRejected)
    )
      bump(`refused_audited_${reasonOf(String(e.details.problem ?? ''))}`);
  for (const r of crRuns) bump(`cr_${r.view?.status ?? 'no_result'}`);
  for (const r of proposalRuns)
    bump(`proposal_${r.decided?.status === 'validating' ? 'applied_then_' : ''}${r.view?.status ?? 'no_result'}`);
  const crMs = crRuns.flatMap((r) => (r.ms === undefined ? [] : [r.ms])).sort((x, y) => x - y);
  figures.cr_ms_p50 = crMs[Math.floor(crMs.length / 2)] ?? 'none';
  figures.cr_ms_max = crMs.at(-1) ?? 'none';
  figures.proposal_ms_max = Math.max(0, ...proposalRuns.map((r) => r.ms ?? 0));
  figures.worker_restart_ms = restartMs ?? 'none';
  figures.audit_events = chain.events;
  figures.duration_ms = elapsed;
  return { name: 'approvals', passed: failures.length === 0, figures, failures };
}
