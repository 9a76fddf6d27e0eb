import { describe, expect, it } from 'vitest';
import type { PolicyChange, PolicyChangeOf } from '../../../src/domain/change-requests/changes';
import { type ClassifyContext, classifyChange, loosens } from '../../../src/domain/change-requests/classify';
import type { BreakerEventState } from '../../../src/domain/change-requests/operational-changes';

// Invariant 8, field by field: what provably reduces risk tightens; everything else loosens.

const ctx: ClassifyContext = { requesterName: 'alice', requesterRoles: ['risk_officer', 'operator'] };
const direction = (change: PolicyChange, c: ClassifyContext = ctx) => classifyChange(change, c).direction;

type Entry<K extends PolicyChange['kind']> = PolicyChangeOf<K>;
const edit = <K extends PolicyChange['kind']>(
  kind: K,
  target: string,
  before: Entry<K>['after'],
  patch: Partial<Entry<K>['after']>,
): PolicyChange => ({ kind, target, before, after: { ...(before as object), ...patch } }) as unknown as PolicyChange;

describe('risk_policy', () => {
  const risk = { maxDailyLoss: 500, maxDailyExposure: 10_000, maxOpenRisk: 2_000, maxActionsPerDay: 50, enabled: true };
  const change = (patch: Partial<typeof risk>, before: typeof risk | null = risk) =>
    before === null
      ? ({ kind: 'risk_policy', target: 'WHOLESALE', before: null, after: { ...risk, ...patch } } as PolicyChange)
      : edit('risk_policy', 'WHOLESALE', before, patch);

  for (const cap of ['maxDailyLoss', 'maxDailyExposure', 'maxOpenRisk', 'maxActionsPerDay'] as const) {
    it(`${cap}: lowered tightens, raised or removed loosens, set where none was tightens`, () => {
      expect(direction(change({ [cap]: risk[cap] - 1 }))).toBe('tighten');
      expect(direction(change({ [cap]: 0 }))).toBe('tighten');
      expect(direction(change({ [cap]: risk[cap] + 1 }))).toBe('loosen');
      expect(direction(change({ [cap]: null }))).toBe('loosen');
      expect(direction(change({ [cap]: 7 }, { ...risk, [cap]: null }))).toBe('tighten');
    });
  }

  it('enabled: off tightens, on loosens', () => {
    expect(direction(change({ enabled: false }))).toBe('tighten');
    expect(direction(change({ enabled: true }, { ...risk, enabled: false }))).toBe('loosen');
  });

  it('exitsIgnoreLossCap: on loosens (exits pass a reached loss cap), off tightens', () => {
    expect(direction(change({ exitsIgnoreLossCap: true } as Partial<typeof risk>))).toBe('loosen');
    expect(
      direction(
        change(
          { exitsIgnoreLossCap: false } as Partial<typeof risk>,
          { ...risk, exitsIgnoreLossCap: true } as typeof risk,
        ),
      ),
    ).toBe('tighten');
  });

  it('a new policy loosens when enabled (a missing one refuses every reserve), tightens when disabled', () => {
    expect(direction(change({}, null))).toBe('loosen');
    expect(direction(change({ enabled: false }, null))).toBe('tighten');
  });

  it('a mixed change loosens and says which field does what', () => {
    const c = classifyChange(change({ maxDailyLoss: 100, maxOpenRisk: 3_000 }), ctx);
    expect(c.direction).toBe('loosen');
    expect(c.why).toEqual([
      'maxDailyLoss 500 → 100: lowers the cap (tightens)',
      'maxOpenRisk 2000 → 3000: raises the cap (loosens)',
    ]);
  });

  it('every field lowered at once tightens', () => {
    expect(
      direction(change({ maxDailyLoss: 1, maxDailyExposure: 1, maxOpenRisk: 1, maxActionsPerDay: 1, enabled: false })),
    ).toBe('tighten');
  });
});

