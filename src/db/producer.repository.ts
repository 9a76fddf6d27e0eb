import type { Kysely } from 'kysely';
import { z } from 'zod';
import { ActorSchema } from '../domain/control-plane/types';
import { ConfidenceSchema, DomainSchema, type Scorecard } from '../domain/prod-eligibility/rules';
import { validateRequest } from '../domain/shared/validation';
import type { Database } from './database';
import {
  createRecommendation as insertRecommendation,
  type Recommendation,
  recordSandboxTrial as insertSandboxTrial,
} from './heimdall.repository';
import { recordKpiEvent } from './kpi.repository';

// What a trusted producer with Warden's database writes directly (no workflow
// runs for these): KPI events for the tripwire, sandbox trials and gated
// recommendations. Input is checked first; a bad field throws
// InvalidRequestError naming it and writes nothing.

const KpiInputSchema = z
  .strictObject({
    domain: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'expected a domain in capitals, e.g. WHOLESALE'),
    metric: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'expected a metric name in snake_case, e.g. contract_rate'),
    success: z.boolean().optional(),
    value: z.number().finite().optional(),
    at: z.date().optional(),
    source: z.string().min(1).max(200).default('producer'),
    key: z.string().min(1).max(200).optional(),
  })
  .refine((k) => k.success !== undefined || k.value !== undefined, {
    message: 'give success, value or both',
    path: ['success'],
  });
export type KpiInput = z.input<typeof KpiInputSchema>;

const RecommendationInputSchema = z.strictObject({
  domain: DomainSchema,
  confidence: ConfidenceSchema,
  payload: z.record(z.string(), z.unknown()).optional(),
  actor: ActorSchema,
  id: z.uuid().optional(),
});
export type RecommendationInput = z.input<typeof RecommendationInputSchema>;

const SandboxTrialInputSchema = z.strictObject({
  domain: DomainSchema,
  success: z.boolean(),
  confidence: ConfidenceSchema,
  key: z.string().min(1).max(200).optional(),
  at: z.date().optional(),
});
export type SandboxTrialInput = z.input<typeof SandboxTrialInputSchema>;

/** One KPI event for the regression tripwire; a repeated `key` is stored once. */
export async function recordKpi(db: Kysely<Database>, input: KpiInput): Promise<void> {
  await recordKpiEvent(db, validateRequest(KpiInputSchema, input, 'KPI event'));
}

/** A recommendation, gated for prod use at creation; the same `id` returns the stored one. */
export function createRecommendation(db: Kysely<Database>, input: RecommendationInput): Promise<Recommendation> {
  return insertRecommendation(db, validateRequest(RecommendationInputSchema, input, 'recommendation'));
}

/** One sandbox trial, folded into its domain's scorecard for the trial's UTC day; a repeated `key` counts once. */
export function recordSandboxTrial(db: Kysely<Database>, input: SandboxTrialInput): Promise<Scorecard> {
  return insertSandboxTrial(db, validateRequest(SandboxTrialInputSchema, input, 'sandbox trial'));
}
