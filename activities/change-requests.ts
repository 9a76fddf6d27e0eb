import { ApplicationFailure } from '@temporalio/common';
import type { Kysely } from 'kysely';
import { recordAuditEvent, recordRefusedMessage } from '../src/db/audit.repository';
import {
  auditChangeRequest,
  type ChangeRequestRecord,
  changeRequestView,
  lockChangeRequest,
  readChangeRequest,
  recordChangeRequest,
  saveChangeRequestState,
} from '../src/db/change-requests.repository';
import type { Database } from '../src/db/database';
import { findClaim } from '../src/db/deal-claims.repository';
import { PolicyChangeRefusedError, readStoredValue, StaleChangeError } from '../src/db/policy-state.repository';
import type { Db } from '../src/db/transaction';
import type { GovernanceSettings } from '../src/config/index';
import { AuditKind } from '../src/domain/audit/kinds';
import type { ChangeRequestActivities } from '../src/domain/change-requests/activities';
import { type ApprovalSlot, describeSlots, requiredApprovals } from '../src/domain/change-requests/approvals';
import { isControlPlaneBound } from '../src/domain/change-requests/changes';
import { applyControlPlaneChanges } from '../src/domain/change-requests/control-plane-calls';
import { type ClassifiedChange, loosens } from '../src/domain/change-requests/classify';
import { policyChangeOf, prepareChanges } from '../src/domain/change-requests/prepare';
import {
  isFinal,
  PolicyChangeStartSchema,
  type ProposedChange,
  requestWindow,
} from '../src/domain/change-requests/request';
import { changeRequestWorkflowId } from '../src/domain/change-requests/id';
import type { ControlPlanePort } from '../src/domain/control-plane/port';
import type { DealReleasePort } from '../src/domain/deals/port';
import { approvalAudience } from '../src/domain/identity/audience';
import { redactToken } from '../src/domain/identity/redact';
import type { Role } from '../src/domain/identity/roles';
import { sameIdentity } from '../src/domain/identity/separation';
import { ErrorType } from '../src/domain/shared/errors';
import { describeIssues, storablePayload, storableText } from '../src/domain/shared/validation';
import { dealWorkflowId } from '../workflows/names';
import { applyInOneTransaction, markStale, proveRequester } from './gates/change-requests';

export interface ChangeRequestDeps {
  db: Kysely<Database>;
  /** Where an applied request's go-live, apply-mode and restriction changes go: the control plane, their one writer. */
  controlPlane: ControlPlanePort;
  settings: Pick<GovernanceSettings, 'environment' | 'approvals' | 'changeApprovals'>;
  /** Where an applied request's deal releases go: each deal's workflow, its reservation's one writer. */
  dealReleases?: DealReleasePort;
}

/** Names Warden's own workflows request under; they hold no roles and need no token, but only a Warden workflow may use one. */
const SYSTEM_REQUESTER = /^warden:/;