describe('regression_policy (tripwire)', () => {
  const wire: PolicyChangeOf<'regression_policy'>['after'] = {
    engine: 'WHOLESALE',
    windowEvents: 50,
    baselineEvents: 200,
    maxDropFraction: 0.3,
    action: 'THROTTLE',
    enabled: true,
  };
  const change = (patch: Partial<typeof wire>, before = wire) =>
    edit('regression_policy', 'WHOLESALE/roi', before, patch);

  it('maxDropFraction: smaller trips sooner (tightens), larger loosens', () => {
    expect(direction(change({ maxDropFraction: 0.2 }))).toBe('tighten');
    expect(direction(change({ maxDropFraction: 0.5 }))).toBe('loosen');
  });
  it('action: towards KILL_SWITCH tightens, towards THROTTLE loosens', () => {
    expect(direction(change({ action: 'PAUSE' }))).toBe('tighten');
    expect(direction(change({ action: 'REDUCE_ONLY' }))).toBe('tighten');
    expect(direction(change({ action: 'REDUCE_ONLY' }, { ...wire, action: 'KILL_SWITCH' }))).toBe('loosen');
    expect(direction(change({ action: 'KILL_SWITCH' }, { ...wire, action: 'REDUCE_ONLY' }))).toBe('tighten');
    expect(direction(change({ action: 'KILL_SWITCH' }))).toBe('tighten');
    expect(direction(change({ action: 'THROTTLE' }, { ...wire, action: 'KILL_SWITCH' }))).toBe('loosen');
    expect(direction(change({ action: 'PAUSE' }, { ...wire, action: 'KILL_SWITCH' }))).toBe('loosen');
  });
  it('enabled: on tightens, off loosens', () => {
    expect(direction(change({ enabled: false }))).toBe('loosen');
    expect(direction(change({ enabled: true }, { ...wire, enabled: false }))).toBe('tighten');
  });
  it('engine and window sizes are not provably stricter: loosen', () => {
    expect(direction(change({ engine: 'RETAIL' }))).toBe('loosen');
    expect(direction(change({ windowEvents: 10 }))).toBe('loosen');
    expect(direction(change({ windowEvents: 100 }))).toBe('loosen');
    expect(direction(change({ baselineEvents: 100 }))).toBe('loosen');
  });
  it('a baseline reset forgets the old level: loosens; the same reset is no change', () => {
    const since = '2026-11-28T00:00:00.000Z';
    expect(direction(change({ baselineSince: since }))).toBe('loosen');
    expect(direction(change({ baselineSince: since }, { ...wire, baselineSince: since }))).toBe('tighten');
  });
  it('a new tripwire tightens: it only ever stops things', () => {
    expect(direction({ kind: 'regression_policy', target: 'WHOLESALE/roi', before: null, after: wire })).toBe(
      'tighten',
    );
  });
});

