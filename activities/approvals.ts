import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { Kysely } from 'kysely';
import {
  findApprovalTokenUse,
  readApprovalToken,
  spendApprovalToken,
  TOKEN_ALREADY_USED,
} from '../src/db/approval-tokens.repository';
import { appendAuditEvent } from '../src/db/audit.repository';
import type { Database } from '../src/db/database';
import { AuditKind } from '../src/domain/audit/kinds';
import type { ApprovalClaimCheck } from '../src/domain/identity/approval-check';
import type { Role } from '../src/domain/identity/roles';
import { claimedTokenId, isTokenReference } from '../src/security/approval-tokens';
import { type ApprovalSettings, checkApprovalClaim } from '../src/security/approvals';
import type { ApprovalActivities } from '../src/domain/identity/activities';
import { checkSeparation } from '../src/domain/identity/separation';

/** What a token is spent on: its audience (`<workflowId>:<action>`), by one request. */
export interface TokenUse {
  audience: string;
  /** The same for every attempt of one request (a retried activity), different for any other. */
  requestKey: string;
}

/**
 * An approval checked against its target, reading a `wtr_…` reference from the
 * database. A token this very request has spent already (a retry after the
 * spend committed) is judged as of that spend, so a retry never refuses a
 * valid approval because the token expired since; a token another request
 * spent is refused.
 */
export async function checkApprovalFor(
  db: Kysely<Database>,
  request: { actor: string; role?: string | undefined; token?: string | undefined },
  acceptable: readonly Role[],
  settings: ApprovalSettings,
  use: TokenUse,
): Promise<ApprovalClaimCheck> {
  const jws =
    request.token === undefined || !isTokenReference(request.token)
      ? request.token
      : await readApprovalToken(db, request.token);
  const claimedId = jws === undefined ? undefined : claimedTokenId(jws);
  const first = claimedId === undefined ? undefined : await findApprovalTokenUse(db, claimedId);
  const again = first !== undefined && first.usedFor === use.audience && first.requestKey === use.requestKey;
  const claim = await checkApprovalClaim(request, acceptable, settings, {
    audience: use.audience,
    resolve: async () => jws,
    ...(again ? { now: first.usedAt } : {}),
  });
  if (claim.ok && claim.token && first !== undefined && !again) return { ok: false, problem: TOKEN_ALREADY_USED };
  return claim;
}

/** This activity's request: its attempts share workflow, run and activity id. */
function activityRequestKey(): string {
  let info: Context['info'] | undefined;
  try {
    info = Context.current().info;
  } catch {
    info = undefined; // called outside an activity (tests)
  }
  const run = info?.workflowExecution;
  // Outside a workflow's activity, each call is a request of its own.
  return info && run ? `${run.workflowId}/${run.runId}/${info.activityId}` : randomUUID();
}

/** Signed approvals for workflows that take approvals by signal or update: the token is checked and spent here, off the workflow. */
export function createApprovalActivities({
  db,
  settings,
}: {
  db: Kysely<Database>;
  settings: ApprovalSettings;
}): ApprovalActivities {
  return {
    /** `usedFor` is the approval's audience, `<workflowId>:<action>`: a token counts only for it. */
    async verifyApproval(input) {
      const use = { audience: input.usedFor, requestKey: activityRequestKey() };
      const acceptable = input.acceptable ?? (input.role === undefined ? [] : [input.role]);
      const claim = await checkApprovalFor(db, input, acceptable, settings, use);
      if (!claim.ok) return claim;
      const separated = checkSeparation(claim.actor, input.excluded ?? []);
      if (!separated.ok) return separated;
      return claim.token ? spendApprovalToken(db, claim.token, use) : { ok: true };
    },

    async announceApprovalWaiting({ key, subject, what, roles, deadline, requestedBy }) {
      await db.transaction().execute((trx) =>
        appendAuditEvent(trx, {
          actor: requestedBy,
          kind: AuditKind.approval.waiting,
          subject,
          details: { what, roles, deadline },
          idempotencyKey: key,
        }),
      );
    },
  };
}
