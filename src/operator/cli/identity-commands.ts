import { z } from 'zod';
import { durationMs } from '../../domain/shared/durations';
import { issueApprovalToken } from '../../security/approval-tokens';
import { ActorSchema, ReasonSchema } from '../../domain/control-plane/types';
import { RoleSchema } from '../../domain/identity/roles';
import { actorOf, EXIT, expectArgs, field, type Invocation, printJsonOr, table, UsageError, withData } from './shared';

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
  const { config, flags } = inv;
  switch (action) {
    case 'create': {
      expectArgs('keys create', rest, 0);
      const identity = field('--identity', ActorSchema, flags.identity);
      const roles = field('--roles', RolesSchema, flags.roles);
      const actor = actorOf(flags);
      return withData(config, async (data) => {
        const { key, view } = await data.createApiKey({ identity, roles, actor });
        printJsonOr(flags, { key, ...view }, () => [
          `key ${view.id} for ${identity} (${roles.join(', ')}):`,
          `  ${key}`,
          'shown once: store it now (only a hash is kept)',
        ]);
        return EXIT.ok;
      });
    }
    case 'list': {
      expectArgs('keys list', rest, 0);
      return withData(config, async (data) => {
        const list = await data.listApiKeys();
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
      });
    }
    case 'revoke': {
      expectArgs('keys revoke', rest, 1);
      const id = field('id', z.string().regex(/^[0-9a-f]{12}$/, 'expected a key id (12 hex characters)'), rest[0]);
      const reason = field('--reason', ReasonSchema, flags.reason);
      const actor = actorOf(flags);
      return withData(config, async (data) => {
        const revoked = await data.revokeApiKey(id, actor, reason);
        if (!revoked) {
          process.stderr.write(`warden: no active key ${id}\n`);
          return EXIT.problem;
        }
        printJsonOr(flags, revoked, () => [`revoked key ${id} of ${revoked.identity}`]);
        return EXIT.ok;
      });
    }
    default:
      throw new UsageError(`keys: expected create, list or revoke, got '${action}'`);
  }
}

/** A signed approval token for the identity behind an API key, for approvals sent by the Temporal CLI or UI. */
async function approvals(inv: Invocation): Promise<number> {
  expectArgs('approvals', inv.args, 1);
  field('approvals', z.literal('token', { message: 'expected token' }), inv.args[0]);
  const { config, flags } = inv;
  const key = field(
    '--key',
    z.string().min(1, 'give your API key with --key or WARDEN_API_KEY'),
    flags.key ?? process.env.WARDEN_API_KEY ?? '',
  );
  const signingKey = config.approvals.signingKey;
  if (signingKey === undefined)
    throw new UsageError('WARDEN_APPROVAL_SIGNING_KEY: not set, so no approval tokens can be issued');
  return withData(config, async (data) => {
    const auth = await data.authenticateApiKey(key);
    if (!auth.ok) {
      process.stderr.write(`warden: --key: ${auth.reason}\n`);
      return EXIT.problem;
    }
    const { token, claims } = issueApprovalToken({
      subject: auth.identity.name,
      roles: auth.identity.roles,
      environment: config.environment,
      ttlMs: durationMs(config.approvals.tokenTtl),
      key: signingKey,
    });
    const expiresAt = new Date(claims.exp * 1000).toISOString();
    await data.recordApprovalTokenIssued({
      subject: claims.sub,
      tokenId: claims.jti,
      roles: claims.roles,
      expiresAt,
      keyId: auth.identity.keyId,
    });
    printJsonOr(flags, { token, subject: claims.sub, roles: claims.roles, expiresAt }, () => [
      token,
      `for ${claims.sub} (${claims.roles.join(', ')}), good once until ${expiresAt}`,
    ]);
    return EXIT.ok;
  });
}

export const identityCommands: Record<string, (inv: Invocation) => Promise<number>> = { keys, approvals };
