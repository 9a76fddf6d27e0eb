import { allHandlersFinished, ApplicationFailure, condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { GoLiveActivities } from '../src/domain/go-live/activities';
import { ErrorType, parseInput } from '../src/domain/shared/errors';
import {
  type EndSessionPayload,
  EndSessionPayloadSchema,
  type OperatorSessionInput,
  OperatorSessionInputSchema,
  type OperatorSessionView,
} from '../src/domain/go-live/sessions';
import { describeIssues } from '../src/domain/shared/validation';
import { endSessionUpdate, sessionQuery } from './messages';
import { Visibility } from './lib/visibility';

const goLive = proxyActivities<GoLiveActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/**
 * Seed 004 PACK I: an operator's work session. Start and end each capture a
 * snapshot (control plane, capital band, health) into `operator_session`.
 * A durable workflow, so an open session survives worker and server restarts.
 */
export async function operatorSession(rawInput: OperatorSessionInput): Promise<OperatorSessionView> {
  const input = parseInput(OperatorSessionInputSchema, rawInput, 'operatorSession input');
  let view: OperatorSessionView | undefined;
  let ending: EndSessionPayload | undefined;

  setHandler(
    sessionQuery,
    () => {
      if (view === undefined) throw new Error('the session is still taking its start snapshot');
      return view;
    },
    { description: 'The session, with its start (and, once ended, end) snapshot.' },
  );
  setHandler(
    endSessionUpdate,
    async (payload) => {
      ending ??= EndSessionPayloadSchema.parse(payload);
      await condition(() => view?.status === 'ended');
      return view!;
    },
    {
      validator: (payload) => {
        const parsed = EndSessionPayloadSchema.safeParse(payload);
        if (!parsed.success)
          throw ApplicationFailure.nonRetryable(describeIssues(parsed.error), ErrorType.SessionMessageRejected);
        if (ending !== undefined)
          throw ApplicationFailure.nonRetryable(
            `session ${input.sessionId} is already ended by ${ending.actor}`,
            ErrorType.SessionMessageRejected,
          );
      },
      description: 'End the session; answers with both snapshots. {"actor": "alice", "notes": "…"}',
    },
  );

  const visibility = new Visibility().decide();
  visibility.show({ stage: 'active' }, `Operator session of ${input.operator}: active`);
  view = await goLive.openOperatorSession({
    sessionId: input.sessionId,
    operator: input.operator,
    notes: input.notes ?? null,
    startedAt: new Date().toISOString(),
  });
  await condition(() => ending !== undefined);
  view = await goLive.closeOperatorSession({
    sessionId: input.sessionId,
    actor: ending!.actor,
    notes: ending!.notes ?? null,
    endedAt: new Date().toISOString(),
  });
  await condition(allHandlersFinished);
  visibility.show(
    { stage: 'ended', outcome: 'ended' },
    `Operator session of ${input.operator}: ended by ${ending!.actor}`,
  );
  return view;
}
