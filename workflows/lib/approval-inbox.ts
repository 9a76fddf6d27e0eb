// The approval inbox of every workflow that waits for a human: a payload is
// parsed and held to the allowlist, its approver (and token) checked by the
// worker's `verifyApproval`, a refusal audited, and the wait bounded by a
// deadline. Each workflow composes these steps in the order its recorded
// histories hold; the pieces issue no command beyond the activities and
// timers the callers had, so workflows moved onto them still replay.
import { condition, patched, uuid4, workflowInfo } from '@temporalio/workflow';
import type { z } from 'zod';
import type { ApprovalActivities, ApprovalVerdict } from '../../src/domain/identity/activities';
import type { AutonomyActivities } from '../../src/domain/autonomy/activities';
import type { ApproverRole } from '../../src/domain/autonomy/phases';
import { onAllowlist } from '../../src/domain/autonomy/allowlist';
import { type ApprovalAction, approvalAudience } from '../../src/domain/identity/audience';
import { redactToken } from '../../src/domain/identity/redact';
import type { Excluded } from '../../src/domain/identity/separation';
import { AUTONOMY_APPROVER_ROLE } from '../../src/domain/identity/roles';
import { describeIssues, storablePayload } from '../../src/domain/shared/validation';

/** What every approval payload names: who, in which seed-002 role, and (with signed approvals) a token. */
export interface ApproverClaim {
  approver: string;
  role: ApproverRole;
  token?: string | undefined;
}

export type Screened<T> = { ok: true; approval: T } | { ok: false; problem: string };

/**
 * The workflow's own checks, in this order: the payload parses, the workflow
 * still takes a decision (`closed` names why not), the approver is on the
 * allowlist for the role. The first failure is the problem reported.
 */
export function screenApproval<T extends ApproverClaim>(
  schema: z.ZodType<T>,
  payload: unknown,
  approvers: Readonly<Record<string, readonly string[]>>,
  closed: () => string | null = () => null,
): Screened<T> {
  const parsed = schema.safeParse(payload);
  if (!parsed.success) return { ok: false, problem: describeIssues(parsed.error) };
  const problem = closed();
  if (problem !== null) return { ok: false, problem };
  const listed = onAllowlist(approvers, parsed.data.role, parsed.data.approver);
  if (!listed.ok) return { ok: false, problem: listed.reason };
  return { ok: true, approval: parsed.data };
}

/** A payload as it arrived by signal, judged later by the main loop in arrival order. */
export interface Received<K extends string> {
  kind: K;
  message: string;
  payload: unknown;
}

export interface Refusal {
  message: string;
  payload: unknown;
  problem: string;
}

export interface ApprovalInboxOptions {
  verifyApproval: ApprovalActivities['verifyApproval'];
  /** Where refusals are audited; without it a workflow keeps them on its own view. */
  audit?: {
    subject: string;
    auditRejectedMessage: AutonomyActivities['auditRejectedMessage'];
    /** Audits a backlog in batches (since batched-refusal-audits): one activity per batch, not per refusal. */
    auditRejectedMessages?: AutonomyActivities['auditRejectedMessages'];
  };
}

/** Refusals per audit batch, and the most their bounded payloads may weigh together (an activity input stays small). */
const AUDIT_BATCH = 50;
const AUDIT_BATCH_CHARS = 200_000;

export class ApprovalInbox<K extends string = string> {
  private readonly received: Received<K>[] = [];
  private readonly refusals: Refusal[] = [];
  private count = 0;

  constructor(private readonly options: ApprovalInboxOptions) {}

  /** A signal handler that queues what comes and never throws: a throwing signal handler would fail the workflow. */
  receiver(kind: K, message: string): (payload: unknown) => void {
    return (payload: unknown) => {
      this.count += 1;
      this.received.push({ kind, message, payload });
    };
  }

  /** Payloads received by this run, taken or not: each one grew its history. */
  get receivedInRun(): number {
    return this.count;
  }

  /** Payloads received and not yet taken. */
  get waiting(): number {
    return this.received.length;
  }

  /** The oldest payload received, if any. */
  next(): Received<K> | undefined {
    return this.received.shift();
  }

