import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { AdmissionInputs } from '../../domain/change-requests/replay-inputs';
import type { ClaimStage } from '../../domain/deals/claims';
import type { DealResult, DealTerms } from '../../domain/deals/types';

// Deal claims (issue 13): one row per deal id, with its terms and how far it got.

export interface DealClaimTable {
  deal_id: string;
  terms: ColumnType<DealTerms, string, string>;
  workflow_id: string;
  run_id: string;
  stage: ClaimStage;
  result: ColumnType<DealResult | null, string | null, string | null>;
  permit_id: string | null;
  apply_mode: string | null;
  /** What the deal asked at admission (issue 14: replayed by `warden policy plan`); null before it. */
  admission: ColumnType<AdmissionInputs | null, string | null | undefined, string | null>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export type DealClaimRow = Selectable<DealClaimTable>;
export type NewDealClaim = Insertable<DealClaimTable>;
export type DealClaimUpdate = Updateable<DealClaimTable>;
