import type { Role } from './roles';

// The signed-approval activity contract, implemented by activities/approvals.ts.

export type ApprovalVerdict = { ok: true } | { ok: false; problem: string };

/** Signed approvals for workflows that take approvals by signal or update: the token is checked and spent off the workflow. */
export interface ApprovalActivities {
  verifyApproval(input: { actor: string; role: Role; token?: string; usedFor: string }): Promise<ApprovalVerdict>;
}
