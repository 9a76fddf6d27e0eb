import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  type WorkflowHandleWithFirstExecutionRunId,
  WorkflowIdConflictPolicy,
} from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/workflow';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { controlPlane } from '../../workflows/control-plane';
import type { dealExecution } from '../../workflows/deal-execution';
import type { notificationDispatch } from '../../workflows/notification-dispatch';
import {
  changeControlPlaneUpdate,
  controlPlaneStateQuery,
  dealProgressQuery,
  refreshCapitalBandSignal,
  engageKillSwitchSignal,
  releaseKillSwitchSignal,
  setApplyModeSignal,
  setGoLiveSignal,
} from '../../workflows/messages';
import { CONTROL_PLANE_WORKFLOW_ID, DEFAULT_TASK_QUEUE } from '../domain/control-plane/ids';
import { NOTIFICATION_DISPATCH_WORKFLOW_ID, NOTIFICATION_DISPATCH_WORKFLOW_TYPE } from '../domain/notifications/dispatch';
import {
  ActorSchema,
  type ChangeControlPlaneInput,
  ChangeControlPlaneInputSchema,
  type ChangeResult,
  type ControlPlaneView,
  RefreshCapitalBandInputSchema,
  type EngageKillSwitchInput,
  EngageKillSwitchInputSchema,
  type ReleaseKillSwitchInput,
  ReleaseKillSwitchInputSchema,
  type SetApplyModeInput,
  SetApplyModeInputSchema,
  type SetGoLiveInput,
  SetGoLiveInputSchema,
} from '../domain/control-plane/types';
import type { Database } from '../db/database';
import { createRecommendation, type Recommendation, recordSandboxTrial } from '../db/heimdall.repository';
import { recordKpiEvent } from '../db/kpi.repository';
import { type DealInput, DealInputSchema, type DealProgress, type DealResult, dealWorkflowId } from '../domain/deals/types';
import { ConfidenceSchema, DomainSchema, type Scorecard } from '../domain/prod-eligibility/rules';
import { describeIssues } from '../domain/shared/validation';
import { randomUUID } from 'node:crypto';
import type { goLivePlaybook } from '../../workflows/go-live-playbook';
import type { operatorSession } from '../../workflows/operator-session';
import { abandonPlaybookUpdate, completePlaybookStepUpdate, endSessionUpdate, playbookProgressQuery, sessionQuery } from '../../workflows/messages';
import { GO_LIVE_PLAYBOOK_WORKFLOW_ID, GO_LIVE_PLAYBOOK_WORKFLOW_TYPE, OPERATOR_SESSION_WORKFLOW_TYPE, operatorSessionWorkflowId } from '../domain/go-live/ids';
import {
  type AbandonPayload,
  AbandonPayloadSchema,
  type CompleteStepPayload,
  CompleteStepPayloadSchema,
  type PlaybookInput,
  PlaybookInputSchema,
  type PlaybookProgress,
  type StepResult,
} from '../domain/go-live/playbook';
import { EndSessionPayloadSchema, OperatorSchema, OperatorSessionInputSchema, type OperatorSessionView } from '../domain/go-live/sessions';

export class InvalidRequestError extends Error {
  override name = 'InvalidRequestError';
}

