import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';
import type { Role } from '../../domain/identity/roles';

// API keys, approval tokens and their single uses.

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
  /** False while the key waits for its change request (created inactive); a revoked key keeps its flag. */
  active: ColumnType<boolean, boolean | undefined, boolean>;
  /** The change request an inactive key waits for. */
  pending_change_request: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface ApprovalTokenUseTable {
  token_id: string;
  subject: string;
  used_for: string;
  used_at: ColumnType<Date, Date | undefined, never>;
  /** The request that spent it (null for uses recorded before requests were named). */
  request_key: string | null;
}

/** A signed approval token as issued: the JWS, found by the reference its holder was given. */
export interface ApprovalTokenTable {
  reference: string;
  jws: string;
  token_id: string;
  subject: string;
  audience: string;
  expires_at: Date;
  created_at: ColumnType<Date, Date | undefined, never>;
}

export type ApiKeyRow = Selectable<ApiKeyTable>;
export type NewApiKey = Insertable<ApiKeyTable>;
export type ApiKeyUpdate = Updateable<ApiKeyTable>;

export type ApprovalTokenUseRow = Selectable<ApprovalTokenUseTable>;
export type NewApprovalTokenUse = Insertable<ApprovalTokenUseTable>;
export type ApprovalTokenUseUpdate = Updateable<ApprovalTokenUseTable>;
