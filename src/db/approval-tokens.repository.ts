import type { Kysely } from 'kysely';
import type { Database } from './database';

/** Marks a signed approval token used; false when it was used before (each token approves once). */
export async function spendApprovalToken(
  db: Kysely<Database>,
  token: { tokenId: string; subject: string },
  usedFor: string,
): Promise<boolean> {
  const spent = await db
    .insertInto('approval_token_use')
    .values({ token_id: token.tokenId, subject: token.subject, used_for: usedFor })
    .onConflict((oc) => oc.column('token_id').doNothing())
    .returning('token_id')
    .executeTakeFirst();
  return spent !== undefined;
}