describe('breaker_rule', () => {
  const rule: PolicyChangeOf<'breaker_rule'>['after'] = {
    enabled: true,
    condition: 'errorRate > 0.05',
    window: '1h',
    action: 'pause_command_type',
    alertSeverity: 'high',
  };
  const change = (patch: Partial<typeof rule>, before = rule) => edit('breaker_rule', 'errors', before, patch);

  it('enabled: on tightens, off loosens', () => {
    expect(direction(change({ enabled: false }))).toBe('loosen');
    expect(direction(change({ enabled: true }, { ...rule, enabled: false }))).toBe('tighten');
  });
  it('an upper bound trips sooner when lowered or made inclusive', () => {
    expect(direction(change({ condition: 'errorRate > 0.02' }))).toBe('tighten');
    expect(direction(change({ condition: 'errorRate >= 0.05' }))).toBe('tighten');
    expect(direction(change({ condition: 'errorRate >= 0.04' }))).toBe('tighten');
    expect(direction(change({ condition: 'errorRate > 0.1' }))).toBe('loosen');
    expect(direction(change({ condition: 'errorRate > 0.05' }, { ...rule, condition: 'errorRate >= 0.05' }))).toBe(
      'loosen',
    );
    expect(direction(change({ condition: 'errorRate >= 0.06' }))).toBe('loosen');
  });
  it('a lower bound trips sooner when raised or made inclusive', () => {
    const low = { ...rule, condition: 'successRate < 0.9' };
    expect(direction(change({ condition: 'successRate < 0.95' }, low))).toBe('tighten');
    expect(direction(change({ condition: 'successRate <= 0.9' }, low))).toBe('tighten');
    expect(direction(change({ condition: 'successRate < 0.8' }, low))).toBe('loosen');
  });
  it('another metric, or the other direction, loosens; spacing alone changes nothing', () => {
    expect(direction(change({ condition: 'rollbackRate > 0.05' }))).toBe('loosen');
    expect(direction(change({ condition: 'errorRate < 0.05' }))).toBe('loosen');
    expect(classifyChange(change({ condition: 'errorRate>0.05' }), ctx)).toEqual({
      direction: 'tighten',
      why: ['nothing changes'],
    });
  });
  it('window: a longer one tightens a count above a number; anything else loosens', () => {
    const count = { ...rule, condition: 'failures >= 3' };
    expect(direction(change({ window: '2h' }, count))).toBe('tighten');
    expect(direction(change({ window: '30m' }, count))).toBe('loosen');
    expect(direction(change({ window: '2h' }))).toBe('loosen');
    expect(direction(change({ window: '60m' }))).toBe('tighten'); // the same hour, spelt otherwise
  });
  it('action: towards revert_to_l3 tightens; severity: louder tightens', () => {
    expect(direction(change({ action: 'revert_to_l3' }))).toBe('tighten');
    expect(direction(change({ action: 'alert_only' }))).toBe('loosen');
    expect(direction(change({ alertSeverity: 'critical' }))).toBe('tighten');
    expect(direction(change({ alertSeverity: 'low' }))).toBe('loosen');
  });
  it('a new rule tightens', () => {
    expect(direction({ kind: 'breaker_rule', target: 'errors', before: null, after: rule })).toBe('tighten');
  });
});

describe('heimdall_policy', () => {
  const policy = { minConfidenceProd: 0.8, minSandboxTrials: 20, minSandboxSuccessRate: 0.9, prodUseEnabled: true };
  const change = (patch: Partial<typeof policy>, before = policy) => edit('heimdall_policy', 'OFFERS', before, patch);

  for (const field of ['minConfidenceProd', 'minSandboxTrials', 'minSandboxSuccessRate'] as const) {
    it(`${field}: raised tightens, lowered loosens`, () => {
      expect(direction(change({ [field]: policy[field] * 0.5 }))).toBe('loosen');
      expect(direction(change({ [field]: field === 'minSandboxTrials' ? 30 : 0.95 }))).toBe('tighten');
    });
  }
  it('prodUseEnabled: off tightens, on loosens', () => {
    expect(direction(change({ prodUseEnabled: false }))).toBe('tighten');
    expect(direction(change({ prodUseEnabled: true }, { ...policy, prodUseEnabled: false }))).toBe('loosen');
  });
  it('a new policy loosens with prod use on (a missing one refuses), tightens with it off', () => {
    expect(direction({ kind: 'heimdall_policy', target: 'OFFERS', before: null, after: policy })).toBe('loosen');
    expect(
      direction({
        kind: 'heimdall_policy',
        target: 'OFFERS',
        before: null,
        after: { ...policy, prodUseEnabled: false },
      }),
    ).toBe('tighten');
  });
});

