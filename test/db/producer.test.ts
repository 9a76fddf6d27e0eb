import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecommendation, recordKpi, recordSandboxTrial } from '../../src/db/producer.repository';
import { InvalidRequestError } from '../../src/domain/shared/validation';
import { createTestDatabase, type TestDatabase } from '../helpers';

describe('producer repository on PostgreSQL', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.drop();
  });

  it('records a KPI event once per key, with the producer as default source', async () => {
    const at = new Date('2026-11-24T10:00:00Z');
    await recordKpi(t.db, { domain: 'WHOLESALE', metric: 'contract_rate', success: true, at, key: 'kpi-1' });
    await recordKpi(t.db, { domain: 'WHOLESALE', metric: 'contract_rate', success: true, at, key: 'kpi-1' });
    const rows = await t.db
      .selectFrom('kpi_event')
      .select(['domain', 'metric', 'success', 'value', 'source'])
      .execute();
    expect(rows).toEqual([
      { domain: 'WHOLESALE', metric: 'contract_rate', success: true, value: null, source: 'producer' },
    ]);
  });

  it('refuses bad input naming the field, and writes nothing', async () => {
    await expect(recordKpi(t.db, { domain: 'wholesale', metric: 'contract_rate', success: true })).rejects.toThrow(
      new InvalidRequestError('invalid KPI event: domain: expected a domain in capitals, e.g. WHOLESALE'),
    );
    await expect(recordKpi(t.db, { domain: 'WHOLESALE', metric: 'contract_rate' })).rejects.toThrow(
      new InvalidRequestError('invalid KPI event: success: give success, value or both'),
    );
    expect(() => recordSandboxTrial(t.db, { domain: 'BUYER_MATCH', success: true, confidence: 2 })).toThrow(
      InvalidRequestError,
    );
    expect(() => createRecommendation(t.db, { domain: 'BUYER_MATCH', confidence: 0.9, actor: '' })).toThrow(
      InvalidRequestError,
    );
    expect(await t.db.selectFrom('kpi_event').select('id').execute()).toHaveLength(1);
    expect(await t.db.selectFrom('heimdall_sandbox_trial').select('id').execute()).toEqual([]);
    expect(await t.db.selectFrom('heimdall_recommendation').select('id').execute()).toEqual([]);
  });

  it('folds sandbox trials into the scorecard and gates a recommendation at creation', async () => {
    await recordSandboxTrial(t.db, { domain: 'BUYER_MATCH', success: true, confidence: 0.95, key: 'trial-1' });
    const card = await recordSandboxTrial(t.db, {
      domain: 'BUYER_MATCH',
      success: false,
      confidence: 0.85,
      key: 'trial-2',
    });
    expect(card).toMatchObject({ domain: 'BUYER_MATCH', trials: 2, successes: 1 });
    const rec = await createRecommendation(t.db, { domain: 'BUYER_MATCH', confidence: 0.96, actor: 'heimdall' });
    expect(rec).toMatchObject({
      domain: 'BUYER_MATCH',
      prodEligible: false,
      gateReason: 'prod_use_disabled',
      createdBy: 'heimdall',
    });
  });
});
