import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

// Prod-eligibility gate (seed 000 "Heimdall"): policies, sandbox trials, daily scorecards, recommendations.

export interface HeimdallPolicyTable {
  domain: string;
  min_confidence_prod: number;
  min_sandbox_trials: number;
  min_sandbox_success_rate: number;
  prod_use_enabled: Generated<boolean>;
  updated_by: Generated<string>;
  updated_at: Generated<Date>;
}

export interface HeimdallSandboxTrialTable {
  id: ColumnType<string, never, never>;
  idempotency_key: string | null;
  domain: string;
  day: string;
  success: boolean;
  confidence: number;
  at: Generated<Date>;
}

export interface HeimdallScorecardDayTable {
  domain: string;
  day: string;
  trials: Generated<number>;
  successes: Generated<number>;
  confidence_sum: Generated<number>;
}

export interface HeimdallRecommendationTable {
  id: string;
  domain: string;
  confidence: number;
  payload: ColumnType<Record<string, unknown>, string | undefined, never>;
  prod_eligible: boolean;
  gate_reason: string;
  created_by: string;
  created_at: Generated<Date>;
}

export type HeimdallPolicyRow = Selectable<HeimdallPolicyTable>;
export type NewHeimdallPolicy = Insertable<HeimdallPolicyTable>;
export type HeimdallPolicyUpdate = Updateable<HeimdallPolicyTable>;

export type HeimdallSandboxTrialRow = Selectable<HeimdallSandboxTrialTable>;
export type NewHeimdallSandboxTrial = Insertable<HeimdallSandboxTrialTable>;
export type HeimdallSandboxTrialUpdate = Updateable<HeimdallSandboxTrialTable>;

export type HeimdallScorecardDayRow = Selectable<HeimdallScorecardDayTable>;
export type NewHeimdallScorecardDay = Insertable<HeimdallScorecardDayTable>;
export type HeimdallScorecardDayUpdate = Updateable<HeimdallScorecardDayTable>;

export type HeimdallRecommendationRow = Selectable<HeimdallRecommendationTable>;
export type NewHeimdallRecommendation = Insertable<HeimdallRecommendationTable>;
export type HeimdallRecommendationUpdate = Updateable<HeimdallRecommendationTable>;
