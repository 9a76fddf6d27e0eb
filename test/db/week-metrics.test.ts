import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAuditEvent } from '../../src/db/audit.repository';
import { AuditKind, type AuditKindName } from '../../src/domain/audit/kinds';
import { DEFAULT_CAPITAL_BANDS } from '../../src/domain/capital/bands';
import { isoWeekOf } from '../../src/domain/autonomy/week';
import { registerWardenMetrics } from '../../src/operator/metrics/warden-metrics';
import { createTestDatabase, type TestDatabase } from '../helpers';

// The current week's governance in /metrics, from its audit trail (what weeklyGovernance audits).
describe('warden_week_* metrics', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
  });
  afterAll(async () => {
    await t.drop();
  });

  it("show this week's holds until a release, and whether its review was acknowledged", async () => {
    const registry = new Registry();
    registerWardenMetrics(registry, t.db, { capitalBands: DEFAULT_CAPITAL_BANDS });
    const subject = `week:${isoWeekOf(new Date())}`;
    const event = (kind: AuditKindName, details: Record<string, unknown> = {}) =>
      t.db.transaction().execute((trx) => appendAuditEvent(trx, { actor: 'alice', kind, subject, details }));
    const series = async () => {
      const text = await registry.metrics();
      return text.split('\n').filter((l) => l.startsWith('warden_week_'));
    };
    expect(await series()).toEqual([
      'warden_week_held{scope="expansion"} 0',
      'warden_week_held{scope="promotions"} 0',
      'warden_week_review_acknowledged 0',
    ]);
    await event(AuditKind.week.held, { scope: 'promotions', reason: 'drift' });
    // Last week's hold is not this week's.
    await t.db.transaction().execute((trx) =>
      appendAuditEvent(trx, {
        actor: 'bob',
        kind: AuditKind.week.held,
        subject: 'week:2020-W01',
        details: { scope: 'all', reason: 'old' },
      }),
    );
    await event(AuditKind.week.reviewAcknowledged, { note: null });
    expect(await series()).toEqual([
      'warden_week_held{scope="expansion"} 0',
      'warden_week_held{scope="promotions"} 1',
      'warden_week_review_acknowledged 1',
    ]);
    await event(AuditKind.week.released, { reason: 'reviewed', released: ['promotions'] });
    await event(AuditKind.week.held, { scope: 'all', reason: 'incident' });
    expect(await series()).toEqual([
      'warden_week_held{scope="expansion"} 1',
      'warden_week_held{scope="promotions"} 1',
      'warden_week_review_acknowledged 1',
    ]);
    await event(AuditKind.week.released, { reason: 'over', released: ['expansion', 'promotions'] });
    expect((await series()).slice(0, 2)).toEqual([
      'warden_week_held{scope="expansion"} 0',
      'warden_week_held{scope="promotions"} 0',
    ]);
  });
});
