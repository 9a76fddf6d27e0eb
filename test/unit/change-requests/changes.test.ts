import { describe, expect, it, vi } from 'vitest';
import {
  diffPolicyDocuments,
  PartialPolicyDocumentSchema,
  type PolicyChange,
  PolicyChangeSchema,
  type PolicyDocument,
  PolicyDocumentSchema,
} from '../../../src/domain/change-requests/changes';
import { applyControlPlaneChanges } from '../../../src/domain/change-requests/control-plane-calls';
import type { ControlPlanePort } from '../../../src/domain/control-plane/port';

const risk = { maxDailyLoss: 250, maxDailyExposure: 1500, maxOpenRisk: null, maxActionsPerDay: null, enabled: true };
const current: PolicyDocument = {
  version: 1,
  risk: { GLOBAL: risk, WHOLESALE: { ...risk, maxDailyLoss: 200 } },
  tripwires: {
    'WHOLESALE/contract_rate': {
      engine: 'WHOLESALE',
      windowEvents: 50,
      baselineEvents: 200,
      maxDropFraction: 0.2,
      action: 'THROTTLE',
      enabled: false,
    },
  },
  breakers: {
    'High Error Rate': {
      enabled: true,
      condition: 'errorRate > 0.05',
      window: '5m',
      action: 'revert_to_l3',
      alertSeverity: 'high',
    },
  },
  heimdall: {
    BUYER_MATCH: { minConfidenceProd: 0.9, minSandboxTrials: 50, minSandboxSuccessRate: 0.8, prodUseEnabled: false },
  },
  strategies: { 'mr-1': { level: 'L1', enabled: true, capital: 10_000, tokenRequired: false, healthFloor: 0.25 } },
  engines: { WHOLESALE: { executionClass: 'PROD_EXEC', strategyRequired: false, recommendationRequired: false } },
  commandTypes: { SET_POWER: { executionClass: 'SANDBOX_EXEC' } },
  approvers: { tech_lead: ['tess'], ops_lead: ['otto'], product_lead: [], exec_sponsor: [] },
  controlPlane: { goLive: false, applyMode: 'dry_run' },
};

