import { describe, expect, it } from 'vitest';
import { CAPITAL_BANDS, type CapitalBand } from '../../../src/domain/capital/bands';
import {
  checkStepRequest,
  decideStep,
  type GoLiveConditions,
  PLAYBOOK,
  type PlaybookProgress,
  type StepRecord,
} from '../../../src/domain/go-live/playbook';

const progressAt = (index: number): PlaybookProgress => ({
  playbookId: 'go-live-playbook',
  status: 'in_progress',
  startedBy: 'olga',
  startedAt: '2026-11-24T08:00:00.000Z',
  completedAt: null,
  done: PLAYBOOK.slice(0, index).map((s): StepRecord => ({
    step: s.id,
    actor: 'olga',
    evidence: 'x',
    role: null,
    at: '2026-11-24T09:00:00.000Z',
    band: 'A',
    health: 'GREEN',
  })),
  nextStep: PLAYBOOK[index]?.id ?? null,
  abandoned: null,
  refusals: [],
});
const conditions = (band: CapitalBand, health: GoLiveConditions['health']): GoLiveConditions => ({
  band,
  health,
  healthReasons: health === 'GREEN' ? [] : ['kill_switch_engaged: drill'],
  approver: { ok: true, actor: 'olga', role: 'manager' },
});
const payloadFor = (index: number) => ({ step: PLAYBOOK[index]!.id, actor: 'olga', evidence: 'x', role: 'manager' });

describe('go-live playbook rules', () => {
  it.each(PLAYBOOK.map((step, index) => [step.id, index] as const))(
    '%s: accepted in bands up to its worst, refused past it and while RED unless preflight',
    (_id, index) => {
      const step = PLAYBOOK[index]!;
      for (const band of CAPITAL_BANDS) {
        const decision = decideStep(progressAt(index), step, conditions(band, 'YELLOW'), payloadFor(index));
        const tolerated = CAPITAL_BANDS.indexOf(band) <= CAPITAL_BANDS.indexOf(step.worstBand);
        expect(decision).toEqual(
          tolerated
            ? { accepted: true }
            : {
                accepted: false,
                reason: 'band_exceeded',
                detail: `capital band ${band} is past ${step.worstBand}, the worst ${step.id} tolerates`,
              },
        );
      }
      const red = decideStep(progressAt(index), step, conditions('A', 'RED'), payloadFor(index));
      expect(red.accepted).toBe(step.id === 'preflight');
    },
  );

  it('takes the steps in order only, and none once the playbook is closed', () => {
    expect(checkStepRequest(progressAt(2), payloadFor(3))).toMatchObject({
      ok: false,
      reason: 'out_of_order',
      problem: "step: 'watchdogs_running' is out of order; the next step is 'prod_gates_reviewed'",
    });
    expect(checkStepRequest(progressAt(2), payloadFor(1))).toMatchObject({
      ok: false,
      problem: "step: 'risk_policies_reviewed' is already done; the next step is 'prod_gates_reviewed'",
    });
    expect(checkStepRequest({ ...progressAt(9), status: 'completed' }, payloadFor(8))).toMatchObject({
      ok: false,
      reason: 'playbook_closed',
    });
    expect(checkStepRequest(progressAt(2), { ...payloadFor(2), role: undefined })).toMatchObject({ ok: true });
    expect(checkStepRequest(progressAt(8), { ...payloadFor(8), role: 'analyst' })).toMatchObject({
      ok: false,
      reason: 'approver_required',
      problem: expect.stringMatching(/^role: /),
    });
  });

  it('a step whose credentials were checked counts only if they hold, approver step or not', () => {
    const refused = { ok: false as const, problem: 'token: expired at 2026-11-24T09:00:00.000Z' };
    for (const index of [0, 8]) {
      expect(
        decideStep(
          progressAt(index),
          PLAYBOOK[index]!,
          { ...conditions('A', 'GREEN'), approver: refused },
          payloadFor(index),
        ),
      ).toEqual({ accepted: false, reason: 'approver_required', detail: refused.problem });
    }
    // Unchecked (unsigned, no token): an ordinary step needs none.
    expect(
      decideStep(progressAt(0), PLAYBOOK[0]!, { ...conditions('A', 'GREEN'), approver: null }, payloadFor(0)),
    ).toEqual({ accepted: true });
  });
});
