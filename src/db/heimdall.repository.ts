import { randomUUID } from 'node:crypto';
import { type Kysely, type Selectable, sql } from 'kysely';
import {
  evaluateProdGate,
  type HeimdallPolicy,
  type ProdGateDecision,
  type Scorecard,
  toScorecard,
} from '../domain/prod-eligibility/rules';
import { utcDay } from '../domain/risk/rules';
import { AuditKind } from '../domain/audit/kinds';
import { appendAuditEvent } from './audit.repository';
import type { Database, HeimdallPolicyTable } from './database';
import { type WriteContext, type Db, inTransaction } from './transaction';

function toPolicy(row: Selectable<HeimdallPolicyTable>): HeimdallPolicy {
  return {
    domain: row.domain,
    minConfidenceProd: row.min_confidence_prod,
    minSandboxTrials: row.min_sandbox_trials,
    minSandboxSuccessRate: row.min_sandbox_success_rate,
    prodUseEnabled: row.prod_use_enabled,
  };
}

async function gateInputs(db: Kysely<Database>, domain: string, day: string) {
  const [policy, card] = await Promise.all([
    db.selectFrom('heimdall_policy').selectAll().where('domain', '=', domain).executeTakeFirst(),
    db
      .selectFrom('heimdall_scorecard_day')
      .selectAll()
      .where('domain', '=', domain)
      .where('day', '=', day)
      .executeTakeFirst(),
  ]);
  return { policy: policy ? toPolicy(policy) : undefined, scorecard: card ? toScorecard(card) : undefined };
}

/** Seed 000's evaluate_prod_gate against the stored policy and today's scorecard. */
export async function evaluateDomainGate(
  db: Kysely<Database>,
  domain: string,
  confidence: number,
  at = new Date(),
): Promise<ProdGateDecision> {
  const { policy, scorecard } = await gateInputs(db, domain, utcDay(at));
  return evaluateProdGate(policy, scorecard, confidence);
}

/** One sandbox trial, folded into the domain's scorecard for its UTC day. A repeated key counts once. */
export async function recordSandboxTrial(
  db: Kysely<Database>,
  trial: { domain: string; success: boolean; confidence: number; key?: string; at?: Date },
): Promise<Scorecard> {
  const at = trial.at ?? new Date();
  const day = utcDay(at);
  return db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('heimdall_sandbox_trial')
      .values({
        idempotency_key: trial.key ?? null,
        domain: trial.domain,
        day,
        success: trial.success,
        confidence: trial.confidence,
        at,
      })
      .onConflict((oc) => oc.column('idempotency_key').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (inserted) {
      await trx
        .insertInto('heimdall_scorecard_day')
        .values({
          domain: trial.domain,
          day,
          trials: 1,
          successes: trial.success ? 1 : 0,
          confidence_sum: trial.confidence,
        })
        .onConflict((oc) =>
          oc.columns(['domain', 'day']).doUpdateSet({
            trials: sql`heimdall_scorecard_day.trials + 1`,
            successes: sql`heimdall_scorecard_day.successes + ${trial.success ? 1 : 0}`,
            confidence_sum: sql`heimdall_scorecard_day.confidence_sum + ${trial.confidence}`,
          }),
        )
        .execute();
    }
    const row = await trx
      .selectFrom('heimdall_scorecard_day')
      .selectAll()
      .where('domain', '=', trial.domain)
      .where('day', '=', day)
      .executeTakeFirstOrThrow();
    return toScorecard(row);
  });
}

export interface Recommendation {
  id: string;
  domain: string;
  confidence: number;
  prodEligible: boolean;
  gateReason: string;
  createdBy: string;
  createdAt: string;
}

