import type { Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { ApprovalRecord, ApprovalSlot } from '../../domain/change-requests/approvals';
import type { ClassifiedChange } from '../../domain/change-requests/classify';
import type { ChangeRequestStatus } from '../../domain/change-requests/request';
import type { Role } from '../../domain/identity/roles';
import type { Json } from './json';

// Change requests (issue 14): every change to governed state, reviewed when it loosens anything.

export interface ChangeRequestTable {
  id: string;
  run_id: string;
  requested_by: string;
  requester_roles: Json<Role[]>;
  reason: string;
  changes: Json<ClassifiedChange[]>;
  required: Json<ApprovalSlot[]>;
  approvals: Json<ApprovalRecord[]>;
  status: ChangeRequestStatus;
  detail: string | null;
  revision: Generated<number>;
  apply_at: Date | null;
  expires_at: Date;
  created_at: Generated<Date>;
  decided_at: Date | null;
  decided_by: string | null;
  applied_at: Date | null;
}

export type ChangeRequestRow = Selectable<ChangeRequestTable>;
export type NewChangeRequest = Insertable<ChangeRequestTable>;
export type ChangeRequestUpdate = Updateable<ChangeRequestTable>;
