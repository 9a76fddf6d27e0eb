import type { Role } from './roles';

/**
 * Who an approval counts as, or why it does not. Checked in src/security
 * (a token needs Node crypto); the rules that consume the result stay pure.
 */
export type ApprovalClaimCheck =
  | { ok: true; actor: string; role: Role; token?: { tokenId: string; subject: string } }
  | { ok: false; problem: string };