describe('strategy', () => {
  const s: PolicyChangeOf<'strategy'>['after'] = {
    level: 'L2',
    enabled: true,
    capital: 10_000,
    tokenRequired: false,
    healthFloor: 0.25,
  };
  const change = (patch: Partial<typeof s>, before = s) => edit('strategy', 'alpha', before, patch);

  it('level: demotion tightens, promotion loosens', () => {
    expect(direction(change({ level: 'L1' }))).toBe('tighten');
    expect(direction(change({ level: 'L0' }))).toBe('tighten');
    expect(direction(change({ level: 'L3' }))).toBe('loosen');
  });
  it('enabled off, less capital, a token required tighten; the reverse loosens', () => {
    expect(direction(change({ enabled: false }))).toBe('tighten');
    expect(direction(change({ enabled: true }, { ...s, enabled: false }))).toBe('loosen');
    expect(direction(change({ capital: 5_000 }))).toBe('tighten');
    expect(direction(change({ capital: 20_000 }))).toBe('loosen');
    expect(direction(change({ tokenRequired: true }))).toBe('tighten');
    expect(direction(change({ tokenRequired: false }, { ...s, tokenRequired: true }))).toBe('loosen');
  });
  it('healthFloor is the least sizing multiplier: raising it sizes up (loosens)', () => {
    expect(direction(change({ healthFloor: 0.5 }))).toBe('loosen');
    expect(direction(change({ healthFloor: 0.1 }))).toBe('tighten');
  });
  it('a new strategy tightens only disabled or at L0', () => {
    const created = (after: typeof s) => direction({ kind: 'strategy', target: 'beta', before: null, after });
    expect(created({ ...s, level: 'L0' })).toBe('tighten');
    expect(created({ ...s, enabled: false })).toBe('tighten');
    expect(created(s)).toBe('loosen');
  });
});

describe('execution_policy and command_policy', () => {
  const engine: PolicyChangeOf<'execution_policy'>['after'] = {
    executionClass: 'SANDBOX_EXEC',
    strategyRequired: false,
    recommendationRequired: false,
  };
  const change = (patch: Partial<typeof engine>, before: typeof engine | null = engine) =>
    before === null
      ? ({
          kind: 'execution_policy',
          target: 'WHOLESALE',
          before: null,
          after: { ...engine, ...patch },
        } as PolicyChange)
      : edit('execution_policy', 'WHOLESALE', before, patch);

  it('executionClass: towards OBSERVE_ONLY tightens, towards PROD_EXEC loosens', () => {
    expect(direction(change({ executionClass: 'OBSERVE_ONLY' }))).toBe('tighten');
    expect(direction(change({ executionClass: 'PROD_EXEC' }))).toBe('loosen');
  });
  it('requiring a gate tightens, no longer requiring it loosens', () => {
    expect(direction(change({ strategyRequired: true }))).toBe('tighten');
    expect(direction(change({ recommendationRequired: true }))).toBe('tighten');
    expect(direction(change({ strategyRequired: false }, { ...engine, strategyRequired: true }))).toBe('loosen');
    expect(direction(change({ recommendationRequired: false }, { ...engine, recommendationRequired: true }))).toBe(
      'loosen',
    );
  });
  it('a new policy is compared with the default (PROD_EXEC, no gate): anything it sets tightens', () => {
    expect(direction(change({}, null))).toBe('tighten');
    expect(direction(change({ executionClass: 'PROD_EXEC', strategyRequired: true }, null))).toBe('tighten');
    expect(classifyChange(change({ executionClass: 'PROD_EXEC' }, null), ctx).why).toEqual(['nothing changes']);
  });
  it('command_policy: towards OBSERVE_ONLY tightens, a new one from PROD_EXEC too; widening loosens', () => {
    const cmd = (
      before: PolicyChangeOf<'command_policy'>['before'],
      executionClass: 'OBSERVE_ONLY' | 'SANDBOX_EXEC' | 'PROD_EXEC',
    ) => direction({ kind: 'command_policy', target: 'restart_service', before, after: { executionClass } });
    expect(cmd(null, 'SANDBOX_EXEC')).toBe('tighten');
    expect(cmd({ executionClass: 'SANDBOX_EXEC' }, 'OBSERVE_ONLY')).toBe('tighten');
    expect(cmd({ executionClass: 'OBSERVE_ONLY' }, 'PROD_EXEC')).toBe('loosen');
  });
});

describe('approver', () => {
  const entry = { role: 'tech_lead' as const, name: 'bob' };
  it('adding loosens, removing tightens', () => {
    expect(direction({ kind: 'approver', target: 'tech_lead:bob', before: null, after: entry })).toBe('loosen');
    expect(direction({ kind: 'approver', target: 'tech_lead:bob', before: entry, after: null })).toBe('tighten');
  });
});

