// The producer's executor, the harness's own: every call is appended to a
// file and fsynced before the executor answers, so the verdicts rest on what
// the executor saw, never on Warden's own counters.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { ExecuteDealInput, ExecuteDealResult } from '../../src/domain/deals/types';

export const EXECUTOR_TASK_QUEUE = 'reliability-executor';

export interface ExecutorCall {
  event: 'start' | 'finish';
  dealId: string;
  amount: number;
  engine: string;
  workflowId: string;
  runId: string;
  activityId: string;
  attempt: number;
  /** Wall-clock ms, the same clock as the audit events' (one machine). */
  at: number;
}

export interface RecordingExecutor {
  file: string;
  /** Every call recorded so far, read back from the file. */
  calls(): ExecutorCall[];
  stop(): Promise<void>;
}

/** Appends one line and fsyncs it: a call is on disk before the executor acts on it. */
function appendDurably(fd: number, call: ExecutorCall): void {
  writeSync(fd, `${JSON.stringify(call)}\n`);
  fsyncSync(fd);
}

export function readCalls(file: string): ExecutorCall[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ExecutorCall);
}

export async function startRecordingExecutor(options: {
  address: string;
  namespace: string;
  file: string;
  taskQueue?: string;
  /** How long a fill takes (ms): long enough to keep deals in flight. */
  fillMs?: () => number;
  /** The loss a fill books (0 unless told). */
  lossOf?: (input: ExecuteDealInput) => number;
}): Promise<RecordingExecutor> {
  const fd = openSync(options.file, 'a');
  const connection = await NativeConnection.connect({ address: options.address });
  const record = (event: ExecutorCall['event'], input: ExecuteDealInput) => {
    const { info } = Context.current();
    // A producer's executor runs as an activity of Warden's deal workflow, never standalone.
    const execution = info.workflowExecution!;
    appendDurably(fd, {
      event,
      dealId: input.dealId,
      amount: input.amount,
      engine: input.engine,
      workflowId: execution.workflowId,
      runId: execution.runId,
      activityId: info.activityId,
      attempt: info.attempt,
      at: Date.now(),
    });
  };
  const worker = await Worker.create({
    connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? EXECUTOR_TASK_QUEUE,
    maxConcurrentActivityTaskExecutions: 200,
    activities: {
      async executeDeal(input: ExecuteDealInput): Promise<ExecuteDealResult> {
        record('start', input);
        await sleep(options.fillMs?.() ?? 20);
        record('finish', input);
        return { realizedLoss: options.lossOf?.(input) ?? 0, externalId: `fill-${input.dealId}` };
      },
    },
  });
  const running = worker.run();
  return {
    file: options.file,
    calls: () => readCalls(options.file),
    async stop() {
      worker.shutdown();
      await running.catch(() => undefined);
      await connection.close();
      closeSync(fd);
    },
  };
}
