import { z } from 'zod';
import { watchdogScheduleSettings } from '../../config/index';
import { recordKpiEvent } from '../../db/kpi.repository';
import {
  canaryStates,
  listRegressionPolicies,
  listRestrictions,
  regressionStates,
  resetTripwire,
} from '../../db/watchdogs.repository';
import { ReasonSchema } from '../../domain/control-plane/types';
import { EngineSchema } from '../../domain/risk/rules';
import { MetricSchema, PolicyIdSchema, policyId, type TripwireReport } from '../../domain/watchdogs/tripwire';
import { applyWatchdogSchedules } from '../../temporal/schedules';
import { REGRESSION_TRIPWIRE_WORKFLOW_ID, REGRESSION_TRIPWIRE_WORKFLOW_TYPE } from '../../../workflows/names';
import { operation, runOnce } from './operation';
import { submitChanges } from './submit-changes';

/** The regression tripwire, the infrastructure canary, KPI events, engine restrictions and the schedules. */
export const watchdogOperations = {
  'tripwire.status': operation({
    permission: 'read',
    summary: 'Regression policies with their states, and the active engine restrictions.',
    input: z.strictObject({}),
    run: async ({ db }) => {
      const [policies, states, restrictions] = await Promise.all([
        listRegressionPolicies(db),
        regressionStates(db),
        listRestrictions(db, { activeOnly: true }),
      ]);
      return {
        policies: policies.map((p) => ({ ...p, state: states.find((s) => s.policy === policyId(p)) ?? null })),
        restrictions,
      };
    },
  }),
  'tripwire.policies': operation({
    permission: 'read',
    summary: 'The regression policies.',
    input: z.strictObject({}),
    run: (deps) => listRegressionPolicies(deps.db),
  }),
  'tripwire.evaluate': operation({
    permission: 'engine:restrict',
    summary: 'Run the regression tripwire now (it may throttle, pause or engage the kill switch).',
    input: z.strictObject({}),
    run: (deps) =>
      runOnce<TripwireReport>(deps, REGRESSION_TRIPWIRE_WORKFLOW_TYPE, `${REGRESSION_TRIPWIRE_WORKFLOW_ID}-manual`),
  }),
  'tripwire.reset': operation({
    permission: 'policy:set',
    summary: 'Re-arm a fired tripwire; lifting what it restricted is one change request (someone else approves).',
    input: z.strictObject({ policy: PolicyIdSchema, reason: ReasonSchema }),
    run: async (deps, identity, { policy, reason }) => {
      const actor = identity.name;
      const result = await resetTripwire(deps.db, policy, actor, reason, { liftRestrictions: false });
      // Lifting what it throttled or paused loosens: one change request, for someone else to approve.
      const liftRequest =
        result.toLift.length === 0
          ? null
          : await submitChanges(
              deps,
              identity,
              result.toLift.map((r) => ({ kind: 'restriction' as const, target: r.id, after: null })),
              reason,
            );
      return { policy: result.policy, lifted: liftRequest?.applied ? result.toLift : [], liftRequest };
    },
  }),
  'restrictions.list': operation({
    permission: 'read',
    summary: 'Engine restrictions, active only unless all.',
    input: z.strictObject({ all: z.boolean().default(false) }),
    run: (deps, _identity, { all }) => listRestrictions(deps.db, { activeOnly: !all }),
  }),
  'canary.status': operation({
    permission: 'read',
    summary: "The infrastructure canary's checks.",
    input: z.strictObject({}),
    run: (deps) => canaryStates(deps.db),
  }),
  'kpi.record': operation({
    permission: 'kpi:record',
    summary: 'Record one KPI event (success, value or both), sourced as the caller.',
    input: z
      .strictObject({
        domain: EngineSchema,
        metric: MetricSchema,
        success: z.boolean().optional(),
        value: z.number().finite().optional(),
      })
      .refine((e) => e.success !== undefined || e.value !== undefined, {
        message: 'give success, value or both',
        path: ['success'],
      }),
    run: (deps, identity, event) => recordKpiEvent(deps.db, { ...event, source: `cli:${identity.name}` }),
  }),
  'schedules.apply': operation({
    permission: 'policy:set',
    summary: 'Create or update the watchdog schedules.',
    input: z.strictObject({}),
    run: (deps) => applyWatchdogSchedules(deps.temporal, watchdogScheduleSettings(deps.config)),
  }),
};
