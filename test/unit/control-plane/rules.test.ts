import { describe, expect, it } from 'vitest';
import {
  type ChangeContext,
  decideControlPlaneChange,
  enforceControlPlane,
} from '../../../src/domain/control-plane/rules';
import {
  type ControlPlaneState,
  EXECUTION_CLASSES,
  type ExecutionClass,
  INITIAL_CONTROL_PLANE_STATE,
} from '../../../src/domain/control-plane/types';
import { bandWithin, classifyBand } from '../../../src/domain/capital/bands';
import type { Role } from '../../../src/domain/identity/roles';

const state = (goLiveEnabled: boolean, killSwitchEngaged: boolean): ControlPlaneState => ({
  ...INITIAL_CONTROL_PLANE_STATE,
  goLiveEnabled,
  killSwitchEngaged,
  killSwitchSource: killSwitchEngaged ? 'tripwire' : null,
  reason: killSwitchEngaged ? 'roi dropped 40%' : null,
  applyMode: 'testnet',
});

// Every cell of execution class × (go-live, kill switch): seed 000 Lever 1.
const table: [ExecutionClass, boolean, boolean, 'allow' | 'go_live_disabled' | 'kill_switch_engaged'][] = [
  ['OBSERVE_ONLY', false, false, 'allow'],
  ['OBSERVE_ONLY', false, true, 'allow'],
  ['OBSERVE_ONLY', true, false, 'allow'],
  ['OBSERVE_ONLY', true, true, 'allow'],
  ['SANDBOX_EXEC', false, false, 'go_live_disabled'],
  ['SANDBOX_EXEC', false, true, 'go_live_disabled'],
  ['SANDBOX_EXEC', true, false, 'allow'],
  ['SANDBOX_EXEC', true, true, 'allow'],
  ['PROD_EXEC', false, false, 'go_live_disabled'],
  ['PROD_EXEC', false, true, 'go_live_disabled'],
  ['PROD_EXEC', true, false, 'allow'],
  ['PROD_EXEC', true, true, 'kill_switch_engaged'],
];

describe('enforceControlPlane', () => {
  it('covers every class × state cell', () => {
    expect(new Set(table.map(([c, g, k]) => `${c}/${g}/${k}`)).size).toBe(EXECUTION_CLASSES.length * 4);
  });

  it.each(table)('%s with go-live=%s, kill switch=%s → %s', (executionClass, goLive, kill, expected) => {
    const decision = enforceControlPlane(executionClass, state(goLive, kill));
    if (expected === 'allow') {
      expect(decision).toEqual({ allowed: true, executionClass, applyMode: 'testnet' });
    } else {
      expect(decision).toMatchObject({ allowed: false, executionClass, reason: expected });
    }
  });

  it('names the kill switch source and reason when it blocks', () => {
    const decision = enforceControlPlane('PROD_EXEC', state(true, true));
    expect(decision).toMatchObject({ allowed: false, detail: 'kill switch engaged by tripwire: roi dropped 40%' });
  });

  it('the safe default blocks everything but observation', () => {
    expect(enforceControlPlane('PROD_EXEC', INITIAL_CONTROL_PLANE_STATE)).toMatchObject({
      allowed: false,
      reason: 'go_live_disabled',
    });
    expect(enforceControlPlane('OBSERVE_ONLY', INITIAL_CONTROL_PLANE_STATE)).toMatchObject({
      allowed: true,
      applyMode: 'dry_run',
    });
  });
});