/** The change requests' activities: each reads, decides with src/domain/change-requests, and writes with its audit in one transaction. */
export function createChangeRequestActivities({
  db,
  controlPlane,
  settings,
  dealReleases,
}: ChangeRequestDeps): ChangeRequestActivities {
  /** Reads what each change would replace and prepares the request's changes and approvals from it. */
  async function prepare(
    reader: Db,
    proposed: readonly ProposedChange[],
    requester: { name: string; roles: readonly Role[] },
  ): Promise<{ ok: true; changes: ClassifiedChange[]; required: ApprovalSlot[] } | { ok: false; problem: string }> {
    const stored: unknown[] = [];
    for (const p of proposed) stored.push(await readStoredValue(reader, p.kind, p.target));
    const prepared = prepareChanges(proposed, stored, {
      requesterName: requester.name,
      requesterRoles: requester.roles,
    });
    // A Warden workflow proposes and never applies by itself: even its tightening changes wait for people.
    const everyChange = SYSTEM_REQUESTER.test(requester.name);
    return prepared.ok
      ? { ...prepared, required: requiredApprovals(prepared.changes, settings.changeApprovals, { everyChange }) }
      : prepared;
  }

  /** A request that loosens needs its requester proven when approvals are signed. */
  const unproven = (workflowId: string, name: string) =>
    `token: a request that loosens needs ${name}'s signed token for ${approvalAudience(workflowId, 'request')} (signed approvals are on)`;

  /** After the commit, like the control plane's: each released deal's workflow frees its reservation itself. */
  async function sendDealReleases(request: ChangeRequestRecord) {
    for (const change of request.changes) {
      if (change.kind !== 'deal_release') continue;
      if (!dealReleases)
        throw ApplicationFailure.nonRetryable(
          `deal_release ${change.target}: no deal release port is wired`,
          ErrorType.InvalidInput,
        );
      const claim = await findClaim(db, change.target);
      await dealReleases.releaseDeal(claim?.workflowId ?? dealWorkflowId(change.target), change.target, {
        actor: request.requestedBy.name,
        reason: request.reason,
        changeRequestId: request.id,
      });
    }
  }

  return {
    async openChangeRequest({ workflowId, runId, start, at, startedByWorkflow }) {
      const refuse = async (problem: string, actor: unknown) => {
        await recordAuditEvent(db, {
          actor: typeof actor === 'string' ? storableText(actor, 200) : 'unknown',
          kind: AuditKind.changeRequest.refused,
          subject: `change-request:${workflowId}`,
          details: {
            workflowId,
            problem: storableText(problem, 2000),
            input: storablePayload(redactToken(start ?? null)),
          },
          idempotencyKey: `${runId}:refused`,
        });
        return { ok: false as const, problem };
      };
      const parsed = PolicyChangeStartSchema.safeParse(start);
      const claimedActor = (start as { requestedBy?: { name?: unknown } } | null)?.requestedBy?.name;
      if (!parsed.success) return refuse(`invalid policyChange input: ${describeIssues(parsed.error)}`, claimedActor);
      const s = parsed.data;
      const requester = { name: s.requestedBy.name, roles: s.requestedBy.roles };
      if (workflowId !== changeRequestWorkflowId(s.id))
        return refuse(
          `id: request ${s.id} runs as ${changeRequestWorkflowId(s.id)}, not ${workflowId}`,
          requester.name,
        );
      const system = SYSTEM_REQUESTER.test(requester.name);
      if (system && !startedByWorkflow)
        return refuse(
          `requestedBy.name: ${requester.name} is a Warden workflow's name; only Warden's own workflows request as one`,
          requester.name,
        );
      const window = requestWindow(new Date(at), s);
      if (!window.ok) return refuse(window.problem, requester.name);
      const use = { audience: approvalAudience(workflowId, 'request'), requestKey: `${workflowId}/${runId}/open` };
      const proof = await proveRequester(db, settings, requester, s.token, use, system);
      if (!proof.ok) return refuse(proof.problem, requester.name);

      const existing = await readChangeRequest(db, s.id);
      if (existing)
        return existing.runId === runId
          ? { ok: true, request: changeRequestView(existing) }
          : refuse(`id: change request ${s.id} already exists`, requester.name);
      const prepared = await prepare(db, s.changes, { name: requester.name, roles: proof.roles });
      if (!prepared.ok) return refuse(prepared.problem, requester.name);
      if (loosens(prepared.changes) && settings.approvals.signed && !proof.proven)
        return refuse(unproven(workflowId, requester.name), requester.name);
      const spendProblem = await proof.spend();
      if (spendProblem !== null) return refuse(spendProblem, requester.name);

      const { required } = prepared;
      const recorded = await db.transaction().execute(async (trx) => {
        const result = await recordChangeRequest(trx, {
          id: s.id,
          runId,
          requestedBy: { name: requester.name, roles: proof.roles },
          reason: s.reason,
          changes: prepared.changes,
          required,
          status: required.length === 0 ? 'approved' : 'pending',
          applyAt: window.applyAt,
          expiresAt: window.expiresAt,
          createdAt: new Date(at),
        });
        if (result.recorded)
          await auditChangeRequest(trx, s.id, {
            actor: requester.name,
            event: 'opened',
            details: {
              changes: prepared.changes,
              required,
              needs: describeSlots(required),
              reason: s.reason,
              applyAt: window.applyAt,
              expiresAt: window.expiresAt,
            },
            idempotencyKey: `${runId}:opened`,
          });
        return result;
      });
      if (!recorded.recorded && recorded.request.runId !== runId)
        return refuse(`id: change request ${s.id} already exists`, requester.name);
      return { ok: true, request: changeRequestView(recorded.request) };
    },

    async reviseChangeRequest({ id, workflowId, actor, changes, reason, token, revision }) {
      const row = await readChangeRequest(db, id);
      if (!row) throw ApplicationFailure.nonRetryable(`change request ${id} is not recorded`, ErrorType.InvalidInput);
      if (row.revision >= revision)
        return { ok: true, changes: row.changes, required: row.required, reason: row.reason };
      if (row.status !== 'pending') return { ok: false, problem: `request ${id} is ${row.status}: it takes no edit` };
      if (!sameIdentity(actor, row.requestedBy.name))
        return { ok: false, problem: `actor: only ${row.requestedBy.name}, who requested this change, may edit it` };
      const use = { audience: approvalAudience(workflowId, 'request'), requestKey: `${workflowId}/edit/${revision}` };
      const system = SYSTEM_REQUESTER.test(row.requestedBy.name);
      const proof = await proveRequester(db, settings, row.requestedBy, token, use, system);
      if (!proof.ok) return proof;
      return db.transaction().execute(async (trx) => {
        const locked = (await lockChangeRequest(trx, id))!;
        if (locked.revision >= revision)
          return { ok: true as const, changes: locked.changes, required: locked.required, reason: locked.reason };
        const prepared = await prepare(trx, changes, { name: locked.requestedBy.name, roles: proof.roles });
        if (!prepared.ok) return prepared;
        if (loosens(prepared.changes) && settings.approvals.signed && !proof.proven)
          return { ok: false as const, problem: unproven(workflowId, locked.requestedBy.name) };
        const spendProblem = await proof.spend();
        if (spendProblem !== null) return { ok: false as const, problem: spendProblem };
        const { required } = prepared;
        const newReason = reason ?? locked.reason;
        await saveChangeRequestState(trx, id, {
          status: required.length === 0 ? 'approved' : 'pending',
          approvals: [],
          ...(required.length === 0 ? { decidedAt: new Date(), decidedBy: 'warden:policy-change' } : {}),
          revised: { changes: prepared.changes, required, reason: newReason, revision },
        });
        await auditChangeRequest(trx, id, {
          actor: locked.requestedBy.name,
          event: 'edited',
          details: { revision, changes: prepared.changes, required, revoked: locked.approvals, reason: newReason },
          idempotencyKey: `${workflowId}:edited:${revision}`,
        });
        return { ok: true as const, changes: prepared.changes, required, reason: newReason };
      });
    },

    async saveChangeRequestDecision({ id, status, approvals, detail, decidedAt, decidedBy, events, key }) {
      await db.transaction().execute(async (trx) => {
        const row = await lockChangeRequest(trx, id);
        if (!row) throw ApplicationFailure.nonRetryable(`change request ${id} is not recorded`, ErrorType.InvalidInput);
        // An ended request never moves again (the apply is the only other writer, and it ends it).
        if (isFinal(row.status) && row.status !== status) return;
        await saveChangeRequestState(trx, id, {
          status,
          approvals,
          ...(detail !== undefined ? { detail } : {}),
          ...(decidedAt !== undefined ? { decidedAt: new Date(decidedAt) } : {}),
          ...(decidedBy !== undefined ? { decidedBy } : {}),
        });
        for (const [i, e] of events.entries())
          await auditChangeRequest(trx, id, { ...e, idempotencyKey: `${key}:${i}` });
      });
    },

    async applyChangeRequest({ id, key }) {
      const applied = await applyInOneTransaction(db, id, key).catch(async (error: unknown) => {
        if (!(error instanceof StaleChangeError || error instanceof PolicyChangeRefusedError)) throw error;
        await markStale(db, id, error.message, key);
        return { outcome: 'stale' as const, detail: error.message };
      });
      if (applied.outcome !== 'applied') return applied;
      // After the commit: only the control plane writes its state, and it checks this request's authority.
      const bound = applied.request.changes.map(policyChangeOf).filter(isControlPlaneBound);
      await applyControlPlaneChanges(controlPlane, bound, {
        actor: applied.request.requestedBy.name,
        changeRequestId: id,
      });
      await sendDealReleases(applied.request);
      return { outcome: 'applied', appliedAt: applied.appliedAt };
    },

    async auditChangeRequestMessage(input) {
      await recordRefusedMessage(db, {
        kind: AuditKind.changeRequest[input.event ?? 'message_rejected'],
        subject: input.subject,
        actorField: 'actor',
        message: input.message,
        payload: input.payload,
        problem: input.problem,
        key: input.key,
      });
    },
  };
}
