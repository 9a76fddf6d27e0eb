import { AuditKind } from '../domain/audit/kinds';
import {
  type CommandPolicy,
  type CommandPolicyChange,
  DEFAULT_COMMAND_EXECUTION_CLASS,
} from '../domain/autonomy/commands';
import type { ExecutionClass } from '../domain/control-plane/types';
import { appendAuditEvent } from './audit.repository';
import type { CommandPolicyRow } from './database';
import { type WriteContext, type Db, inTransaction } from './transaction';

function toPolicy(row: CommandPolicyRow): CommandPolicy {
  return {
    commandType: row.command_type,
    executionClass: row.execution_class,
    safeInReduce: row.safe_in_reduce,
    reason: row.reason,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at.toISOString(),
  };
}

export async function listCommandPolicies(db: Db): Promise<CommandPolicy[]> {
  return (await db.selectFrom('command_policy').selectAll().orderBy('command_type').execute()).map(toPolicy);
}

/**
 * The command type's execution class and whether it runs in reduce mode: its policy's, or PROD_EXEC and
 * not safe (the safe defaults) when it has none.
 */
export async function commandGatePolicy(
  db: Db,
  commandType: string,
): Promise<{ executionClass: ExecutionClass; safeInReduce: boolean }> {
  const row = await db
    .selectFrom('command_policy')
    .select(['execution_class', 'safe_in_reduce'])
    .where('command_type', '=', commandType)
    .executeTakeFirst();
  return {
    executionClass: row?.execution_class ?? DEFAULT_COMMAND_EXECUTION_CLASS,
    safeInReduce: row?.safe_in_reduce ?? false,
  };
}

/** Sets one command type's class, with an audit event naming before and after, in one transaction. */
export async function setCommandPolicy(
  db: Db,
  change: CommandPolicyChange,
  context: WriteContext = {},
): Promise<CommandPolicy> {
  return inTransaction(db, async (trx) => {
    const before = await trx
      .selectFrom('command_policy')
      .selectAll()
      .where('command_type', '=', change.commandType)
      .forUpdate()
      .executeTakeFirst();
    const values = {
      execution_class: change.executionClass,
      ...(change.safeInReduce !== undefined ? { safe_in_reduce: change.safeInReduce } : {}),
      reason: change.reason,
      updated_by: change.actor,
      updated_at: new Date(),
    };
    const row = await trx
      .insertInto('command_policy')
      .values({ command_type: change.commandType, ...values })
      .onConflict((oc) => oc.column('command_type').doUpdateSet(values))
      .returningAll()
      .executeTakeFirstOrThrow();
    const after = toPolicy(row);
    await appendAuditEvent(trx, {
      actor: change.actor,
      kind: AuditKind.commandPolicy.set,
      subject: `command_type:${change.commandType}`,
      details: {
        before: before ? toPolicy(before) : { executionClass: DEFAULT_COMMAND_EXECUTION_CLASS, default: true },
        after,
        reason: change.reason,
        ...context,
      },
    });
    return after;
  });
}
