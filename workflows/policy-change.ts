import {
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { type ChangeRequestView, MAX_MESSAGES, type PolicyChangeStart } from '../src/domain/change-requests/request';
import { ErrorType } from '../src/domain/shared/errors';
import { awaitDecision } from './lib/approval-inbox';
import { type ChangeRequestCalls, ChangeRequestDesk, WARDEN_ACTOR } from './lib/change-request-desk';
import {
  approveChangeSignal,
  approveChangeUpdate,
  cancelChangeUpdate,
  changeRequestOpenedUpdate,
  changeRequestStatusQuery,
  editChangeUpdate,
  rejectChangeSignal,
  rejectChangeUpdate,
} from './messages';
import { continuedByItself } from './lib/continued';

/** Past its message budget a run hands the request to a new one (continue-as-new) instead of ignoring the rest. */
export const POLICY_CHANGE_ROLLS_OVER = 'policy-change-continue-as-new';

/** What one run hands the next: the request as it stands, every message judged and saved. */
export interface CarriedChangeRequest {
  view: ChangeRequestView;
}

/** The start, plus what a run continued as new carries and (optionally lower) its per-run message budget. */
export type PolicyChangeRun = PolicyChangeStart & { carried?: CarriedChangeRequest; messagesPerRun?: number };

const calls = proxyActivities<ChangeRequestCalls>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumInterval: '1 minute', nonRetryableErrorTypes: [ErrorType.InvalidInput] },
});

/**
 * One change request to governed state (invariant 8). Warden reads what each
 * change would replace and classifies it: a request that only tightens applies
 * at once; one that loosens anything waits until people other than its
 * requester, in the required roles, approve it (an edit revokes approvals),
 * then applies at its apply time in one transaction — or ends rejected,
 * cancelled, expired, or stale when the state moved on meanwhile.
 */
export async function policyChange(run: PolicyChangeRun): Promise<ChangeRequestView> {
  const { carried, messagesPerRun, start } = splitRun(run);
  // What a run carries counts only in a run continued as new by itself (not a cron run or a retry): a raw start
  // naming `carried` (an approved view) is opened as the new request it is.
  if (carried !== undefined && continuedByItself()) {
    // Recorded (and opened) by the first run: only the decisions are left.
    const desk = new ChangeRequestDesk(carried.view, calls);
    Object.assign(desk, { rollsOver: true, messagesPerRun, settledOpen: true });
    wireHandlers(desk);
    return decide(desk, start);
  }
  const info = workflowInfo();
  const desk = new ChangeRequestDesk(openingView(start, info.workflowId, info.startTime), calls);
  Object.assign(desk, { rollsOver: patched(POLICY_CHANGE_ROLLS_OVER), messagesPerRun });
  wireHandlers(desk);

  const opened = await calls.openChangeRequest({
    workflowId: info.workflowId,
    runId: info.runId,
    start,
    at: info.startTime.toISOString(),
    startedByWorkflow: info.parent !== undefined,
  });
  if (!opened.ok) {
    desk.view.status = 'refused';
    desk.view.detail = opened.problem;
    return desk.close();
  }
  desk.view = { ...opened.request, rejectedMessages: desk.view.rejectedMessages };
  desk.show();
  return decide(desk, start);
}

/** Approvals, then the apply time; either wait may hand the request over to a new run. */
async function decide(desk: ChangeRequestDesk, start: PolicyChangeStart): Promise<ChangeRequestView> {
  if (desk.view.status === 'pending' && (await awaitApprovals(desk)) === 'roll') return rollOver(desk, start);
  if (desk.view.status === 'approved' && (await applyWhenDue(desk)) === 'roll') return rollOver(desk, start);
  return desk.close();
}

/**
 * Hands the request to a new run once every handler has answered and every message is judged:
 * nothing in flight is lost, and the next run starts from the view alone.
 */
async function rollOver(desk: ChangeRequestDesk, start: PolicyChangeStart): Promise<never> {
  for (;;) {
    await desk.settle();
    await condition(() => desk.unjudged || allHandlersFinished());
    if (!desk.unjudged && allHandlersFinished()) break;
  }
  // The requester's token was spent opening the request: it is not handed on.
  const { token: _spent, ...kept } = start;
  return continueAsNew<typeof policyChange>({
    ...kept,
    carried: { view: desk.view },
    ...(desk.messagesPerRun !== MAX_MESSAGES ? { messagesPerRun: desk.messagesPerRun } : {}),
  });
}

/** The start as the activity reads it, apart from what only the workflow reads (a budget outside 10..MAX_MESSAGES is ignored). */
function splitRun(run: PolicyChangeRun): {
  carried?: CarriedChangeRequest;
  messagesPerRun: number;
  start: PolicyChangeStart;
} {
  if (typeof run !== 'object' || run === null || !('carried' in run || 'messagesPerRun' in run))
    return { messagesPerRun: MAX_MESSAGES, start: run };
  const { carried, messagesPerRun, ...start } = run;
  const perRun =
    Number.isInteger(messagesPerRun) && messagesPerRun! >= 10 && messagesPerRun! <= MAX_MESSAGES
      ? messagesPerRun!
      : MAX_MESSAGES;
  return { ...(carried !== undefined ? { carried } : {}), messagesPerRun: perRun, start };
}