describe('decideControlPlaneChange', () => {
  const at = new Date('2026-11-24T10:00:00.000Z');
  const ctx = (over: Partial<ChangeContext> = {}): ChangeContext => ({
    at,
    release: { cooldown: '15m', approvals: 1 },
    playbookCompletedAt: '2026-11-20T09:00:00.000Z',
    lastGoLiveOffAt: null,
    capital: { band: 'A', usage: 0.1 },
    ...over,
  });
  const engage = (state = INITIAL_CONTROL_PLANE_STATE, when = at) =>
    decideControlPlaneChange(
      state,
      { kind: 'engageKillSwitch', source: 'canary', actor: 'carol', reason: 'pg down' },
      ctx({ at: when }),
    ).next;
  const vote = (actor: string, role: Role, decline = false) => ({ actor, role, decline });
  const release = (
    state: ControlPlaneState,
    v: ReturnType<typeof vote>,
    minutesLater: number,
    over: Partial<ChangeContext> = {},
  ) =>
    decideControlPlaneChange(
      state,
      {
        kind: v.decline ? 'declineKillSwitchRelease' : 'releaseKillSwitch',
        actor: v.actor,
        role: v.role,
        reason: 'checked',
      },
      ctx({ at: new Date(at.getTime() + minutesLater * 60_000), vote: v, ...over }),
    );

  it('engages at once, recording who and when, and bumps the version', () => {
    expect(engage()).toMatchObject({
      killSwitchEngaged: true,
      killSwitchSource: 'canary',
      killSwitchEngagedBy: 'carol',
      killSwitchEngagedAt: at.toISOString(),
      version: 1,
      releaseApprovals: [],
    });
  });

  it('releases only for an approver role, after the cooldown, not by the engager', () => {
    const engaged = engage();
    expect(release(engaged, vote('dave', 'operator'), 30).outcome).toEqual({
      status: 'refused',
      reason: expect.stringMatching(/^role: operator may not approve/),
    });
    expect(release(engaged, vote('rita', 'risk_officer'), 5).outcome).toEqual({
      status: 'refused',
      reason: expect.stringMatching(/^cooldown: .* from 2026-11-24T10:15:00.000Z/),
    });
    expect(release(engaged, vote('carol', 'manager'), 30).outcome).toEqual({
      status: 'refused',
      reason: expect.stringMatching(/^actor: carol engaged the kill switch/),
    });
    const refused = release(engaged, vote('rita', 'risk_officer'), 5);
    expect(refused.next).toBe(engaged);
    expect(refused.auditKind).toBe('control_plane.change_refused');
    const released = release(engaged, vote('rita', 'risk_officer'), 15);
    expect(released.outcome).toEqual({ status: 'applied' });
    expect(released.next).toMatchObject({
      killSwitchEngaged: false,
      killSwitchSource: null,
      killSwitchEngagedAt: null,
      version: 2,
      updatedBy: 'rita',
    });
  });

  it('the engager never approves the release, however the name is spelt, but may decline it', () => {
    for (const name of ['carol', 'Carol', ' CAROL ', 'ｃａｒｏｌ'])
      expect(release(engage(), vote(name, 'owner'), 20).outcome).toEqual({
        status: 'refused',
        reason: `actor: ${name} engaged the kill switch; approval must come from someone else (separation of duties)`,
      });
    expect(release(engage(), vote('carol', 'owner', true), 20).auditKind).toBe(
      'control_plane.kill_switch_release_declined',
    );
  });

  it('needs the configured number of distinct approvals, and any decline discards them', () => {
    const policy = { release: { cooldown: '0s', approvals: 2 } };
    const first = release(engage(), vote('rita', 'risk_officer'), 1, policy);
    expect(first.outcome).toEqual({ status: 'pending', detail: '1 of 2 approvals' });
    expect(first.next.releaseApprovals).toEqual([
      { actor: 'rita', role: 'risk_officer', at: '2026-11-24T10:01:00.000Z' },
    ]);
    expect(release(first.next, vote('rita', 'risk_officer'), 2, policy).outcome).toMatchObject({
      status: 'refused',
      reason: 'actor: rita has already approved this release',
    });
    const declined = release(first.next, vote('mona', 'manager', true), 2, policy);
    expect(declined.next).toMatchObject({ killSwitchEngaged: true, releaseApprovals: [] });
    expect(declined.auditKind).toBe('control_plane.kill_switch_release_declined');
    const again = release(
      release(declined.next, vote('rita', 'risk_officer'), 3, policy).next,
      vote('olga', 'owner'),
      4,
      policy,
    );
    expect(again.next).toMatchObject({ killSwitchEngaged: false });
  });

  it('a vote whose token failed does not count', () => {
    const engaged = engage();
    const refused = decideControlPlaneChange(
      engaged,
      { kind: 'releaseKillSwitch', actor: 'rita', reason: 'ok', token: 'x' },
      ctx({ at: new Date(at.getTime() + 3_600_000), vote: { refused: 'token: expired at …' } }),
    );
    expect(refused.outcome).toEqual({ status: 'refused', reason: 'token: expired at …' });
  });

  it('refuses go-live until a playbook completed; apply mode and go-live leave the kill switch alone', () => {
    expect(
      decideControlPlaneChange(
        INITIAL_CONTROL_PLANE_STATE,
        { kind: 'setGoLive', enabled: true, actor: 'bob' },
        ctx({ playbookCompletedAt: null }),
      ).outcome,
    ).toMatchObject({
      status: 'refused',
      reason: expect.stringMatching(/^enabled: go-live needs a completed goLivePlaybook/),
    });
    expect(
      decideControlPlaneChange(
        INITIAL_CONTROL_PLANE_STATE,
        { kind: 'setGoLive', enabled: false, actor: 'bob' },
        ctx({ playbookCompletedAt: null }),
      ).outcome,
    ).toEqual({ status: 'applied' });
    const engaged = engage();
    const approved = (after: unknown, target: string) => ({
      changeRequest: {
        id: 'cr-1',
        status: 'applied',
        changes: [{ kind: 'control_plane', target, before: null, after }],
      },
      spent: [],
    });
    const live = decideControlPlaneChange(
      engaged,
      { kind: 'setGoLive', enabled: true, actor: 'bob', changeRequestId: 'cr-1' },
      ctx({ authority: approved(true, 'goLive') }),
    ).next;
    expect(live).toMatchObject({
      goLiveEnabled: true,
      killSwitchEngaged: true,
      killSwitchSource: 'canary',
      reason: null,
    });
    expect(
      decideControlPlaneChange(
        live,
        { kind: 'setApplyMode', mode: 'live', actor: 'bob', reason: 'ready', changeRequestId: 'cr-1' },
        ctx({ authority: approved('live', 'applyMode') }),
      ).next,
    ).toMatchObject({ applyMode: 'live', goLiveEnabled: true, version: 3 });
  });

  it('a re-measured band changes the state only when it moved', () => {
    const same = decideControlPlaneChange(
      INITIAL_CONTROL_PLANE_STATE,
      { kind: 'refreshCapitalBand', actor: 'risk-guard' },
      ctx(),
    );
    expect(same.next.version).toBe(0);
    const moved = decideControlPlaneChange(
      INITIAL_CONTROL_PLANE_STATE,
      { kind: 'refreshCapitalBand', actor: 'risk-guard' },
      ctx({ capital: { band: 'C', usage: 0.6 } }),
    );
    expect(moved.next).toMatchObject({
      capitalBand: 'C',
      capitalUsage: 0.6,
      version: 1,
      reason: 'capital usage 60.0%',
    });
  });
});

describe('capital bands', () => {
  it('classifies usage against the thresholds; no cap reads as D', () => {
    const t = { B: 0.25, C: 0.5, D: 0.75 };
    expect([0, 0.249, 0.25, 0.5, 0.74, 0.75, 2].map((u) => classifyBand(u, t))).toEqual([
      'A',
      'A',
      'B',
      'C',
      'C',
      'D',
      'D',
    ]);
    expect(classifyBand(null, t)).toBe('D');
    expect(bandWithin('B', 'C')).toBe(true);
    expect(bandWithin('D', 'B')).toBe(false);
  });
});
