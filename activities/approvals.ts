import type { Kysely } from 'kysely';
import { spendApprovalToken } from '../src/db/approval-tokens.repository';
import type { Database } from '../src/db/database';
import { type ApprovalSettings, checkApprovalClaim } from '../src/security/approvals';
import type { ApprovalActivities } from '../src/domain/identity/activities';

/** Signed approvals for workflows that take approvals by signal or update: the token is checked and spent here, off the workflow. */
export function createApprovalActivities({
  db,
  settings,
}: {
  db: Kysely<Database>;
  settings: ApprovalSettings;
}): ApprovalActivities {
  return {
    async verifyApproval(input) {
      const claim = checkApprovalClaim(input, [input.role], settings);
      if (!claim.ok) return claim;
      if (claim.token && !(await spendApprovalToken(db, claim.token, input.usedFor)))
        return { ok: false, problem: 'token: already used (each approval token approves once)' };
      return { ok: true };
    },
  };
}
