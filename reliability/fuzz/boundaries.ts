// Every boundary the fuzzer drives: each workflow's input (started raw,
// past WardenClient's validation), each signal and update on a live target,
// and each HTTP route of the operator API, `POST /operations/<name>` (every
// `warden` command) included, enumerated from its own /openapi.json.
import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { z } from 'zod';
import { CommandDecisionSchema, CommandExecutionInputSchema } from '../../src/domain/autonomy/commands';
import {
  ApprovePayloadSchema,
  BreakerTrippedPayloadSchema,
  ProposalTermsSchema,
  RejectPayloadSchema,
} from '../../src/domain/autonomy/proposals';
import {
  ApproveChangePayloadSchema,
  CancelChangePayloadSchema,
  EditChangePayloadSchema,
  PolicyChangeStartSchema,
  RejectChangePayloadSchema,
} from '../../src/domain/change-requests/request';
import {
  ChangeControlPlaneInputSchema,
  ControlPlaneInputSchema,
  controlPlaneChangeSchemas,
  type ControlPlaneChangeKind,
} from '../../src/domain/control-plane/types';
import { DealInputSchema, ReconcileDealInputSchema } from '../../src/domain/deals/types';
import {
  AbandonPayloadSchema,
  CompleteStepPayloadSchema,
  PlaybookInputSchema,
} from '../../src/domain/go-live/playbook';
import { EndSessionPayloadSchema, OperatorSessionInputSchema } from '../../src/domain/go-live/sessions';
import { NotificationDispatchInputSchema } from '../../src/domain/notifications/dispatch';
import { OrderApprovalSchema, PromotionInputSchema, type PromotionView } from '../../src/domain/strategy/messages';
import { CanaryInputSchema } from '../../src/domain/watchdogs/canary';
import { WeeklyGovernanceInputSchema, WeeklyGovernanceKickoffInputSchema } from '../../src/domain/autonomy/week';
import { addApprover } from '../../src/db/autonomy.repository';
import { getStrategy, setStrategyLevel, upsertStrategy } from '../../src/db/strategy.repository';
import { OPERATIONS, runOperation } from '../../src/operator/operations';
import {
  CONTROL_PLANE_WORKFLOW_ID,
  NOTIFICATION_DISPATCH_WORKFLOW_ID,
  commandWorkflowId,
  operatorSessionWorkflowId,
  policyChangeWorkflowId,
} from '../../workflows/names';
import { dealProgressQuery, promotionStatusQuery } from '../../workflows/messages';
import type { FuzzEnv } from './env';
import { toJsonText } from './payloads';
import { type Attempt, type Boundary, type InspectedRuns, pool, withTimeout } from './runner';
import { exampleOf, fieldNames, jsonSchemaOf, templateOf } from './templates';
import { inspectWorkflow, percentEncode as encode } from './verdicts';

const ANSWER_MS = 20_000;
/** A started run still going after this took its input; its history is judged after the batch. */
const START_ANSWER_MS = 3_000;

const fieldsOf = (...schemas: z.ZodType[]) => {
  const names = new Set<string>();
  for (const s of schemas) fieldNames(jsonSchemaOf(s), names);
  return names;
};

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** How an update's refusal reads: the validator's or handler's message, else the error's own. */
function updateRefusal(error: unknown): Attempt {
  if (error instanceof WorkflowUpdateFailedError)
    return { rejected: true, message: error.cause?.message ?? error.message };
  const message = errorText(error);
  // The client refuses what it cannot encode (a payload past Temporal's limits) before sending: a refusal too.
  if (/payload|too large|exceeds|size/i.test(message)) return { rejected: true, message: `payload: ${message}` };
  return { rejected: false, serverError: message };
}

/** The outcome of an accepted update that still refused the change (the control plane answers so). */
function outcomeRefusal(result: unknown): Attempt {
  const outcome = (result as { outcome?: { status?: string; reason?: string } } | null)?.outcome;
  if (outcome?.status === 'refused') return { rejected: true, message: outcome.reason ?? '' };
  return { rejected: false };
}

/** Runs that must be checked after the batch, by workflow id. */
class RunLog {
  readonly ids: string[] = [];
  add(id: string) {
    this.ids.push(id);
  }
}

