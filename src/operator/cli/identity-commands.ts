import { z } from 'zod';
import { ActorSchema, ReasonSchema } from '../../domain/control-plane/types';
import { ApprovalAudienceSchema } from '../../domain/identity/audience';
import { RoleSchema } from '../../domain/identity/roles';
import { printSubmitted } from './change-commands';
import { EXIT, expectArgs, field, type Invocation, printJsonOr, table, UsageError } from './shared';

const RolesSchema = z
  .string()
  .transform((v) => [
    ...new Set(
      v
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean),
    ),
  ])
  .pipe(z.array(RoleSchema).min(1, 'expected at least one role'));

async function keys(inv: Invocation): Promise<number> {
  const [action = 'list', ...rest] = inv.args;
  const { flags, ops } = inv;
  switch (action) {
    case 'create': {
      expectArgs('keys create', rest, 0);
      const identity = field('--identity', ActorSchema, flags.identity);
      const roles = field('--roles', RolesSchema, flags.roles);
      const { key, view, changeRequest } = await ops.call('keys.create', { identity, roles });
      printJsonOr(flags, { key, ...view, changeRequest }, () => [
        `key ${view.id} for ${identity} (${roles.join(', ')}):`,
        `  ${key}`,
        'shown once: store it now (only a hash is kept); use it with WARDEN_API_KEY=… or --key …',
        // A key granting more than its creator may is inactive until others approve its change request.
        ...(changeRequest ? [`inactive until approved: ${changeRequest.message}`] : []),
      ]);
      return EXIT.ok;
    }
    case 'list': {
      expectArgs('keys list', rest, 0);
      const list = await ops.call('keys.list', {});
      printJsonOr(flags, list, () =>
        list.length === 0
          ? ['no API keys (create one: warden keys create --identity NAME --roles owner)']
          : table(
              ['id', 'identity', 'roles', 'created', 'revoked', 'last used'],
              list.map((k) => [
                k.id,
                k.identity,
                k.roles.join(','),
                k.createdAt,
                k.revokedAt ?? '',
                k.lastUsedAt ?? '',
              ]),
            ),
      );
      return EXIT.ok;
    }
    case 'revoke': {
      expectArgs('keys revoke', rest, 1);
      const id = field('id', z.string().regex(/^[0-9a-f]{12}$/, 'expected a key id (12 hex characters)'), rest[0]);
      const reason = field('--reason', ReasonSchema, flags.reason);
      return printSubmitted(flags, await ops.call('keys.revoke', { id, reason }));
    }
    default:
      throw new UsageError(`keys: expected create, list or revoke, got '${action}'`);
  }
}

/**
 * A signed approval token for the caller's identity, good once for one target (`--for <workflowId>:<action>`),
 * for approvals sent by the Temporal CLI or UI: the API signs it and hands out its `wtr_…` reference, which is
 * what the payload's `token` carries.
 */
async function approvals(inv: Invocation): Promise<number> {
  expectArgs('approvals', inv.args, 1);
  field('approvals', z.literal('token', { message: 'expected token' }), inv.args[0]);
  const audience = field('--for', ApprovalAudienceSchema, inv.flags.for);
  const issued = await inv.ops.call('approvalToken.issue', { audience });
  printJsonOr(inv.flags, issued, () => [
    issued.token,
    `for ${issued.subject} (${issued.roles.join(', ')}) on ${issued.audience}, good once until ${issued.expiresAt}`,
  ]);
  return EXIT.ok;
}

export const identityCommands: Record<string, (inv: Invocation) => Promise<number>> = { keys, approvals };