describe('api_key', () => {
  const key = (identity: string, roles: PolicyChangeOf<'api_key'>['after']['roles'], active = true) => ({
    identity,
    roles,
    active,
  });
  const change = (
    before: PolicyChangeOf<'api_key'>['before'],
    after: PolicyChangeOf<'api_key'>['after'],
  ): PolicyChange => ({ kind: 'api_key', target: '0123456789ab', before, after });

  it('revoking tightens; creating or keeping an inactive key changes nothing risky', () => {
    expect(direction(change(key('bob', ['owner']), key('bob', ['owner'], false)))).toBe('tighten');
    expect(direction(change(null, key('bob', ['owner'], false)))).toBe('tighten');
  });
  it('activating the requester own key with held roles tightens; with a role not held loosens', () => {
    expect(direction(change(key('alice', ['operator'], false), key('alice', ['operator'])))).toBe('tighten');
    expect(direction(change(null, key('alice', ['risk_officer', 'operator'])))).toBe('tighten');
    const c = classifyChange(change(key('alice', ['owner'], false), key('alice', ['owner'])), ctx);
    expect(c.direction).toBe('loosen');
    expect(c.why[0]).toContain('owner not held by the requester');
  });
  it('a key in someone else name loosens even with the requester roles (one person would approve as two)', () => {
    expect(direction(change(key('bob', ['operator'], false), key('bob', ['operator'])))).toBe('loosen');
    expect(direction(change(null, key('Bob', ['operator'])))).toBe('loosen');
    expect(direction(change(key('alice', ['operator']), key('bob', ['operator'])))).toBe('loosen');
  });
  it('roles: taking one away tightens, adding one the requester lacks loosens', () => {
    expect(direction(change(key('bob', ['operator', 'owner']), key('bob', ['operator'])))).toBe('tighten');
    expect(direction(change(key('alice', ['operator']), key('alice', ['operator', 'manager'])))).toBe('loosen');
    expect(direction(change(key('alice', ['operator']), key('alice', ['operator', 'risk_officer'])))).toBe('tighten');
  });
  it('the same identity in another spelling is the same person', () => {
    expect(direction(change(null, key(' ALICE ', ['operator'])))).toBe('tighten');
  });
  it('a requester with no verified roles grants none', () => {
    expect(direction(change(null, key('alice', ['operator'])), { requesterName: 'alice', requesterRoles: [] })).toBe(
      'loosen',
    );
  });
});

describe('control_plane', () => {
  it('goLive: off tightens, on loosens', () => {
    expect(direction({ kind: 'control_plane', target: 'goLive', before: true, after: false })).toBe('tighten');
    expect(direction({ kind: 'control_plane', target: 'goLive', before: false, after: true })).toBe('loosen');
  });
  it('applyMode: towards dry_run tightens, towards live loosens', () => {
    const mode = (before: 'dry_run' | 'testnet' | 'live', after: 'dry_run' | 'testnet' | 'live') =>
      direction({ kind: 'control_plane', target: 'applyMode', before, after });
    expect(mode('live', 'testnet')).toBe('tighten');
    expect(mode('live', 'dry_run')).toBe('tighten');
    expect(mode('testnet', 'dry_run')).toBe('tighten');
    expect(mode('dry_run', 'testnet')).toBe('loosen');
    expect(mode('testnet', 'live')).toBe('loosen');
  });
});

describe('restriction', () => {
  it('placing tightens, clearing loosens', () => {
    expect(
      direction({
        kind: 'restriction',
        target: 'WHOLESALE',
        before: null,
        after: { engine: 'WHOLESALE', restriction: 'pause' },
      }),
    ).toBe('tighten');
    expect(
      direction({
        kind: 'restriction',
        target: '42',
        before: { engine: 'WHOLESALE', restriction: 'pause' },
        after: null,
      }),
    ).toBe('loosen');
    expect(direction({ kind: 'restriction', target: 'WHOLESALE', before: { engine: 'WHOLESALE' }, after: null })).toBe(
      'loosen',
    );
  });
});

