import { condition, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ChangeRequestView, PolicyChangeStart } from '../src/domain/change-requests/request';
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
export async function policyChange(start: PolicyChangeStart): Promise<ChangeRequestView> {
  const info = workflowInfo();
  const desk = new ChangeRequestDesk(openingView(start, info.workflowId, info.startTime), calls);
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
  if (desk.view.status === 'pending') await awaitApprovals(desk);
  if (desk.view.status === 'approved') await applyWhenDue(desk);
  return desk.close();
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

/** Until every slot is filled, a rejection, a cancel, or the expiry (then saved as expired). */
async function awaitApprovals(desk: ChangeRequestDesk): Promise<void> {
  desk.settledOpen = true;
  const pending = () => desk.view.status === 'pending';
  await awaitDecision({
    deadline: Date.parse(desk.view.expiresAt!),
    decided: () => !pending(),
    wake: () => !pending() || desk.unjudged,
    drain: () => desk.settle(),
    drainFirst: true,
    drainOnTimeout: true,
  });
  if (!pending()) return;
  desk.view.status = 'expired';
  desk.view.decidedAt = new Date().toISOString();
  desk.view.decidedBy = WARDEN_ACTOR;
  desk.view.detail = `expired at ${desk.view.expiresAt} with ${desk.view.missing.length} approval(s) missing`;
  await desk.save([{ actor: WARDEN_ACTOR, event: 'expired', details: { missing: desk.view.missing } }]);
}

/** Not before its apply time (a rejection or cancel may still stop it), then one transaction. */
async function applyWhenDue(desk: ChangeRequestDesk): Promise<void> {
  const applyAt = desk.view.applyAt === null ? 0 : Date.parse(desk.view.applyAt);
  if (applyAt > new Date().getTime()) {
    desk.settledOpen = true;
    await awaitDecision({
      deadline: applyAt,
      decided: () => desk.view.status !== 'approved',
      wake: () => desk.view.status !== 'approved' || desk.unjudged,
      drain: () => desk.settle(),
      drainOnTimeout: true,
    });
    if (desk.view.status !== 'approved') return;
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
