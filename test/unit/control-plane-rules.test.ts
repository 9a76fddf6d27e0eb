import { describe, expect, it } from 'vitest';
import { applyControlPlaneChange, enforceControlPlane } from '../../src/control-plane/rules';
import { type ControlPlaneState, EXECUTION_CLASSES, type ExecutionClass, INITIAL_CONTROL_PLANE_STATE } from '../../src/control-plane/types';

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
    expect(enforceControlPlane('PROD_EXEC', INITIAL_CONTROL_PLANE_STATE)).toMatchObject({ allowed: false, reason: 'go_live_disabled' });
    expect(enforceControlPlane('OBSERVE_ONLY', INITIAL_CONTROL_PLANE_STATE)).toMatchObject({ allowed: true, applyMode: 'dry_run' });
  });
});

describe('applyControlPlaneChange', () => {
  const at = new Date('2026-11-24T10:00:00.000Z');

  it('engages with its source and releases clearing it, bumping the version each time', () => {
    const engaged = applyControlPlaneChange(INITIAL_CONTROL_PLANE_STATE, { kind: 'engageKillSwitch', source: 'canary', actor: 'canary', reason: 'pg down' }, at);
    expect(engaged).toMatchObject({ killSwitchEngaged: true, killSwitchSource: 'canary', reason: 'pg down', updatedBy: 'canary', version: 1, updatedAt: at.toISOString() });
    const released = applyControlPlaneChange(engaged, { kind: 'releaseKillSwitch', actor: 'alice', reason: 'fixed' }, at);
    expect(released).toMatchObject({ killSwitchEngaged: false, killSwitchSource: null, version: 2, updatedBy: 'alice' });
  });

  it('sets go-live and apply mode without touching the kill switch', () => {
    const engaged = { ...INITIAL_CONTROL_PLANE_STATE, killSwitchEngaged: true, killSwitchSource: 'operator' };
    const live = applyControlPlaneChange(engaged, { kind: 'setGoLive', enabled: true, actor: 'bob' }, at);
    expect(live).toMatchObject({ goLiveEnabled: true, killSwitchEngaged: true, killSwitchSource: 'operator', reason: null });
    expect(applyControlPlaneChange(live, { kind: 'setApplyMode', mode: 'live', actor: 'bob', reason: 'ready' }, at)).toMatchObject({
      applyMode: 'live',
      goLiveEnabled: true,
      version: 2,
    });
  });
});
