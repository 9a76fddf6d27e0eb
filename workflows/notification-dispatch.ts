import {
  ActivityFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { NotificationActivities } from '../src/domain/notifications/activities';
import { ErrorType, parseInput } from '../src/domain/shared/errors';
import { type NotificationDispatchInput, NotificationDispatchInputSchema } from '../src/domain/notifications/dispatch';
import { notificationDispatchQuery, notificationsPendingSignal } from './messages';
import { Visibility } from './lib/visibility';

const { claimPendingDeliveries, markDeliveryFailed } = proxyActivities<NotificationActivities>({
  startToCloseTimeout: '30 seconds',
  // A database outage delays notifications, never drops them.
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});
// 25 attempts, 1 s doubling to 5 min apart (about 85 minutes), before a delivery is given up.
const { deliverNotification } = proxyActivities<NotificationActivities>({
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '5 minutes',
    maximumAttempts: 25,
    nonRetryableErrorTypes: [ErrorType.WebhookRejected, ErrorType.InvalidInput],
  },
});

const POLL_INTERVAL = '5 seconds';
/** Deliveries in flight per webhook: a receiver that is down holds up only its own. */
const PER_WEBHOOK = 10;

/**
 * Seed 004's notification queue, drained: one long-lived run (id
 * `warden-notification-dispatch`) routes new notifications to the configured
 * webhooks and delivers each with Temporal's retries, so a delivery survives
 * worker restarts. It looks for work every few seconds, at once on
 * `notificationsPending`, and whenever a delivery settles.
 */
export async function notificationDispatch(rawInput: NotificationDispatchInput = {}): Promise<void> {
  const input = parseInput(NotificationDispatchInputSchema, rawInput ?? {}, 'notificationDispatch input');
  const inFlight = new Map<string, string>(); // delivery id → webhook
  let settled = 0;
  let woken = false;
  const visibility = new Visibility().decide();
  visibility.show({ stage: 'dispatching' });

  setHandler(notificationsPendingSignal, () => void (woken = true), {
    description: 'Look for undelivered notifications now instead of at the next poll. No payload.',
  });
  setHandler(
    notificationDispatchQuery,
    () => ({
      inFlight: [...inFlight.keys()],
      settledThisRun: settled,
      handledDeliveries: input.handledDeliveries + settled,
    }),
    {
      description: 'Deliveries in flight, and how many have settled (delivered or failed).',
    },
  );

  const deliver = async (deliveryId: string): Promise<void> => {
    try {
      await deliverNotification({ deliveryId });
    } catch (error) {
      if (!(error instanceof ActivityFailure)) throw error;
      // Refused for good, or out of retries: recorded, audited, and the queue moves on.
      await markDeliveryFailed({ deliveryId, error: error.cause?.message ?? error.message });
    } finally {
      inFlight.delete(deliveryId);
      settled += 1;
    }
  };

  for (;;) {
    const winding = settled >= input.deliveriesPerRun || workflowInfo().continueAsNewSuggested;
    // Deliveries in flight finish in this run, so a new run never sends what an old one is still sending.
    if (winding && inFlight.size === 0) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof notificationDispatch>({
        handledDeliveries: input.handledDeliveries + settled,
        deliveriesPerRun: input.deliveriesPerRun,
      });
    }
    woken = false;
    const claimed = await claimPendingDeliveries({
      perWebhook: PER_WEBHOOK,
      inFlight: [...inFlight.keys()],
      // While winding down, a webhook still retrying gets nothing new, so the run drains within one retry window.
      skipWebhooks: winding ? [...new Set(inFlight.values())] : [],
    });
    for (const { deliveryId, webhook } of claimed) {
      inFlight.set(deliveryId, webhook);
      void deliver(deliveryId);
    }
    visibility.show(
      {},
      `${inFlight.size} deliveries in flight; ${input.handledDeliveries + settled} settled since the first run`,
    );
    const settledBefore = settled;
    await condition(() => woken || settled !== settledBefore, POLL_INTERVAL);
  }
}