async function inspectRuns(
  env: FuzzEnv,
  ids: string[],
  expected: (status: string, failure: string | undefined) => boolean,
  terminate: boolean,
): Promise<InspectedRuns> {
  let taskFailures = 0;
  let serverRetries = 0;
  const badRuns: string[] = [];
  await pool(ids, 20, async (key) => {
    const [id, runId] = key.split('\u0000') as [string, string | undefined];
    const verdict = await inspectWorkflow(env.client, id, runId);
    taskFailures += verdict.taskFailures;
    serverRetries += verdict.serverRetries;
    if (verdict.taskFailure) badRuns.push(`${id}: workflow task failed, ${verdict.taskFailure}`);
    else if (!expected(verdict.status, verdict.failure))
      badRuns.push(`${id}: ${verdict.status} ${verdict.failure ?? ''}`);
    // A second control plane or dispatcher started raw with valid input would idle forever: end it.
    if (terminate && verdict.status === 'RUNNING')
      await env.client.workflow
        .getHandle(id)
        .terminate('fuzz run over')
        .catch(() => undefined);
  });
  return { taskFailures, serverRetries, badRuns };
}

/**
 * Workflows whose terms are Warden's own record for the workflow id: the start payload is ignored
 * (a run Warden never proposed ends refused, for that reason, whatever it carried).
 */
const RECORD_BACKED = new Set(['expansionProposal', 'strategyPromotion']);
/** Workflows that run only under their own id: a start under the harness's random one is refused naming workflowId. */
const ONE_WRITER = new Set(['controlPlane', 'weeklyGovernance']);

/** Every workflow of the bundle, started raw with a fuzzed first argument. */
export function workflowBoundaries(env: FuzzEnv): Boundary[] {
  const inputs: [string, z.ZodType | undefined][] = [
    ['dealExecution', DealInputSchema],
    ['commandExecution', CommandExecutionInputSchema],
    ['expansionProposal', ProposalTermsSchema],
    ['policyChange', PolicyChangeStartSchema],
    ['goLivePlaybook', PlaybookInputSchema],
    ['operatorSession', OperatorSessionInputSchema],
    ['strategyPromotion', PromotionInputSchema],
    ['controlPlane', ControlPlaneInputSchema],
    ['notificationDispatch', NotificationDispatchInputSchema],
    ['infrastructureCanary', CanaryInputSchema],
    ['weeklyGovernance', WeeklyGovernanceInputSchema],
    ['weeklyGovernanceKickoff', WeeklyGovernanceKickoffInputSchema],
    // No input: whatever arrives is ignored, and the run must still close as it does.
    ['governanceCycle', undefined],
    ['regressionTripwire', undefined],
    ['reservationSweep', undefined],
  ];
  return inputs.map(([type, schema]) => {
    const runs = new RunLog();
    const template = schema ? templateOf(schema) : { ignored: 'fuzz-seed' };
    // A seed naming a producer's queue would park every accepted run on a queue nobody polls.
    delete template.executorTaskQueue;
    return {
      name: `workflow ${type}`,
      kind: 'workflow' as const,
      template,
      // A controlPlane run under any id but the control plane's is refused naming the start's workflowId.
      known: new Set([...(schema ? fieldsOf(schema) : []), ...(ONE_WRITER.has(type) ? ['workflowId'] : [])]),
      ...(schema && !RECORD_BACKED.has(type) ? { schema } : { schema: z.unknown() }),
      // Each new run costs the worker a fresh workflow context: more at once only queues them, and
      // the control plane's own tasks wait in the same queue (the engage verdict would measure the harness).
      chunk: 40,
      concurrency: 4,
      async send(payload: unknown): Promise<Attempt> {
        const workflowId = `fuzz-${type}-${randomUUID()}`;
        let handle;
        try {
          handle = await env.client.workflow.start(type, { taskQueue: env.taskQueue, workflowId, args: [payload] });
        } catch (error) {
          return updateRefusal(error);
        }
        runs.add(workflowId);
        const outcome = await withTimeout(
          handle.result().then(
            (value: unknown) => ({ value }),
            (error: unknown) => ({ error }),
          ),
          type === 'controlPlane' || type === 'notificationDispatch' ? 1_500 : START_ANSWER_MS,
        );
        // Still running: a long-lived workflow that took its input (judged from its history afterwards).
        if (outcome === 'timeout') return { rejected: false };
        if ('error' in outcome) {
          const cause = (outcome.error as { cause?: { message?: string } }).cause;
          return { rejected: true, message: cause?.message ?? errorText(outcome.error) };
        }
        const view = outcome.value as { status?: string; detail?: string; reason?: string; endReason?: string } | null;
        if (view?.status === 'refused')
          return { rejected: true, message: view.detail ?? view.reason ?? view.endReason ?? '' };
        return { rejected: false };
      },
      inspect: () =>
        inspectRuns(
          env,
          runs.ids.splice(0),
          (status, failure) =>
            status === 'COMPLETED' || status === 'RUNNING' || (status === 'FAILED' && failure !== undefined),
          true,
        ),
    };
  });
}