describe('diffPolicyDocuments', () => {
  it('finds nothing between a document and itself, or an empty proposal', () => {
    expect(diffPolicyDocuments(current, current)).toEqual([]);
    expect(diffPolicyDocuments(current, {})).toEqual([]);
  });

  it('ignores key order inside an entry', () => {
    const reordered = Object.fromEntries(Object.entries(risk).reverse()) as typeof risk;
    expect(diffPolicyDocuments(current, { risk: { GLOBAL: reordered } })).toEqual([]);
  });

  it('leaves absent sections and entries unchanged, and gives each changed entry whole, before and after', () => {
    const raised = { ...risk, maxDailyLoss: 400 };
    expect(diffPolicyDocuments(current, { risk: { GLOBAL: raised } })).toEqual([
      { kind: 'risk_policy', target: 'GLOBAL', before: risk, after: raised },
    ]);
  });

  it('gives a new entry a null before', () => {
    const policy = { executionClass: 'OBSERVE_ONLY' as const, strategyRequired: true, recommendationRequired: false };
    expect(diffPolicyDocuments(current, { engines: { CAPITAL: policy } })).toEqual([
      { kind: 'execution_policy', target: 'CAPITAL', before: null, after: policy },
    ]);
  });

  it('turns an approver list into one change per name added or removed', () => {
    expect(diffPolicyDocuments(current, { approvers: { tech_lead: ['tina', 'alf'], product_lead: [] } })).toEqual([
      { kind: 'approver', target: 'tech_lead:alf', before: null, after: { role: 'tech_lead', name: 'alf' } },
      { kind: 'approver', target: 'tech_lead:tess', before: { role: 'tech_lead', name: 'tess' }, after: null },
      { kind: 'approver', target: 'tech_lead:tina', before: null, after: { role: 'tech_lead', name: 'tina' } },
    ]);
  });

  it('lists changes in the document order, keys sorted, the same every time', () => {
    const proposed = {
      controlPlane: { applyMode: 'live' as const, goLive: true },
      heimdall: { BUYER_MATCH: { ...current.heimdall.BUYER_MATCH!, prodUseEnabled: true } },
      risk: { WHOLESALE: { ...risk, maxDailyLoss: 1 }, CAPITAL: risk },
      strategies: { 'mr-1': { ...current.strategies['mr-1']!, level: 'L2' as const } },
      commandTypes: { SET_POWER: { executionClass: 'PROD_EXEC' as const } },
    };
    const order = (changes: PolicyChange[]) => changes.map((c) => `${c.kind} ${c.target}`);
    expect(order(diffPolicyDocuments(current, proposed))).toEqual([
      'risk_policy CAPITAL',
      'risk_policy WHOLESALE',
      'heimdall_policy BUYER_MATCH',
      'strategy mr-1',
      'command_policy SET_POWER',
      'control_plane goLive',
      'control_plane applyMode',
    ]);
    expect(diffPolicyDocuments(current, proposed)).toEqual(diffPolicyDocuments(current, proposed));
  });

  it('produces only changes that PolicyChangeSchema accepts', () => {
    const changes = diffPolicyDocuments(current, {
      breakers: { 'High Error Rate': { ...current.breakers['High Error Rate']!, enabled: false } },
      tripwires: { 'WHOLESALE/contract_rate': { ...current.tripwires['WHOLESALE/contract_rate']!, enabled: true } },
      approvers: { ops_lead: [] },
      controlPlane: { goLive: true },
    });
    expect(changes).toHaveLength(4);
    for (const change of changes) expect(PolicyChangeSchema.parse(change)).toEqual(change);
  });
});

