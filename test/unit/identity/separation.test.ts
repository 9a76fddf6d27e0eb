import { describe, expect, it } from 'vitest';
import { checkSeparation, sameIdentity } from '../../../src/domain/identity/separation';
import { signOffProblem, type StepRecord } from '../../../src/domain/go-live/playbook';

describe('separation of duties', () => {
  it('reads names as people do: case, blanks and compatibility forms make no second person', () => {
    expect(sameIdentity('alice', 'Alice')).toBe(true);
    expect(sameIdentity(' alice ', 'ALICE')).toBe(true);
    expect(sameIdentity('ａｌｉｃｅ', 'alice')).toBe(true);
    expect(sameIdentity('alice', 'alicia')).toBe(false);
  });

  it('refuses whoever is excluded, naming why; anyone else may approve', () => {
    const excluded = [{ actor: 'bob', as: 'requested this deal' }];
    expect(checkSeparation('Bob', excluded)).toEqual({
      ok: false,
      problem: 'actor: Bob requested this deal; approval must come from someone else (separation of duties)',
    });
    expect(checkSeparation('alice', excluded)).toEqual({ ok: true });
    expect(checkSeparation('alice', [])).toEqual({ ok: true });
  });

  it('the playbook sign-off comes from someone who did none of the other steps', () => {
    const step = (s: StepRecord['step'], actor: string): StepRecord => ({
      step: s,
      actor,
      evidence: 'e',
      role: null,
      at: '2026-11-24T10:00:00.000Z',
      band: 'A',
      health: 'GREEN',
    });
    const done = [
      step('preflight', 'olga'),
      step('risk_policies_reviewed', 'pete'),
      step('capital_band_confirmed', 'olga'),
    ];
    expect(signOffProblem(done, 'pete')).toBe(
      'actor: pete did risk_policies_reviewed; approval must come from someone else (separation of duties)',
    );
    expect(signOffProblem(done, 'OLGA')).toMatch(/^actor: OLGA did preflight;/);
    expect(signOffProblem(done, 'mona')).toBeNull();
  });
});
