import type { Selectable } from 'kysely';
import { AuditKind } from '../domain/audit/kinds';
import { defaultExecutionPolicy, type ExecutionPolicy, type SetExecutionPolicyInput } from '../domain/deals/policy';
import { appendAuditEvent } from './audit.repository';
import type { ExecutionPolicyTable } from './database';
import { type WriteContext, type Db, inTransaction } from './transaction';

export interface StoredExecutionPolicy extends ExecutionPolicy {
  updatedBy: string;
  updatedAt: string;
  reason: string | null;
}

function toPolicy(row: Selectable<ExecutionPolicyTable>): StoredExecutionPolicy {
  return {
    engine: row.engine,
    executionClass: row.execution_class,
    strategyRequired: row.strategy_required,
    recommendationRequired: row.recommendation_required,
    updatedBy: row.updated_by,
    updatedAt: row.updated_at.toISOString(),
    reason: row.reason,
  };
}

/** The engine's policy, or the documented default for an engine without a row. */
export async function readExecutionPolicy(db: Db, engine: string): Promise<ExecutionPolicy> {
  const row = await db.selectFrom('execution_policy').selectAll().where('engine', '=', engine).executeTakeFirst();
  if (!row) return defaultExecutionPolicy(engine);
  const { updatedBy: _by, updatedAt: _at, reason: _reason, ...policy } = toPolicy(row);
  return policy;
}

export async function listExecutionPolicies(db: Db): Promise<StoredExecutionPolicy[]> {
  const rows = await db.selectFrom('execution_policy').selectAll().orderBy('engine').execute();
  return rows.map(toPolicy);
}

/** Sets an engine's policy; the change and what it replaced go on the audit chain in the same transaction. */
export async function setExecutionPolicy(
  db: Db,
  input: SetExecutionPolicyInput,
  context: WriteContext = {},
): Promise<StoredExecutionPolicy> {
  return inTransaction(db, async (trx) => {
    const before = await trx
      .selectFrom('execution_policy')
      .selectAll()
      .where('engine', '=', input.engine)
      .forUpdate()
      .executeTakeFirst();
    const values = {
      execution_class: input.executionClass,
      strategy_required: input.strategyRequired,
      recommendation_required: input.recommendationRequired,
      updated_by: input.actor,
      updated_at: new Date(),
      reason: input.reason,
    };
    const row = await trx
      .insertInto('execution_policy')
      .values({ engine: input.engine, ...values })
      .onConflict((oc) => oc.column('engine').doUpdateSet(values))
      .returningAll()
      .executeTakeFirstOrThrow();
    const after = toPolicy(row);
    await appendAuditEvent(trx, {
      actor: input.actor,
      kind: AuditKind.executionPolicy.set,
      subject: `engine:${input.engine}`,
      details: {
        before: before ? toPolicy(before) : { ...defaultExecutionPolicy(input.engine), default: true },
        after,
        reason: input.reason,
        ...context,
      },
    });
    return after;
  });
}
