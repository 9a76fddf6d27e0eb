import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';
import type { Role } from '../../domain/identity/roles';

// API keys and single-use approval tokens.

export interface ApiKeyTable {
  id: string;
  identity: string;
  roles: ColumnType<Role[], string, string>;
  secret_hash: string;
  created_at: ColumnType<Date, Date | undefined, never>;
  created_by: string;
  revoked_at: Date | null;
  revoked_by: string | null;
  last_used_at: Date | null;
}

export interface ApprovalTokenUseTable {
  token_id: string;
  subject: string;
  used_for: string;
  used_at: ColumnType<Date, Date | undefined, never>;
}

export type ApiKeyRow = Selectable<ApiKeyTable>;
export type NewApiKey = Insertable<ApiKeyTable>;
export type ApiKeyUpdate = Updateable<ApiKeyTable>;

export type ApprovalTokenUseRow = Selectable<ApprovalTokenUseTable>;
export type NewApprovalTokenUse = Insertable<ApprovalTokenUseTable>;
export type ApprovalTokenUseUpdate = Updateable<ApprovalTokenUseTable>;