describe('policy documents and changes at the boundary', () => {
  it('accepts a full document, and refuses a partial one as full', () => {
    expect(PolicyDocumentSchema.parse(current)).toEqual(current);
    expect(PolicyDocumentSchema.safeParse({ ...current, controlPlane: undefined }).success).toBe(false);
  });

  it('names the entry and field of a bad value in a policy file', () => {
    const bad = (doc: unknown) =>
      (PartialPolicyDocumentSchema.safeParse(doc).error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(bad({ risk: { GLOBAL: { ...risk, maxDailyLoss: -1 } } })).toEqual([
      'risk.GLOBAL.maxDailyLoss: must be 0 or more',
    ]);
    expect(bad({ risk: { GLOBAL: { ...risk, maxDailyLos: 1 } } })).toEqual([
      'risk.GLOBAL: Unrecognized key: "maxDailyLos"',
    ]);
    expect(bad({ breakers: { x: { ...current.breakers['High Error Rate']!, window: 'soon' } } })).toEqual([
      "breakers.x.window: window 'soon' is not a duration such as 5m or 1h",
    ]);
    expect(bad({ tripwires: { wholesale: current.tripwires['WHOLESALE/contract_rate'] } })).toEqual([
      'tripwires.wholesale: expected DOMAIN/metric, e.g. WHOLESALE/contract_rate',
    ]);
    expect(bad({ approvers: { tech_lead: ['tess', 'tess'] } })).toEqual([
      'approvers.tech_lead: must not name anyone twice',
    ]);
    expect(bad({ controlPlane: { goLive: 'yes' } })).toEqual([
      'controlPlane.goLive: Invalid input: expected boolean, received string',
    ]);
  });

  it('refuses an approver change that adds and removes nothing, or names another entry', () => {
    const entry = { role: 'tech_lead', name: 'tess' };
    expect(
      PolicyChangeSchema.safeParse({ kind: 'approver', target: 'tech_lead:tess', before: null, after: null }).success,
    ).toBe(false);
    expect(
      PolicyChangeSchema.safeParse({ kind: 'approver', target: 'ops_lead:tess', before: null, after: entry }).success,
    ).toBe(false);
    expect(
      PolicyChangeSchema.safeParse({ kind: 'approver', target: 'tech_lead:tess', before: null, after: entry }).success,
    ).toBe(true);
  });

  it('refuses a control-plane change whose value does not fit its target, and a restriction placed unnamed', () => {
    expect(
      PolicyChangeSchema.safeParse({ kind: 'control_plane', target: 'goLive', before: false, after: 'live' }).success,
    ).toBe(false);
    expect(
      PolicyChangeSchema.safeParse({ kind: 'control_plane', target: 'applyMode', before: 'dry_run', after: 'live' })
        .success,
    ).toBe(true);
    const place = { kind: 'restriction', target: 'WHOLESALE', before: null, after: { engine: 'WHOLESALE' } };
    expect(PolicyChangeSchema.safeParse(place).error?.issues[0]?.path).toEqual(['after', 'restriction']);
  });
});

describe('applyControlPlaneChanges', () => {
  const port = () => ({
    setGoLive: vi.fn<ControlPlanePort['setGoLive']>(async () => undefined),
    setApplyMode: vi.fn<ControlPlanePort['setApplyMode']>(async () => undefined),
    clearEngineRestriction: vi.fn<ControlPlanePort['clearEngineRestriction']>(async () => undefined),
    restrictEngine: vi.fn<ControlPlanePort['restrictEngine']>(async () => undefined),
  });
  const ctx = { actor: 'warden:policyChange', changeRequestId: 'cr-0123456789ab' };

  it('sends each change to the control plane in order, carrying the change request id', async () => {
    const p = port();
    await applyControlPlaneChanges(
      p,
      [
        { kind: 'control_plane', target: 'goLive', before: false, after: true },
        { kind: 'control_plane', target: 'applyMode', before: 'dry_run', after: 'live' },
        {
          kind: 'restriction',
          target: '42',
          before: { engine: 'WHOLESALE', restriction: 'throttle', source: 'tripwire' },
          after: null,
        },
        { kind: 'restriction', target: 'CAPITAL', before: { engine: 'CAPITAL', restriction: 'pause' }, after: null },
      ],
      ctx,
    );
    const reason = 'change request cr-0123456789ab';
    expect(p.setGoLive).toHaveBeenCalledWith({
      enabled: true,
      actor: ctx.actor,
      reason,
      changeRequestId: ctx.changeRequestId,
    });
    expect(p.setApplyMode).toHaveBeenCalledWith({
      mode: 'live',
      actor: ctx.actor,
      reason,
      changeRequestId: ctx.changeRequestId,
    });
    expect(p.clearEngineRestriction.mock.calls).toEqual([
      [{ restrictionId: '42', actor: ctx.actor, reason, changeRequestId: ctx.changeRequestId }],
      [{ engine: 'CAPITAL', restriction: 'pause', actor: ctx.actor, reason, changeRequestId: ctx.changeRequestId }],
    ]);
    expect(p.restrictEngine).not.toHaveBeenCalled();
    expect(p.setGoLive.mock.invocationCallOrder[0]).toBeLessThan(p.setApplyMode.mock.invocationCallOrder[0]!);
  });

  it('places a restriction under the request as its source', async () => {
    const p = port();
    await applyControlPlaneChanges(
      p,
      [{ kind: 'restriction', target: 'CAPITAL', before: null, after: { engine: 'CAPITAL', restriction: 'throttle' } }],
      ctx,
    );
    expect(p.restrictEngine).toHaveBeenCalledWith({
      engine: 'CAPITAL',
      restriction: 'throttle',
      source: 'change_request:cr-0123456789ab',
      actor: ctx.actor,
      reason: 'change request cr-0123456789ab',
    });
  });
});