/** create_recommendation: gated at creation; the decision and its reason are stored with it. */
export async function createRecommendation(
  db: Kysely<Database>,
  input: { domain: string; confidence: number; payload?: Record<string, unknown>; actor: string; id?: string },
): Promise<Recommendation> {
  const id = input.id ?? randomUUID();
  return db.transaction().execute(async (trx) => {
    const existing = await trx
      .selectFrom('heimdall_recommendation')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (existing) return toRecommendation(existing);
    const decision = await evaluateDomainGate(trx, input.domain, input.confidence);
    const row = await trx
      .insertInto('heimdall_recommendation')
      .values({
        id,
        domain: input.domain,
        confidence: input.confidence,
        payload: JSON.stringify(input.payload ?? {}),
        prod_eligible: decision.ok,
        gate_reason: decision.reason,
        created_by: input.actor,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendAuditEvent(trx, {
      actor: input.actor,
      kind: AuditKind.heimdall.recommendationCreated,
      subject: `recommendation:${id}`,
      details: {
        domain: input.domain,
        confidence: input.confidence,
        prodEligible: decision.ok,
        gateReason: decision.reason,
      },
    });
    return toRecommendation(row);
  });
}

function toRecommendation(row: Selectable<Database['heimdall_recommendation']>): Recommendation {
  return {
    id: row.id,
    domain: row.domain,
    confidence: row.confidence,
    prodEligible: row.prod_eligible,
    gateReason: row.gate_reason,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
  };
}

export async function findRecommendation(db: Kysely<Database>, id: string) {
  return db.selectFrom('heimdall_recommendation').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listScorecards(
  db: Kysely<Database>,
  day: string,
): Promise<(Scorecard & { policy: HeimdallPolicy })[]> {
  const policies = await db.selectFrom('heimdall_policy').selectAll().orderBy('domain').execute();
  const cards = await db.selectFrom('heimdall_scorecard_day').selectAll().where('day', '=', day).execute();
  return policies.map((p) => {
    const card = cards.find((c) => c.domain === p.domain);
    return {
      ...(card
        ? toScorecard(card)
        : { domain: p.domain, day, trials: 0, successes: 0, successRate: 0, avgConfidence: 0 }),
      policy: toPolicy(p),
    };
  });
}

export async function listHeimdallPolicies(db: Db): Promise<HeimdallPolicy[]> {
  return (await db.selectFrom('heimdall_policy').selectAll().orderBy('domain').execute()).map(toPolicy);
}

export async function setHeimdallPolicy(
  db: Db,
  policy: HeimdallPolicy,
  actor: string,
  context: WriteContext = {},
): Promise<HeimdallPolicy> {
  return inTransaction(db, async (trx) => {
    const values = {
      min_confidence_prod: policy.minConfidenceProd,
      min_sandbox_trials: policy.minSandboxTrials,
      min_sandbox_success_rate: policy.minSandboxSuccessRate,
      prod_use_enabled: policy.prodUseEnabled,
      updated_by: actor,
      updated_at: new Date(),
    };
    await trx
      .insertInto('heimdall_policy')
      .values({ domain: policy.domain, ...values })
      .onConflict((oc) => oc.column('domain').doUpdateSet(values))
      .execute();
    await appendAuditEvent(trx, {
      actor,
      kind: AuditKind.heimdall.policySet,
      subject: `domain:${policy.domain}`,
      details: { policy, ...context },
    });
    return policy;
  });
}

/** Every domain's policy with its scorecards for the UTC days `from`..`to` (inclusive): the Friday review's input. */
export async function heimdallWeek(
  db: Kysely<Database>,
  window: { from: string; to: string },
): Promise<{ policy: HeimdallPolicy; cards: Scorecard[] }[]> {
  const policies = await listHeimdallPolicies(db);
  const cards = await db
    .selectFrom('heimdall_scorecard_day')
    .selectAll()
    .where('day', '>=', window.from)
    .where('day', '<=', window.to)
    .orderBy('day')
    .execute();
  return policies.map((policy) => ({
    policy,
    cards: cards.filter((c) => c.domain === policy.domain).map(toScorecard),
  }));
}
