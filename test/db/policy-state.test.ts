import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateApiKey, createApiKey } from '../../src/db/api-keys.repository';
import { listAuditEvents } from '../../src/db/audit.repository';
import { setHeimdallPolicy } from '../../src/db/heimdall.repository';
import {
  applyPolicyChanges,
  PolicyChangeRefusedError,
  readPolicyDocument,
  readStoredValue,
  StaleChangeError,
} from '../../src/db/policy-state.repository';
import { applyRestriction, clearRestriction } from '../../src/db/restrictions.repository';
import { StrategyLevelChangeError, upsertStrategy } from '../../src/db/strategy.repository';
import { diffPolicyDocuments, type PolicyChange, PolicyDocumentSchema } from '../../src/domain/change-requests/changes';
import { createScratchDatabase } from '../support/processes';

describe('policy state on PostgreSQL', () => {
  let d: Awaited<ReturnType<typeof createScratchDatabase>>;
  beforeAll(async () => {
    d = await createScratchDatabase('policy_state');
  });
  afterAll(async () => {
    await d.drop();
  });

  let seq = 0;
  const request = () => `cr-${String(++seq).padStart(12, '0')}`;
  const apply = (changes: readonly PolicyChange[], changeRequestId = request()) =>
    d.db
      .transaction()
      .execute((trx) => applyPolicyChanges(trx, changes, { actor: 'warden:policyChange', changeRequestId }));
  /** The audit events a request wrote, oldest first. */
  const eventsOf = async (changeRequestId: string) =>
    (await listAuditEvents(d.db, { limit: 1000 }))
      .filter((e) => (e.details as { changeRequestId?: string }).changeRequestId === changeRequestId)
      .reverse();

  it('reads the seeded state as one valid document', async () => {
    const doc = await readPolicyDocument(d.db);
    expect(PolicyDocumentSchema.parse(doc)).toEqual(doc);
    expect(doc.controlPlane).toEqual({ goLive: false, applyMode: 'dry_run' });
    expect(doc.risk.GLOBAL).toMatchObject({ enabled: true });
    expect(doc.heimdall.BUYER_MATCH).toMatchObject({ prodUseEnabled: false });
    expect(doc.approvers).toEqual({ tech_lead: [], ops_lead: [], product_lead: [], exec_sponsor: [] });
  });

  it('applies each kind through its setter with one audit event carrying the request id, control plane aside', async () => {
    const current = await readPolicyDocument(d.db);
    const proposed = {
      risk: { GLOBAL: { ...current.risk.GLOBAL!, maxDailyLoss: 400 } },
      tripwires: { 'WHOLESALE/contract_rate': { ...current.tripwires['WHOLESALE/contract_rate']!, enabled: true } },
      breakers: { 'High Error Rate': { ...current.breakers['High Error Rate']!, enabled: false } },
      heimdall: { BUYER_MATCH: { ...current.heimdall.BUYER_MATCH!, prodUseEnabled: true, minSandboxTrials: 60 } },
      strategies: {
        'mr-1': { level: 'L2' as const, enabled: true, capital: 50_000, tokenRequired: true, healthFloor: 0.3 },
      },
      engines: {
        CAPITAL: { executionClass: 'SANDBOX_EXEC' as const, strategyRequired: true, recommendationRequired: false },
      },
      commandTypes: { SET_POWER: { executionClass: 'OBSERVE_ONLY' as const } },
      approvers: { tech_lead: ['tess'] },
      controlPlane: { goLive: true },
    };
    const changes = diffPolicyDocuments(current, proposed);
    const id = request();
    const outside = await apply(changes, id);

    expect(outside).toEqual([{ kind: 'control_plane', target: 'goLive', before: false, after: true }]);
    const after = await readPolicyDocument(d.db);
    const { controlPlane: _cp, approvers: _a, ...entries } = proposed;
    for (const [section, values] of Object.entries(entries))
      for (const [key, value] of Object.entries(values))
        expect(after[section as keyof typeof entries][key], `${section}.${key}`).toEqual(value);
    expect(after.approvers.tech_lead).toEqual(['tess']);
    expect(after.controlPlane.goLive).toBe(false); // only the control plane writes it, after the transaction
    expect((await eventsOf(id)).map((e) => e.kind)).toEqual([
      'risk.policy_set',
      'tripwire.policy_set',
      'breaker.rule_set',
      'heimdall.policy_set',
      'strategy.changed',
      'strategy.promoted',
      'execution_policy.set',
      'command_policy.set',
      'autonomy.approver_added',
    ]);
    expect((await eventsOf(id)).find((e) => e.kind === 'strategy.promoted')?.details).toMatchObject({
      from: 'L0',
      to: 'L2',
      by: 'change_request',
    });
  });

  it('removes an approver and moves a strategy down as well as up', async () => {
    const current = await readPolicyDocument(d.db);
    const id = request();
    await apply(
      diffPolicyDocuments(current, {
        approvers: { tech_lead: [] },
        strategies: { 'mr-1': { ...current.strategies['mr-1']!, level: 'L1' } },
      }),
      id,
    );
    const after = await readPolicyDocument(d.db);
    expect(after.approvers.tech_lead).toEqual([]);
    expect(after.strategies['mr-1']).toEqual({ ...current.strategies['mr-1'], level: 'L1' });
    expect((await eventsOf(id)).map((e) => e.kind)).toEqual(['strategy.demoted', 'autonomy.approver_removed']);
  });

  it('refuses a request whose state moved on, naming the change, and applies none of it', async () => {
    const current = await readPolicyDocument(d.db);
    const changes = diffPolicyDocuments(current, {
      risk: { GLOBAL: { ...current.risk.GLOBAL!, maxDailyLoss: 999 } },
      heimdall: { BUYER_MATCH: { ...current.heimdall.BUYER_MATCH!, minConfidenceProd: 0.5 } },
    });
    // Someone else tightens the domain after the request was read.
    await setHeimdallPolicy(
      d.db,
      { domain: 'BUYER_MATCH', ...current.heimdall.BUYER_MATCH!, prodUseEnabled: false },
      'ops',
    );
    const id = request();
    const refusal = await apply(changes, id).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(StaleChangeError);
    expect(refusal).toMatchObject({ kind: 'heimdall_policy', target: 'BUYER_MATCH', name: 'PolicyChangeStale' });
    expect((await readPolicyDocument(d.db)).risk.GLOBAL).toEqual(current.risk.GLOBAL);
    expect(await eventsOf(id)).toEqual([]);
    await expect(apply([{ kind: 'control_plane', target: 'goLive', before: true, after: false }])).rejects.toThrow(
      StaleChangeError,
    );
  });

  it('checks a restriction clear against the active restriction, and leaves the write to the control plane', async () => {
    const placed = await applyRestriction(d.db, {
      engine: 'WHOLESALE',
      kind: 'pause',
      source: 'operator',
      reason: 'drill',
      actor: 'ops',
    });
    const before = await readStoredValue(d.db, 'restriction', placed.id);
    expect(before).toEqual({ engine: 'WHOLESALE', restriction: 'pause', source: 'operator' });
    const clear: PolicyChange = { kind: 'restriction', target: placed.id, before, after: null };
    expect(await apply([clear])).toEqual([clear]);
    expect(await readStoredValue(d.db, 'restriction', 'WHOLESALE')).toEqual({ engine: 'WHOLESALE' });
    await clearRestriction(d.db, placed.id, 'ops', 'done');
    await expect(apply([clear])).rejects.toThrow(StaleChangeError);
  });

  it('a key created pending is refused until its change request activates it, and a revoked key stays revoked', async () => {
    const pending = request();
    const { key, view } = await createApiKey(d.db, {
      identity: 'rita',
      roles: ['risk_officer'],
      actor: 'owner-1',
      pendingChangeRequest: pending,
    });
    expect(view).toMatchObject({ active: false, pendingChangeRequest: pending });
    expect(await authenticateApiKey(d.db, key)).toEqual({
      ok: false,
      reason: `API key ${view.id} is inactive: pending approval of change request ${pending}`,
    });
    const before = await readStoredValue(d.db, 'api_key', view.id);
    expect(before).toEqual({ identity: 'rita', roles: ['risk_officer'], active: false });
    await expect(
      apply([{ kind: 'api_key', target: view.id, before, after: { ...before!, roles: ['owner'], active: true } }]),
    ).rejects.toThrow(PolicyChangeRefusedError);
    await apply([{ kind: 'api_key', target: view.id, before, after: { ...before!, active: true } }], pending);
    expect(await authenticateApiKey(d.db, key)).toEqual({
      ok: true,
      identity: { name: 'rita', roles: ['risk_officer'], keyId: view.id },
    });
    expect((await eventsOf(pending)).map((e) => e.kind)).toEqual(['api_key.activated']);

    const active = { identity: 'rita', roles: ['risk_officer' as const], active: true };
    await apply([{ kind: 'api_key', target: view.id, before: active, after: { ...active, active: false } }]);
    expect(await authenticateApiKey(d.db, key)).toEqual({ ok: false, reason: `API key ${view.id} was revoked` });
    const revoked = { ...active, active: false };
    await expect(apply([{ kind: 'api_key', target: view.id, before: revoked, after: active }])).rejects.toThrow(
      PolicyChangeRefusedError,
    );
  });

  it('creates a strategy at L0 only: no upsert raises a level', async () => {
    const strategy = {
      id: 'mr-new',
      enabled: true,
      level: 'L3' as const,
      paused: false,
      pausedReason: null,
      capital: 10_000,
      tokenRequired: false,
      healthFloor: 0.25,
    };
    await expect(upsertStrategy(d.db, strategy, 'ops', 'seed')).rejects.toThrow(StrategyLevelChangeError);
    await expect(upsertStrategy(d.db, strategy, 'ops', 'seed')).rejects.toThrow(/^level: a new strategy starts at L0/);
    expect((await readPolicyDocument(d.db)).strategies['mr-new']).toBeUndefined();
    await upsertStrategy(d.db, { ...strategy, level: 'L0' }, 'ops', 'seed');
    expect((await readPolicyDocument(d.db)).strategies['mr-new']?.level).toBe('L0');
  });
});