function validate<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InvalidRequestError(`invalid ${what}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** A deal with this id was already started: Warden never runs one deal twice. */
export class DealAlreadyStartedError extends Error {
  override name = 'DealAlreadyStartedError';
  constructor(readonly dealId: string) {
    super(`deal ${dealId} was already started (workflow ${dealWorkflowId(dealId)})`);
  }
}

/** A playbook or an operator's session with this id is already running. */
export class AlreadyRunningError extends Error {
  override name = 'AlreadyRunningError';
}

/** The operation needs Warden's database, and this client was made without one. */
export class DatabaseRequiredError extends Error {
  override name = 'DatabaseRequiredError';
}

const KpiInputSchema = z.strictObject({
  domain: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'expected a domain in capitals, e.g. WHOLESALE'),
  metric: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'expected a metric name in snake_case, e.g. contract_rate'),
  success: z.boolean().optional(),
  value: z.number().finite().optional(),
  at: z.date().optional(),
  source: z.string().min(1).max(200).default('producer'),
  key: z.string().min(1).max(200).optional(),
}).refine((k) => k.success !== undefined || k.value !== undefined, { message: 'give success, value or both', path: ['success'] });
export type KpiInput = z.input<typeof KpiInputSchema>;

const RecommendationInputSchema = z.strictObject({
  domain: DomainSchema,
  confidence: ConfidenceSchema,
  payload: z.record(z.string(), z.unknown()).optional(),
  actor: ActorSchema,
  id: z.uuid().optional(),
});
export type RecommendationInput = z.input<typeof RecommendationInputSchema>;

const SandboxTrialInputSchema = z.strictObject({
  domain: DomainSchema,
  success: z.boolean(),
  confidence: ConfidenceSchema,
  key: z.string().min(1).max(200).optional(),
  at: z.date().optional(),
});
export type SandboxTrialInput = z.input<typeof SandboxTrialInputSchema>;

/** The typed way for producers and operators to reach Warden's workflows. */
export class WardenClient {
  constructor(
    readonly client: Client,
    readonly taskQueue: string = DEFAULT_TASK_QUEUE,
    /** Needed only for recordKpi, createRecommendation and recordSandboxTrial. */
    readonly db?: Kysely<Database>,
  ) {}

  /** Starts a governed deal; throws DealAlreadyStartedError for a dealId seen before. */
  async startDeal(input: DealInput): Promise<WorkflowHandleWithFirstExecutionRunId<typeof dealExecution>> {
    const parsed = validate(DealInputSchema, input, 'deal');
    try {
      return await this.client.workflow.start<typeof dealExecution>('dealExecution', {
        workflowId: dealWorkflowId(parsed.dealId),
        taskQueue: this.taskQueue,
        args: [parsed],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) throw new DealAlreadyStartedError(parsed.dealId);
      throw error;
    }
  }

  /** Starts the deal (or joins the run already started for its id) and waits for its result. */
  async executeDeal(input: DealInput): Promise<DealResult> {
    try {
      return await (await this.startDeal(input)).result();
    } catch (error) {
      if (error instanceof DealAlreadyStartedError) return this.getDealResult(error.dealId);
      throw error;
    }
  }

  getDealResult(dealId: string): Promise<DealResult> {
    return this.client.workflow.getHandle<typeof dealExecution>(dealWorkflowId(dealId)).result();
  }

  dealProgress(dealId: string): Promise<DealProgress> {
    return this.client.workflow.getHandle(dealWorkflowId(dealId)).query(dealProgressQuery);
  }

  async recordKpi(input: KpiInput): Promise<void> {
    await recordKpiEvent(this.database('recordKpi'), validate(KpiInputSchema, input, 'KPI event'));
  }

  createRecommendation(input: RecommendationInput): Promise<Recommendation> {
    return createRecommendation(this.database('createRecommendation'), validate(RecommendationInputSchema, input, 'recommendation'));
  }

  recordSandboxTrial(input: SandboxTrialInput): Promise<Scorecard> {
    return recordSandboxTrial(this.database('recordSandboxTrial'), validate(SandboxTrialInputSchema, input, 'sandbox trial'));
  }

  private database(operation: string): Kysely<Database> {
    if (!this.db) throw new DatabaseRequiredError(`${operation} needs Warden's database: pass it to new WardenClient(client, taskQueue, db)`);
    return this.db;
  }

  /** Starts the control plane unless it already runs; safe to call from every process. */
  async ensureControlPlane(): Promise<void> {
    await this.client.workflow.start<typeof controlPlane>('controlPlane', {
      workflowId: CONTROL_PLANE_WORKFLOW_ID,
      taskQueue: this.taskQueue,
      args: [{}],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
  }

  /** Starts the notification dispatcher unless it already runs; safe to call from every process. */
  async ensureNotificationDispatch(): Promise<void> {
    await this.client.workflow.start<typeof notificationDispatch>(NOTIFICATION_DISPATCH_WORKFLOW_TYPE, {
      workflowId: NOTIFICATION_DISPATCH_WORKFLOW_ID,
      taskQueue: this.taskQueue,
      args: [{}],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    });
  }

  // Changes are validated here too, so a producer hears about a bad field at
  // once instead of finding a rejection in the audit log.
  setGoLive(input: SetGoLiveInput): Promise<void> {
    return this.signalControlPlane(setGoLiveSignal, validate(SetGoLiveInputSchema, input, 'setGoLive'));
  }

  engageKillSwitch(input: EngageKillSwitchInput): Promise<void> {
    return this.signalControlPlane(engageKillSwitchSignal, validate(EngageKillSwitchInputSchema, input, 'engageKillSwitch'));
  }

  releaseKillSwitch(input: ReleaseKillSwitchInput): Promise<void> {
    return this.signalControlPlane(releaseKillSwitchSignal, validate(ReleaseKillSwitchInputSchema, input, 'releaseKillSwitch'));
  }

  setApplyMode(input: SetApplyModeInput): Promise<void> {
    return this.signalControlPlane(setApplyModeSignal, validate(SetApplyModeInputSchema, input, 'setApplyMode'));
  }

  /** Asks the control plane to re-measure capital usage into its band. */
  refreshCapitalBand(input: { actor: string }): Promise<void> {
    return this.signalControlPlane(refreshCapitalBandSignal, validate(RefreshCapitalBandInputSchema, input, 'refreshCapitalBand'));
  }

  /** Any change, answered once persisted: applied, pending (more approvals) or refused with the reason. */
  changeControlPlane(input: ChangeControlPlaneInput): Promise<ChangeResult> {
    const parsed = validate(ChangeControlPlaneInputSchema, input, 'changeControlPlane');
    return this.client.workflow.getHandle(CONTROL_PLANE_WORKFLOW_ID).executeUpdate(changeControlPlaneUpdate, { args: [parsed] });
  }

  async controlPlaneState(): Promise<ControlPlaneView> {
    return this.client.workflow.getHandle(CONTROL_PLANE_WORKFLOW_ID).query(controlPlaneStateQuery);
  }

  /** Waits until the control plane has persisted every queued change and reached `minVersion`. */
  async waitForControlPlane(minVersion: number, timeoutMs = 15_000): Promise<ControlPlaneView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let progress: string;
      try {
        const view = await this.controlPlaneState();
        if (view.version >= minVersion && view.pendingChanges === 0) return view;
        progress = `at version ${view.version}, ${view.pendingChanges} pending`;
      } catch (error) {
        // Still starting or loading its state: keep asking until the deadline.
        progress = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() > deadline) {
        throw new Error(`control plane did not reach version ${minVersion} within ${timeoutMs} ms (${progress})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  // Go-live playbook and operator sessions (seed 004 PACK H/I).

  /** Starts the nine-step go-live playbook; a second start while one runs under the same id is refused. */
  async startGoLivePlaybook(input: PlaybookInput, playbookId: string = GO_LIVE_PLAYBOOK_WORKFLOW_ID): Promise<WorkflowHandleWithFirstExecutionRunId<typeof goLivePlaybook>> {
    const parsed = validate(PlaybookInputSchema, input, 'goLivePlaybook input');
    try {
      return await this.client.workflow.start<typeof goLivePlaybook>(GO_LIVE_PLAYBOOK_WORKFLOW_TYPE, { workflowId: playbookId, taskQueue: this.taskQueue, args: [parsed] });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) throw new AlreadyRunningError(`go-live playbook ${playbookId} is already running`);
      throw error;
    }
  }

  /** Does the next step; a refusal (band, health, order, approver) comes back as a result, a malformed payload as WorkflowUpdateFailedError. */
  async completePlaybookStep(payload: CompleteStepPayload, playbookId: string = GO_LIVE_PLAYBOOK_WORKFLOW_ID): Promise<StepResult> {
    const parsed = validate(CompleteStepPayloadSchema, payload, 'completePlaybookStep');
    return this.client.workflow.getHandle(playbookId).executeUpdate(completePlaybookStepUpdate, { args: [parsed] });
  }

  async abandonPlaybook(payload: AbandonPayload, playbookId: string = GO_LIVE_PLAYBOOK_WORKFLOW_ID): Promise<PlaybookProgress> {
    const parsed = validate(AbandonPayloadSchema, payload, 'abandonPlaybook');
    return this.client.workflow.getHandle(playbookId).executeUpdate(abandonPlaybookUpdate, { args: [parsed] });
  }

  playbookProgress(playbookId: string = GO_LIVE_PLAYBOOK_WORKFLOW_ID): Promise<PlaybookProgress> {
    return this.client.workflow.getHandle(playbookId).query(playbookProgressQuery);
  }

  /** Starts the operator's session and returns it once its start snapshot is stored. */
  async startOperatorSession(input: { operator: string; notes?: string }, timeoutMs = 15_000): Promise<OperatorSessionView> {
    const parsed = validate(OperatorSessionInputSchema, { sessionId: randomUUID(), ...input }, 'operatorSession input');
    const workflowId = operatorSessionWorkflowId(parsed.operator);
    try {
      await this.client.workflow.start<typeof operatorSession>(OPERATOR_SESSION_WORKFLOW_TYPE, { workflowId, taskQueue: this.taskQueue, args: [parsed] });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) throw new AlreadyRunningError(`${parsed.operator} already has an active session (workflow ${workflowId})`);
      throw error;
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.operatorSession(parsed.operator);
      } catch (error) {
        // Still taking its start snapshot: ask again until the deadline.
        if (Date.now() > deadline) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Ends the operator's active session; answers with both snapshots once stored. */
  async endOperatorSession(input: { operator: string; actor: string; notes?: string }): Promise<OperatorSessionView> {
    const { operator, ...rest } = input;
    const payload = validate(EndSessionPayloadSchema, rest, 'endSession');
    return this.client.workflow.getHandle(operatorSessionWorkflowId(validate(OperatorSchema, operator, 'operator'))).executeUpdate(endSessionUpdate, { args: [payload] });
  }

  async operatorSession(operator: string): Promise<OperatorSessionView> {
    return this.client.workflow.getHandle(operatorSessionWorkflowId(validate(OperatorSchema, operator, 'operator'))).query(sessionQuery);
  }

  private async signalControlPlane<T>(signal: SignalDefinition<[T]>, payload: T): Promise<void> {
    // Signal-with-start: a change is never lost because the entity was not running yet.
    await this.client.workflow.signalWithStart<typeof controlPlane, [T]>('controlPlane', {
      workflowId: CONTROL_PLANE_WORKFLOW_ID,
      taskQueue: this.taskQueue,
      args: [{}],
      signal,
      signalArgs: [payload],
    });
  }
}