describe('operational state (invariant 8)', () => {
  const terms = { strategyId: 's1', symbols: ['*'], maxNotional: 500, actions: ['buy' as const], ttlSeconds: 60 };
  it('issuing an execution token loosens', () => {
    const id = '3f1c1d6e-8c5d-4a43-9a55-0e3c3f6f2d11';
    expect(direction({ kind: 'execution_token', target: id, before: null, after: terms })).toBe('loosen');
  });

  it("a strategy's pause: pausing tightens, lifting it loosens, a new reason changes nothing that matters", () => {
    const paused = { paused: true, reason: 'drift' };
    const running = { paused: false, reason: null };
    const pause = (before: typeof paused | typeof running | null, after: typeof paused | typeof running) =>
      direction({ kind: 'strategy_pause', target: 's1', before, after });
    expect(pause(running, paused)).toBe('tighten');
    expect(pause(paused, running)).toBe('loosen');
    expect(pause(paused, { paused: true, reason: 'still drifting' })).toBe('tighten');
    expect(pause(null, running)).toBe('loosen');
  });

  it('resolving a breaker event loosens when it lifts a command-type pause, tightens otherwise (the rule may trip again)', () => {
    const open: BreakerEventState = {
      rule: 'r',
      action: 'pause_command_type',
      commandType: 'deploy',
      resolved: false,
      resolution: null,
    };
    const resolve = (before: BreakerEventState) =>
      direction({
        kind: 'breaker_event',
        target: '7',
        before,
        after: { ...before, resolved: true, resolution: 'fixed' },
      });
    expect(resolve(open)).toBe('loosen');
    expect(resolve({ ...open, action: 'alert_only', commandType: null })).toBe('tighten');
    expect(resolve({ ...open, action: 'revert_to_l3', commandType: null })).toBe('tighten');
  });

  it('a position: towards zero tightens; away from zero, new, or across zero loosens', () => {
    const set = (before: number, after: number) =>
      direction({ kind: 'position', target: 'strategy:s1:BTCUSDT', before, after });
    expect(set(100, 40)).toBe('tighten');
    expect(set(-100, -40)).toBe('tighten');
    expect(set(100, 0)).toBe('tighten');
    expect(set(100, 150)).toBe('loosen');
    expect(set(-100, -150)).toBe('loosen');
    expect(set(0, 10)).toBe('loosen');
    expect(set(100, -40)).toBe('loosen');
  });
});

describe('a request', () => {
  it('loosens when any change does', () => {
    expect(loosens([{ direction: 'tighten', why: [] }])).toBe(false);
    expect(
      loosens([
        { direction: 'tighten', why: [] },
        { direction: 'loosen', why: [] },
      ]),
    ).toBe(true);
  });
  it('a kind the rule does not know loosens', () => {
    expect(direction({ kind: 'teleport', target: 'x', before: null, after: {} } as unknown as PolicyChange)).toBe(
      'loosen',
    );
  });
});

describe('deal_release', () => {
  it('loosens: it frees a reservation on the word that the order did not execute', () => {
    const release: PolicyChange = {
      kind: 'deal_release',
      target: 'd1',
      before: 'needs_reconciliation',
      after: 'released',
    };
    expect(direction(release)).toBe('loosen');
    expect(classifyChange(release, ctx).why).toEqual([
      "releases deal d1's reservation as not executed (its claim is needs_reconciliation) (loosens)",
    ]);
  });
});

describe('command_policy', () => {
  const policy = { executionClass: 'PROD_EXEC' as const };
  const change = (after: object, before: object | null = policy): PolicyChange =>
    ({ kind: 'command_policy', target: 'SHUTDOWN', before, after: { ...policy, ...after } }) as unknown as PolicyChange;

  it('safeInReduce: marking a type safe in reduce mode loosens, unmarking it tightens', () => {
    expect(direction(change({ safeInReduce: true }))).toBe('loosen');
    expect(direction(change({ safeInReduce: false }, { ...policy, safeInReduce: true }))).toBe('tighten');
    expect(direction(change({ executionClass: 'OBSERVE_ONLY', safeInReduce: true }, null))).toBe('loosen');
  });
});
