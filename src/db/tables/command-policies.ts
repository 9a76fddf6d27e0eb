import type { Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { ExecutionClass } from '../../domain/control-plane/types';

// What a command type is (issue 13): its operator-set execution class. A type without a row is PROD_EXEC.

export interface CommandPolicyTable {
  command_type: string;
  execution_class: ExecutionClass;
  /** Runs while the kill switch is in reduce mode. */
  safe_in_reduce: Generated<boolean>;
  reason: string | null;
  updated_by: string;
  updated_at: Generated<Date>;
}

export type CommandPolicyRow = Selectable<CommandPolicyTable>;
export type NewCommandPolicy = Insertable<CommandPolicyTable>;
export type CommandPolicyUpdate = Updateable<CommandPolicyTable>;