  /** Every payload received so far, oldest first. */
  takeAll(): Received<K>[] {
    return this.received.splice(0);
  }

  /**
   * The worker's check of an approver (and token, if any) for `action` on this workflow: a token counts
   * only if issued for `<workflowId>:<action>`, and is spent so it approves once. Whoever is `excluded`
   * (the requester) is refused there, before the token is spent.
   */
  verify(claim: ApproverClaim, action: ApprovalAction, excluded: readonly Excluded[] = []): Promise<ApprovalVerdict> {
    const { approver, role, token } = claim;
    return this.options.verifyApproval({
      actor: approver,
      role: AUTONOMY_APPROVER_ROLE[role],
      usedFor: approvalAudience(workflowInfo().workflowId, action),
      ...(token !== undefined ? { token } : {}),
      ...(excluded.length > 0 ? { excluded: [...excluded] } : {}),
    });
  }

  /** Queues a refusal for the audit, recorded without its token (a bearer credential), parsed or not. */
  refuse(message: string, payload: unknown, problem: string): void {
    this.refusals.push({ message, payload: redactToken(payload), problem });
  }

  /** Takes up to `most` refusals not yet audited, oldest first, out of the queue (to hand them to a new run). */
  takeRefusals(most: number): Refusal[] {
    return this.refusals.splice(0, Math.max(0, most));
  }

  /** Refusals queued and not yet audited. */
  get refusing(): number {
    return this.refusals.length;
  }

  /** Audits the queued refusals one by one, oldest first, until `stop` holds; `counted` runs as each one starts. */
  async auditRefusals(counted: () => void = () => undefined, stop?: () => boolean): Promise<void> {
    const audit = this.options.audit;
    if (audit === undefined) throw new Error('this approval inbox has nowhere to audit its refusals');
    // A flood of refusals is audited at one activity per batch: one per refusal kept a backlog of thousands
    // (and the decision behind it) waiting minutes.
    const batched = audit.auditRejectedMessages !== undefined && patched('batched-refusal-audits');
    while (batched && this.refusals.length > 0 && !stop?.()) {
      const batch: { message: string; payload: unknown; problem: string; key: string }[] = [];
      let chars = 0;
      while (this.refusals.length > 0 && batch.length < AUDIT_BATCH && chars < AUDIT_BATCH_CHARS) {
        const r = this.refusals.shift()!;
        const payload = storablePayload(r.payload ?? null);
        chars += (JSON.stringify(payload) ?? '').length + r.problem.length;
        counted();
        batch.push({ message: r.message, payload, problem: r.problem, key: uuid4() });
      }
      await audit.auditRejectedMessages!({ subject: audit.subject, refusals: batch });
    }
    while (this.refusals.length > 0 && !stop?.()) {
      const r = this.refusals.shift()!;
      counted();
      await audit.auditRejectedMessage({
        subject: audit.subject,
        message: r.message,
        payload: r.payload,
        problem: r.problem,
        key: uuid4(),
      });
    }
  }
}

export interface DecisionWait {
  /** Workflow time (epoch ms) after which no decision counts. */
  deadline: number;
  decided: () => boolean;
  /** What ends a wait early: something to judge arrived (a condition with a timeout, hence a timer). */
  wake: () => boolean;
  /** Judges what arrived: screen, verify, audit, as the workflow does it. */
  drain: () => Promise<void>;
  /** Judge what is already there before the first wait. */
  drainFirst?: boolean;
  /** Judge once more when the deadline passes, before giving up. */
  drainOnTimeout?: boolean;
}

/**
 * Waits for a decision until the deadline: each wake-up drains the inbox.
 * Answers whether a decision was reached. Each wait is one timer, so the two
 * flags keep each caller's recorded order of timers and activities.
 */
export async function awaitDecision(wait: DecisionWait): Promise<boolean> {
  if (wait.drainFirst) await wait.drain();
  for (;;) {
    if (wait.decided()) return true;
    const left = wait.deadline - new Date().getTime();
    if (left <= 0) return false;
    const woken = await condition(wait.wake, left);
    if (!woken && !wait.drainOnTimeout) return false;
    await wait.drain();
  }
}