/** A long-lived workflow the messages go to, started again should an accepted message close it. */
interface Target {
  id(): Promise<string>;
  query(): Promise<unknown>;
  runIds: Set<string>;
}

function target(env: FuzzEnv, start: () => Promise<string>, queryName: string, omit: string[] = []): Target {
  let current: string | undefined;
  // One start at a time: payloads sent in parallel share the target, and an accepted one may have closed it.
  let starting: Promise<string> | undefined;
  const runIds = new Set<string>();
  const isRunning = async (id: string) =>
    (
      await env.client.workflow
        .getHandle(id)
        .describe()
        .catch(() => undefined)
    )?.status.name === 'RUNNING';
  return {
    runIds,
    async id() {
      if (starting) return starting;
      if (current !== undefined && (await isRunning(current))) return current;
      starting = start().then(async (id) => {
        current = id;
        runIds.add(id);
        await quiet(env, id);
        return id;
      });
      try {
        return await starting;
      } finally {
        starting = undefined;
      }
    },
    async query() {
      if (current === undefined) return null;
      const view = (await env.client.workflow
        .getHandle(current)
        .query(queryName)
        .catch(() => null)) as Record<string, unknown> | null;
      if (view === null) return null;
      return Object.fromEntries(Object.entries(view).filter(([k]) => !omit.includes(k)));
    },
  };
}

/**
 * Until a freshly started target has nothing pending (its first activities, e.g. the row it records,
 * are done): a chunk's first snapshot must not catch the target's own start half-way.
 */