function wireHandlers(desk: ChangeRequestDesk): void {
  setHandler(changeRequestStatusQuery, () => desk.view, {
    description: 'The request: its changes (before → after, direction), approvals and what is still missing.',
  });
  setHandler(
    changeRequestOpenedUpdate,
    async () => {
      await condition(() => desk.settledOpen);
      return desk.view;
    },
    { description: 'Answers once the request is recorded (and applied, when nothing in it loosens).' },
  );
  setHandler(approveChangeUpdate, desk.byUpdate('approve'), {
    validator: desk.validate('approve'),
    description: 'Approve: {"actor": "alice", "role": "risk_officer", "comment": "…", "token": "…"}.',
  });
  setHandler(rejectChangeUpdate, desk.byUpdate('reject'), {
    validator: desk.validate('reject'),
    description: 'Reject: {"actor": "alice", "role": "risk_officer", "reason": "…", "token": "…"}.',
  });
  setHandler(editChangeUpdate, desk.byUpdate('edit'), {
    validator: desk.validate('edit'),
    description: 'The requester replaces the changes: {"actor", "changes": [...], "reason"?}; approvals are revoked.',
  });
  setHandler(cancelChangeUpdate, desk.byUpdate('cancel'), {
    validator: desk.validate('cancel'),
    description: 'The requester withdraws the request: {"actor", "reason"}.',
  });
  setHandler(approveChangeSignal, desk.bySignal('approve'), {
    description:
      'Approve (Temporal CLI/UI): {"actor": "alice", "role": "risk_officer", "comment": "…", "token": "… (with signed approvals)"}',
  });
  setHandler(rejectChangeSignal, desk.bySignal('reject'), {
    description:
      'Reject (Temporal CLI/UI): {"actor": "alice", "role": "risk_officer", "reason": "…", "token": "… (with signed approvals)"}',
  });
}

/**
 * Until every slot is filled, a rejection, a cancel, or the expiry (then saved as expired); or `roll`
 * once the run's budget is spent with time left.
 */
async function awaitApprovals(desk: ChangeRequestDesk): Promise<'roll' | undefined> {
  desk.settledOpen = true;
  const pending = () => desk.view.status === 'pending';
  const deadline = Date.parse(desk.view.expiresAt!);
  await awaitDecision({
    deadline,
    decided: () => !pending() || desk.full,
    wake: () => !pending() || desk.unjudged || desk.full,
    drain: () => desk.settle(),
    drainFirst: true,
    drainOnTimeout: true,
  });
  if (pending() && desk.full && new Date().getTime() < deadline) return 'roll';
  if (!pending()) return undefined;
  desk.view.status = 'expired';
  desk.view.decidedAt = new Date().toISOString();
  desk.view.decidedBy = WARDEN_ACTOR;
  desk.view.detail = `expired at ${desk.view.expiresAt} with ${desk.view.missing.length} approval(s) missing`;
  await desk.save([{ actor: WARDEN_ACTOR, event: 'expired', details: { missing: desk.view.missing } }]);
  return undefined;
}

/** Not before its apply time (a rejection or cancel may still stop it), then one transaction; or `roll`. */
async function applyWhenDue(desk: ChangeRequestDesk): Promise<'roll' | undefined> {
  const applyAt = desk.view.applyAt === null ? 0 : Date.parse(desk.view.applyAt);
  if (applyAt > new Date().getTime()) {
    desk.settledOpen = true;
    await awaitDecision({
      deadline: applyAt,
      decided: () => desk.view.status !== 'approved' || desk.full,
      wake: () => desk.view.status !== 'approved' || desk.unjudged || desk.full,
      drain: () => desk.settle(),
      drainOnTimeout: true,
    });
    if (desk.view.status === 'approved' && desk.full && new Date().getTime() < applyAt) return 'roll';
    if (desk.view.status !== 'approved') return undefined;
  }
  const applied = await calls.applyChangeRequest({ id: desk.view.id, key: desk.key('apply') });
  const v = desk.view;
  if (applied.outcome === 'applied') {
    v.status = 'applied';
    v.appliedAt = applied.appliedAt;
  } else if (applied.outcome === 'stale') {
    v.status = 'stale';
    v.detail = applied.detail;
  } else v.status = applied.status;
  return undefined;
}

/** What the query shows while the request is being read and recorded. */
function openingView(start: PolicyChangeStart, workflowId: string, at: Date): ChangeRequestView {
  const s = (start ?? {}) as Partial<PolicyChangeStart>;
  return {
    id: typeof s.id === 'string' ? s.id : workflowId,
    workflowId,
    status: 'opening',
    requestedBy: {
      name: typeof s.requestedBy?.name === 'string' ? s.requestedBy.name : 'unknown',
      roles: Array.isArray(s.requestedBy?.roles) ? s.requestedBy.roles : [],
    },
    reason: typeof s.reason === 'string' ? s.reason : '',
    changes: [],
    required: [],
    approvals: [],
    missing: [],
    revision: 1,
    applyAt: null,
    expiresAt: null,
    createdAt: at.toISOString(),
    decidedAt: null,
    decidedBy: null,
    appliedAt: null,
    detail: null,
    rejectedMessages: 0,
  };
}
