import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { WardenClient } from '../../src/client';
import { toolPaths } from '../../src/config/paths';
import { seedStrategy } from '../support/strategies';
import type { ControlPlanePort } from '../../src/domain/control-plane/port';
import type { DealInput } from '../../src/domain/deals/types';
import { DEFAULT_GOVERNOR_SETTINGS } from '../../src/domain/permits/rules';
import { wardenNexusHandler } from '../../src/nexus/handlers';
import { dealProgressQuery } from '../../workflows/messages';
import { createTestDatabase, devServerAddress, type TestDatabase, uniqueName, workflowBundle } from '../helpers';
import { exec } from '../support/processes';
import { producerCommand, producerDeal, producerDealRefused } from '../support/nexus-producer-workflow';

// Issue 14 item 8: a producer in a namespace of its own calls Warden's `warden`
// Nexus service through an endpoint. Its client and worker connect to its own
// namespace only; Warden's worker (the real Nexus handlers, workflows and
// activities, on the test database) serves the endpoint's target.
describe('producers outside Warden’s namespace: the warden Nexus service', () => {
  const address = devServerAddress();
  const wardenNamespace = 'default';
  const producerNamespace = `producers-${randomUUID().slice(0, 8)}`;
  const endpoint = uniqueName('warden-nexus');
  const wardenQueue = uniqueName('warden-nexus');
  const producerQueue = uniqueName('producer');
  let t: TestDatabase;
  let connection: NativeConnection;
  let clientConnection: Connection;
  let warden: Client;
  let producer: Client;
  const running: { worker: Worker; run: Promise<void> }[] = [];
  // Nothing here reaches the control-plane workflow: the gates read its persisted state.
  const port = new Proxy({}, { get: (_, name) => (name === 'then' ? undefined : async () => undefined) });
  const temporal = async (...args: string[]) => {
    const ran = await exec(toolPaths.temporal, [...args, '--address', address]);
    expect(ran.code, ran.stderr).toBe(0);
    return ran.stdout;
  };
  const start = async (worker: Worker) => running.push({ worker, run: worker.run() });

  beforeAll(async () => {
    const [db, producerBundle] = await Promise.all([
      createTestDatabase(),
      bundleWorkflowCode({ workflowsPath: path.join(__dirname, '..', 'support', 'nexus-producer-workflow.ts') }),
      temporal('operator', 'namespace', 'create', '--namespace', producerNamespace),
    ]);
    t = db;
    await temporal(
      'operator',
      'nexus',
      'endpoint',
      'create',
      '--name',
      endpoint,
      '--target-namespace',
      wardenNamespace,
      '--target-task-queue',
      wardenQueue,
    );
    connection = await NativeConnection.connect({ address });
    clientConnection = await Connection.connect({ address });
    warden = new Client({ connection: clientConnection, namespace: wardenNamespace });
    producer = new Client({ connection: clientConnection, namespace: producerNamespace });
    await start(
      await Worker.create({
        connection,
        namespace: wardenNamespace,
        taskQueue: wardenQueue,
        workflowBundle: workflowBundle(),
        nexusServices: [wardenNexusHandler],
        activities: createActivities({
          db: t.db,
          governor: { ...DEFAULT_GOVERNOR_SETTINGS, maxPer5Min: 100, maxPerHour: 100 },
          controlPlane: port as ControlPlanePort,
        }),
      }),
    );
    // The producer's worker: its own namespace, its own queue, its own workflows only.
    await start(
      await Worker.create({
        connection,
        namespace: producerNamespace,
        taskQueue: producerQueue,
        workflowBundle: producerBundle,
      }),
    );
  });

  afterAll(async () => {
    for (const { worker } of running) worker.shutdown();
    await Promise.all(running.map((r) => r.run));
    await connection?.close();
    await clientConnection?.close();
    await exec(toolPaths.temporal, [
      'operator',
      'nexus',
      'endpoint',
      'delete',
      '--name',
      endpoint,
      '--address',
      address,
    ]);
    await t?.drop();
  });

  const deal = (over: Partial<DealInput> = {}): DealInput & { dealId: string } => ({
    dealId: uniqueName('nexus'),
    engine: 'WHOLESALE',
    symbol: 'ETHUSDT',
    amount: 10,
    requestedBy: 'bot-7',
    ...over,
  });
  const asProducer = <A extends unknown[], R>(workflow: (...args: A) => Promise<R>, ...args: A) =>
    producer.workflow.execute(workflow, { taskQueue: producerQueue, workflowId: randomUUID(), args });
  const reservation = async (dealId: string) =>
    (
      await t.db
        .selectFrom('risk_reservation')
        .select('status')
        .where('idempotency_key', '=', `deal:${dealId}`)
        .executeTakeFirst()
    )?.status;

  it('runs an OBSERVE_ONLY deal in dry_run through every gate and answers with the typed result', async () => {
    const asked = deal({ executionClass: 'OBSERVE_ONLY' });
    const result = await asProducer(producerDeal, endpoint, asked);
    expect(result).toEqual({
      status: 'dry_run',
      dealId: asked.dealId,
      applyMode: 'dry_run',
      permitId: expect.any(String),
    });
    // Reserved and released by the risk gate, permitted by the governor: the governed workflow, not a shortcut.
    expect(await reservation(asked.dealId)).toBe('released');

    // The deal is Warden's own workflow, in Warden's namespace and on Warden's queue, under the typed client's id…
    const run = warden.workflow.getHandle(`deal-${asked.dealId}`);
    const described = await run.describe();
    expect(described).toMatchObject({ type: 'dealExecution', taskQueue: wardenQueue, status: { name: 'COMPLETED' } });
    // …started through Nexus for the producer's workflow, whose namespace its completion callback links back to…
    const [started] = (await run.fetchHistory()).events ?? [];
    const callbacks = started?.workflowExecutionStartedEventAttributes?.completionCallbacks ?? [];
    expect(callbacks.flatMap((c) => c.links ?? []).map((link) => link.workflowEvent?.namespace)).toEqual([
      producerNamespace,
    ]);
    // …and the producer's namespace holds nothing of Warden's.
    await expect(producer.workflow.getHandle(`deal-${asked.dealId}`).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
  });

  it('a deal id seen before answers with the first run’s result and starts nothing new', async () => {
    const asked = deal({ executionClass: 'OBSERVE_ONLY' });
    const first = await asProducer(producerDeal, endpoint, asked);
    const { runId } = await warden.workflow.getHandle(`deal-${asked.dealId}`).describe();
    // Other terms under the same id change nothing: the deal id is the idempotency key.
    const again = await asProducer(producerDeal, endpoint, { ...asked, amount: 20 });
    expect(again).toEqual(first);
    expect((await warden.workflow.getHandle(`deal-${asked.dealId}`).describe()).runId).toBe(runId);
  });

  it('joins a deal still running under its id: the typed client’s run, one deal, one result', async () => {
    // An L2 strategy holds each order for approveOrder: the deal waits (here until its 5 s timeout).
    const strategyId = uniqueName('l2');
    await seedStrategy(
      t.db,
      {
        id: strategyId,
        enabled: true,
        level: 'L2',
        paused: false,
        pausedReason: null,
        capital: 100_000,
        tokenRequired: false,
        healthFloor: 0.25,
      },
      'setup',
      'test',
    );
    const asked = deal({ executionClass: 'OBSERVE_ONLY', strategyId, orderApprovalTimeoutSeconds: 5 });
    const direct = await new WardenClient(warden, wardenQueue).startDeal(asked);
    await expect
      .poll(async () => (await direct.query(dealProgressQuery)).stage, { timeout: 5_000 })
      .toBe('awaiting_order_approval');
    const viaNexus = await asProducer(producerDeal, endpoint, asked);
    expect(viaNexus).toMatchObject({
      status: 'denied',
      dealId: asked.dealId,
      gate: 'strategy',
      reason: 'approval_timeout',
    });
    expect(await direct.result()).toEqual(viaNexus);
    // Joined, not waited on: the operation's completion callback was attached to the running deal.
    const { raw } = await direct.describe();
    expect(raw.callbacks?.map((c) => c.callback?.nexus?.url)).toEqual(['temporal://system']);
    expect((await warden.workflow.getHandle(`deal-${asked.dealId}`).describe()).runId).toBe(direct.firstExecutionRunId);
  });

  it('a denied deal comes back as the typed denial, holding nothing', async () => {
    // Go-live is off (the safe default): only observation passes the control plane.
    const asked = deal({ executionClass: 'PROD_EXEC', executorTaskQueue: uniqueName('executor') });
    expect(await asProducer(producerDeal, endpoint, asked)).toEqual({
      status: 'denied',
      dealId: asked.dealId,
      gate: 'control_plane',
      reason: 'go_live_disabled',
      detail: 'go-live is off: only OBSERVE_ONLY actions run',
    });
    expect(await reservation(asked.dealId)).toBeUndefined();
  });

  it('bad input is refused naming the field, and starts nothing', async () => {
    const asked = deal({ amount: -5 });
    expect(await asProducer(producerDealRefused, endpoint, asked)).toEqual({
      failure: 'NexusOperationFailure',
      cause: 'HandlerError',
      message: 'invalid deal: amount: must be greater than 0',
    });
    await expect(warden.workflow.getHandle(`deal-${asked.dealId}`).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
  });

  it('runs a command through executeCommand and answers with its typed result', async () => {
    const commandId = uniqueName('nexus-cmd');
    const result = await asProducer(producerCommand, endpoint, {
      commandId,
      commandType: 'SET_FAN',
      params: { value: 1 },
      requestedBy: 'roaster-agent',
    });
    expect(result).toMatchObject({ status: 'denied', commandId, gate: 'control_plane', reason: 'go_live_disabled' });
    expect((await warden.workflow.getHandle(`command-${commandId}`).describe()).type).toBe('commandExecution');
  });
});