async function quiet(env: FuzzEnv, id: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const { raw } = await env.client.workflow.getHandle(id).describe();
    if ((raw.pendingActivities ?? []).length === 0 && !raw.pendingWorkflowTask) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What the server answers a message to a run that has closed meanwhile. */
const CLOSED = /aborted by closing workflow|already completed|not found|workflow execution already/i;

function messageBoundary(
  env: FuzzEnv,
  t: Target,
  spec: { name: string; message: string; kind: 'signal' | 'update'; schema: z.ZodType; allowedChanges?: string[] },
): Boundary {
  const sendOnce = async (payload: unknown): Promise<Attempt | 'sent'> => {
    const handle = env.client.workflow.getHandle(await t.id());
    if (spec.kind === 'signal') {
      try {
        await handle.signal(spec.message, payload);
        return 'sent';
      } catch (error) {
        return updateRefusal(error);
      }
    }
    const answered = await withTimeout(
      handle.executeUpdate(spec.message, { args: [payload] }).then(
        (value: unknown) => outcomeRefusal(value),
        (error: unknown) => updateRefusal(error),
      ),
      ANSWER_MS,
    );
    return answered === 'timeout' ? { rejected: false, hang: true } : answered;
  };
  return {
    name: `${spec.kind} ${spec.name}`,
    kind: spec.kind,
    template: templateOf(spec.schema),
    known: fieldsOf(spec.schema),
    schema: spec.schema,
    chunk: spec.kind === 'signal' ? 50 : 50,
    concurrency: spec.kind === 'signal' ? 25 : 10,
    prepare: () => t.id(),
    query: () => t.query(),
    ...(spec.allowedChanges ? { allowedChanges: spec.allowedChanges } : {}),
    async send(payload: unknown): Promise<Attempt | 'sent'> {
      // An accepted payload sent alongside may have closed the target: again, to a fresh one (which
      // another accepted one may close in turn, so a few times).
      let answer = await sendOnce(payload);
      for (let tries = 1; tries < 5 && answer !== 'sent' && CLOSED.test(answer.serverError ?? ''); tries++)
        answer = await sendOnce(payload);
      // Still closed (accepted ones sent alongside keep closing fresh targets): the server took nothing,
      // a refusal for the target's state, not a fault.
      if (answer !== 'sent' && CLOSED.test(answer.serverError ?? ''))
        return { rejected: true, checkField: false, message: answer.serverError! };
      return answer;
    },
    inspect: async () => {
      // Every run of every target, continued-as-new ones included (a long-lived workflow rolls over).
      const ids: string[] = [];
      for (const id of t.runIds)
        for await (const run of env.client.workflow.list({ query: `WorkflowId = '${id}'` }))
          ids.push(`${run.workflowId}\u0000${run.runId}`);
      return inspectRuns(
        env,
        ids,
        (status) => status === 'RUNNING' || status === 'COMPLETED' || status === 'CONTINUED_AS_NEW',
        false,
      );
    },
  };
}

const ORDER_APPROVAL_STRATEGY = 'fuzz-order-approval';

/** A strategy opted in at `level` (a new one starts at L0 and is put there directly, as a seeded database holds it). */
async function fuzzStrategy(env: FuzzEnv, id: string, level: 'L0' | 'L2'): Promise<void> {
  if (await getStrategy(env.db, id)) return;
  await upsertStrategy(
    env.db,
    {
      id,
      enabled: true,
      level: 'L0',
      paused: false,
      pausedReason: null,
      capital: 100_000,
      tokenRequired: false,
      healthFloor: 0.25,
    },
    'fuzz',
    'fuzz target',
  );
  if (level !== 'L0') await setStrategyLevel(env.db, { id, to: level, since: new Date() });
}

/** Until `done` holds (or `ms` passed): a target is handed out once it waits where its messages matter. */
async function waitFor(done: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done().catch(() => false)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/**
 * A promotion keeps the refusals of its signals on its view (`refused`), not in the audit trail the runner
 * reads a signal's from: each payload is sent alone and judged, as an update is, by what the view then holds.
 */
function judgedByView(env: FuzzEnv, t: Target, message: string, boundary: Boundary): Boundary {
  return {
    ...boundary,
    kind: 'update',
    concurrency: 1,
    async send(payload: unknown): Promise<Attempt> {
      const handle = env.client.workflow.getHandle(await t.id());
      const refusals = (view: PromotionView) => view.rejectedMessages ?? view.refused.length;
      const before = refusals(await handle.query(promotionStatusQuery));
      try {
        await handle.signal(message, payload);
      } catch (error) {
        return updateRefusal(error);
      }
      let view = await handle.query(promotionStatusQuery);
      // A payload that parses is refused (or counts) only after the worker's check of its approver.
      const deadline = Date.now() + 5_000;
      while (refusals(view) === before && view.status === 'pending' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        view = await handle.query(promotionStatusQuery);
      }
      // One payload at a time: a refusal is the newest entry (the view keeps the latest ones).
      const problem = refusals(view) > before ? view.refused.at(-1) : undefined;
      return problem === undefined ? { rejected: false } : { rejected: true, message: problem };
    },
  };
}

const CONTROL_PLANE_OMIT = ['pendingChanges', 'rejectedSignals', 'droppedChanges'];

export function messageBoundaries(env: FuzzEnv): Boundary[] {
  const controlPlane = target(env, async () => CONTROL_PLANE_WORKFLOW_ID, 'state', CONTROL_PLANE_OMIT);
  const boundaries: Boundary[] = [];
  for (const kind of Object.keys(controlPlaneChangeSchemas) as ControlPlaneChangeKind[]) {
    boundaries.push(
      messageBoundary(env, controlPlane, {
        name: `controlPlane.${kind}`,
        message: kind,
        kind: 'signal',
        schema: controlPlaneChangeSchemas[kind],
        // Invariant 10: an engage is never refused for its form, so a malformed one engages (and says so).
        ...(kind === 'engageKillSwitch' ? { allowedChanges: ['control_plane_state'] } : {}),
      }),
    );
  }
  const changeUpdate = messageBoundary(env, controlPlane, {
    name: 'controlPlane.changeControlPlane',
    message: 'changeControlPlane',
    kind: 'update',
    schema: ChangeControlPlaneInputSchema,
  });
  boundaries.push(changeUpdate);
  // The engage's own query fields move on every malformed engage; the rest of the state must not.
  const engage = boundaries.find((b) => b.name === 'signal controlPlane.engageKillSwitch')!;
  engage.query = async () => {
    const view = (await controlPlane.query()) as Record<string, unknown> | null;
    return view && { goLiveEnabled: view.goLiveEnabled, applyMode: view.applyMode, capitalBand: view.capitalBand };
  };

  const changeRequest = target(
    env,
    async () => {
      const view = await env.warden.submitPolicyChanges({
        requestedBy: { name: 'fuzz-requester', roles: ['manager'] },
        changes: [{ kind: 'control_plane', target: 'applyMode', after: 'live' }],
        reason: 'fuzz target',
      });
      return policyChangeWorkflowId(view.id);
    },
    'status',
    ['rejectedMessages'],
  );
  for (const [name, message, kind, schema] of [
    ['approve', 'approve', 'update', ApproveChangePayloadSchema],
    ['reject', 'reject', 'update', RejectChangePayloadSchema],
    ['edit', 'edit', 'update', EditChangePayloadSchema],
    ['cancel', 'cancel', 'update', CancelChangePayloadSchema],
    ['approveChange', 'approveChange', 'signal', ApproveChangePayloadSchema],
    ['rejectChange', 'rejectChange', 'signal', RejectChangePayloadSchema],
  ] as const)
    boundaries.push(messageBoundary(env, changeRequest, { name: `policyChange.${name}`, message, kind, schema }));

  const playbook = target(
    env,
    async () => {
      const id = `fuzz-playbook-${randomUUID()}`;
      await env.warden.startGoLivePlaybook({ startedBy: 'fuzz-operator' }, id);
      return id;
    },
    'progress',
    ['refusals', 'rejectedMessages'],
  );
  for (const [name, kind, schema] of [
    ['completePlaybookStep', 'update', CompleteStepPayloadSchema],
    ['completePlaybookStep', 'signal', CompleteStepPayloadSchema],
    ['abandonPlaybook', 'update', AbandonPayloadSchema],
    ['abandonPlaybook', 'signal', AbandonPayloadSchema],
  ] as const)
    boundaries.push(messageBoundary(env, playbook, { name: `goLivePlaybook.${name}`, message: name, kind, schema }));

  let sessions = 0;
  const session = target(
    env,
    async () => {
      // A new operator each time: an ended session's operator could start again, a terminated one's not.
      const operator = `fuzz-operator-${(sessions += 1)}`;
      await env.warden.startOperatorSession({ operator });
      return operatorSessionWorkflowId(operator);
    },
    'session',
  );
  boundaries.push(
    messageBoundary(env, session, {
      name: 'operatorSession.endSession',
      message: 'endSession',
      kind: 'update',
      schema: EndSessionPayloadSchema,
    }),
  );

  const proposal = target(
    env,
    async () => {
      await addApprover(env.db, 'tech_lead', env.identity.name, 'fuzz');
      const created = (await runOperation(OPERATIONS['proposal.create'], env.deps, env.identity, {
        role: 'tech_lead',
        reason: 'fuzz target',
      })) as { proposalId?: string; id?: string; workflowId?: string };
      return created.workflowId ?? created.proposalId ?? created.id ?? '';
    },
    'status',
    ['rejectedMessages'],
  );
  for (const [name, message, kind, schema] of [
    ['approve', 'approve', 'signal', ApprovePayloadSchema],
    ['reject', 'reject', 'signal', RejectPayloadSchema],
    ['approveProposal', 'approveProposal', 'update', ApprovePayloadSchema],
    ['rejectProposal', 'rejectProposal', 'update', RejectPayloadSchema],
    ['breakerTripped', 'breakerTripped', 'signal', BreakerTrippedPayloadSchema],
  ] as const)
    boundaries.push(messageBoundary(env, proposal, { name: `expansionProposal.${name}`, message, kind, schema }));

  const command = target(
    env,
    async () => {
      const commandId = `fuzz-${randomUUID()}`;
      await env.client.workflow.start('commandExecution', {
        taskQueue: env.taskQueue,
        workflowId: commandWorkflowId(commandId),
        args: [{ commandId, commandType: 'FUZZ_TARGET', requestedBy: 'fuzz-producer', approvalTimeoutSeconds: 86_400 }],
      });
      return commandWorkflowId(commandId);
    },
    'status',
    ['rejectedMessages'],
  );
  for (const name of ['approveCommand', 'rejectCommand'])
    boundaries.push(
      messageBoundary(env, command, {
        name: `commandExecution.${name}`,
        message: name,
        kind: 'signal',
        schema: CommandDecisionSchema,
      }),
    );

  const deal = target(
    env,
    async () => {
      // An L2 strategy's order waits for approveOrder; OBSERVE_ONLY passes the control plane even with go-live
      // off or the kill switch engaged (each batch's engage probe engages it), and never calls an executor.
      await fuzzStrategy(env, ORDER_APPROVAL_STRATEGY, 'L2');
      const handle = await env.warden.startDeal({
        dealId: `fuzz-${randomUUID()}`,
        engine: 'FUZZ',
        symbol: 'FUZZ',
        amount: 100,
        requestedBy: 'fuzz-producer',
        strategyId: ORDER_APPROVAL_STRATEGY,
        executionClass: 'OBSERVE_ONLY',
        orderApprovalTimeoutSeconds: 86_400,
      });
      await waitFor(async () => (await handle.query(dealProgressQuery)).stage === 'awaiting_order_approval');
      return handle.workflowId;
    },
    'progress',
  );
  for (const [name, kind, schema] of [
    ['approveOrder', 'signal', OrderApprovalSchema],
    // A word that parses is refused for the deal's stage (not awaiting reconciliation): the validator parses first.
    ['reconcileDeal', 'update', ReconcileDealInputSchema],
  ] as const)
    boundaries.push(messageBoundary(env, deal, { name: `dealExecution.${name}`, message: name, kind, schema }));

  const promotion = target(
    env,
    async () => {
      // A new strategy each time: one open promotion per strategy and level. Its requester (the env's identity,
      // the only approver listed) may not decide it, so no payload closes it.
      const strategyId = `fuzz-promotion-${randomUUID()}`;
      await fuzzStrategy(env, strategyId, 'L0');
      await addApprover(env.db, 'tech_lead', env.identity.name, 'fuzz');
      const proposed = (await runOperation(OPERATIONS['strategy.promote'], env.deps, env.identity, {
        id: strategyId,
        role: 'tech_lead',
        reason: 'fuzz target',
      })) as { proposalId: string };
      return proposed.proposalId;
    },
    'status',
    // Refusals pile up here: each payload is judged by the entry it adds (see judgedByView).
    ['refused', 'rejectedMessages'],
  );
  for (const name of ['approvePromotion', 'rejectPromotion'])
    boundaries.push(
      judgedByView(
        env,
        promotion,
        name,
        messageBoundary(env, promotion, {
          name: `strategyPromotion.${name}`,
          message: name,
          kind: 'signal',
          schema: OrderApprovalSchema,
        }),
      ),
    );

  const dispatch = target(env, async () => NOTIFICATION_DISPATCH_WORKFLOW_ID, 'dispatch', [
    'polls',
    'lastPollAt',
    'delivered',
  ]);
  const pending = messageBoundary(env, dispatch, {
    name: 'notificationDispatch.notificationsPending',
    message: 'notificationsPending',
    kind: 'update',
    schema: z.strictObject({}),
  });
  // A payload-free wake-up: any payload is ignored, so it is sent as a signal and judged from history alone.
  boundaries.push({
    ...pending,
    kind: 'update',
    name: 'signal notificationDispatch.notificationsPending',
    query: undefined,
    async send(payload: unknown): Promise<Attempt> {
      await env.client.workflow.getHandle(NOTIFICATION_DISPATCH_WORKFLOW_ID).signal('notificationsPending', payload);
      return { rejected: false };
    },
  });
  return boundaries;
}

interface OpenApiOperation {
  operationId: string;
  parameters?: { name: string; in: 'path' | 'query'; schema: unknown }[];
  requestBody?: { content: { 'application/json': { schema: unknown } } };
}

/** Every route of the API, from its /openapi.json: bodies, query strings and path parameters fuzzed. */
export async function httpBoundaries(env: FuzzEnv): Promise<Boundary[]> {
  const doc = (await env.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, OpenApiOperation>>;
  };
  const boundaries: Boundary[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const bodySchema = op.requestBody?.content['application/json'].schema as Parameters<typeof exampleOf>[0];
      const params = (op.parameters ?? []).filter((p) => p.in === 'path');
      const queries = (op.parameters ?? []).filter((p) => p.in === 'query');
      const bodyTemplate = bodySchema ? exampleOf(bodySchema) : undefined;
      const paramTemplate = Object.fromEntries(params.map((p) => [p.name, exampleOf(p.schema as never)]));
      const queryTemplate = Object.fromEntries(queries.map((p) => [p.name, exampleOf(p.schema as never)]));
      const known = fieldNames(bodySchema);
      for (const p of op.parameters ?? []) known.add(p.name);
      // A query that is not an object travels as `?q=…`.
      known.add('q');
      const parts: ('body' | 'query' | 'params')[] = [
        ...(method === 'post' ? (['body', 'body', 'body', 'body'] as const) : []),
        'query',
        ...(params.length > 0 ? (['params', 'params'] as const) : []),
      ];
      const template = { body: bodyTemplate ?? {}, query: queryTemplate, params: paramTemplate };
      boundaries.push({
        name: `${method.toUpperCase()} ${path}`,
        kind: 'http',
        template: isObject(bodyTemplate)
          ? bodyTemplate
          : isObject(queryTemplate) && Object.keys(queryTemplate).length > 0
            ? queryTemplate
            : { field: 'fuzz-seed' },
        known,
        chunk: 100,
        concurrency: 10,
        async send(payload: unknown, index: number): Promise<Attempt> {
          const part = parts[Math.abs(index) % parts.length]!;
          const body = part === 'body' ? payload : template.body;
          const query = part === 'query' ? payload : template.query;
          const paramValues = part === 'params' ? payload : template.params;
          const url = buildUrl(path, paramValues, query);
          const response = await withTimeout(
            env.app.inject({
              method: method.toUpperCase() as 'GET' | 'POST',
              url,
              headers: {
                authorization: `Bearer ${env.key}`,
                ...(method === 'post' ? { 'content-type': 'application/json' } : {}),
              },
              ...(method === 'post' ? { payload: toJsonText(body) } : {}),
            }),
            ANSWER_MS,
          );
          if (response === 'timeout') return { rejected: false, hang: true };
          const status = response.statusCode;
          let message = '';
          try {
            message = String((response.json() as { message?: unknown }).message ?? '');
          } catch {
            message = response.body.slice(0, 300);
          }
          if (status >= 500) return { rejected: false, serverError: `${status} ${message}` };
          if (status >= 400) return { rejected: true, message, checkField: status === 400 };
          return { rejected: false };
        },
      });
    }
  }
  return boundaries;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The route's URL with its parameters filled in and the query string built from whatever the payload is. */
export function buildUrl(path: string, params: unknown, query: unknown): string {
  const values =
    params !== null && typeof params === 'object' && !Array.isArray(params) ? (params as Record<string, unknown>) : {};
  const filled = path.replace(/\{([A-Za-z]+)\}/g, (_m, name: string) => {
    const value = Object.hasOwn(values, name) ? values[name] : typeof params === 'object' ? 'fuzz-seed' : params;
    return encode(asText(value ?? '')) || '%20';
  });
  const pairs: string[] = [];
  if (query !== null && typeof query === 'object' && !Array.isArray(query)) {
    for (const [k, v] of Object.entries(query)) {
      for (const item of Array.isArray(v) ? v : [v]) pairs.push(`${encode(k)}=${encode(asText(item))}`);
    }
  } else if (query !== undefined) pairs.push(`q=${encode(asText(query))}`);
  return pairs.length > 0 ? `${filled}?${pairs.join('&')}` : filled;
}
