import { type Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy, type ScheduleOptions } from '@temporalio/client';
import type { CanaryInput } from '../domain/watchdogs/canary';
import {
  GOVERNANCE_CYCLE_WORKFLOW_ID,
  GOVERNANCE_CYCLE_WORKFLOW_TYPE,
  INFRASTRUCTURE_CANARY_WORKFLOW_ID,
  INFRASTRUCTURE_CANARY_WORKFLOW_TYPE,
  REGRESSION_TRIPWIRE_WORKFLOW_ID,
  REGRESSION_TRIPWIRE_WORKFLOW_TYPE,
  RESERVATION_SWEEP_WORKFLOW_ID,
  RESERVATION_SWEEP_WORKFLOW_TYPE,
  WEEKLY_GOVERNANCE_KICKOFF_WORKFLOW_ID,
  WEEKLY_GOVERNANCE_KICKOFF_WORKFLOW_TYPE,
} from '../../workflows/names';

/** Public names: operators trigger and pause these with `temporal schedule …`. */
export const TRIPWIRE_SCHEDULE_ID = 'warden-regression-tripwire';
export const CANARY_SCHEDULE_ID = 'warden-infrastructure-canary';
export const GOVERNANCE_CYCLE_SCHEDULE_ID = 'warden-governance-cycle';
export const RESERVATION_SWEEP_SCHEDULE_ID = 'warden-reservation-sweep';
export const WEEKLY_GOVERNANCE_SCHEDULE_ID = 'warden-weekly-governance';

export interface WatchdogScheduleSettings {
  taskQueue: string;
  tripwireEvery: string;
  canaryEvery: string;
  canary: CanaryInput;
  /** Cron, UTC; seed 002 runs the cycle on Friday end of day. */
  governanceCycleCron?: string;
  /** Cron, UTC, that starts each week's weeklyGovernance (Monday 00:00 by default). */
  weeklyGovernanceCron?: string;
}

function schedules(settings: WatchdogScheduleSettings): ScheduleOptions[] {
  return [
    {
      scheduleId: TRIPWIRE_SCHEDULE_ID,
      spec: { intervals: [{ every: settings.tripwireEvery }] },
      action: {
        type: 'startWorkflow',
        workflowType: REGRESSION_TRIPWIRE_WORKFLOW_TYPE,
        workflowId: REGRESSION_TRIPWIRE_WORKFLOW_ID,
        taskQueue: settings.taskQueue,
        args: [],
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      memo: { purpose: 'seed 000 Lever 4: regression tripwire' },
    },
    {
      scheduleId: CANARY_SCHEDULE_ID,
      spec: { intervals: [{ every: settings.canaryEvery }] },
      action: {
        type: 'startWorkflow',
        workflowType: INFRASTRUCTURE_CANARY_WORKFLOW_TYPE,
        workflowId: INFRASTRUCTURE_CANARY_WORKFLOW_ID,
        taskQueue: settings.taskQueue,
        args: [settings.canary],
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      memo: { purpose: 'seed 001: infrastructure canary' },
    },
    {
      scheduleId: GOVERNANCE_CYCLE_SCHEDULE_ID,
      spec: { cronExpressions: [settings.governanceCycleCron ?? '0 23 * * 5'] },
      action: {
        type: 'startWorkflow',
        workflowType: GOVERNANCE_CYCLE_WORKFLOW_TYPE,
        workflowId: GOVERNANCE_CYCLE_WORKFLOW_ID,
        taskQueue: settings.taskQueue,
        args: [],
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
      memo: { purpose: 'seed 002: weekly governance cycle' },
    },
    {
      scheduleId: WEEKLY_GOVERNANCE_SCHEDULE_ID,
      spec: { cronExpressions: [settings.weeklyGovernanceCron ?? '0 0 * * 1'] },
      action: {
        type: 'startWorkflow',
        workflowType: WEEKLY_GOVERNANCE_KICKOFF_WORKFLOW_TYPE,
        workflowId: WEEKLY_GOVERNANCE_KICKOFF_WORKFLOW_ID,
        taskQueue: settings.taskQueue,
        args: [],
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
      memo: { purpose: 'issue 19: one weeklyGovernance workflow per ISO week' },
    },
  ];
}

/** Creates the watchdog schedules, or brings existing ones up to date: safe to run at every start. */
export async function applyWatchdogSchedules(
  client: Client,
  settings: WatchdogScheduleSettings,
): Promise<{ created: string[]; updated: string[] }> {
  const outcome = { created: [] as string[], updated: [] as string[] };
  for (const options of schedules(settings)) outcome[await applySchedule(client, options)].push(options.scheduleId);
  return outcome;
}

/** Creates one schedule, or brings an existing one's spec, action and policies up to date. */
async function applySchedule(client: Client, options: ScheduleOptions): Promise<'created' | 'updated'> {
  try {
    await client.schedule.create(options);
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    await client.schedule.getHandle(options.scheduleId).update((previous) => ({
      ...previous,
      spec: options.spec,
      action: options.action,
      policies: { ...previous.policies, ...options.policies },
    }));
    return 'updated';
  }
}

/**
 * The reservation sweep's Schedule: releases (or flags for reconciliation) what
 * closed deal workflows still hold. Created or updated idempotently, like the
 * watchdogs'; `temporal schedule trigger --schedule-id warden-reservation-sweep` runs it now.
 */
export async function applyReservationSweepSchedule(
  client: Client,
  settings: { taskQueue: string; every?: string },
): Promise<'created' | 'updated'> {
  const options: ScheduleOptions = {
    scheduleId: RESERVATION_SWEEP_SCHEDULE_ID,
    spec: { intervals: [{ every: settings.every ?? '5 minutes' }] },
    action: {
      type: 'startWorkflow',
      workflowType: RESERVATION_SWEEP_WORKFLOW_TYPE,
      workflowId: RESERVATION_SWEEP_WORKFLOW_ID,
      taskQueue: settings.taskQueue,
      args: [],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    memo: { purpose: 'issue 13: release what closed deal workflows still hold' },
  };
  return applySchedule(client, options);
}
