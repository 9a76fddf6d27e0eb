import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Kysely } from 'kysely';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import type { Database } from '../src/db/database';
import {
  loadDelivery,
  markDeliveryFailed,
  pendingDeliveries,
  recordDeliveryAttempt,
  routeNotifications,
} from '../src/db/notifications.repository';
import type { NotificationActivities } from '../src/domain/notifications/activities';
import { ErrorType, parseInput } from '../src/domain/shared/errors';
import { DeliverNotificationInputSchema, MarkDeliveryFailedInputSchema } from '../src/domain/notifications/dispatch';
import { classifyWebhookResponse, type NotificationPayload } from '../src/domain/notifications/rules';

export interface Webhook {
  name: string;
  url: string;
}

export interface NotificationActivityDeps {
  db: Kysely<Database>;
  /** Where notifications go (WARDEN_WEBHOOKS); none: they are recorded and listed, never sent. */
  webhooks?: readonly Webhook[];
  /** Named in every payload, so one receiver can serve several deployments. */
  environment?: string;
  /** How long one POST may take before it counts as a failed attempt. */
  webhookTimeoutMs?: number;
  /** Standard Webhooks secret (whsec_…): every body is signed with it; unset, unsigned. */
  webhookSecret?: string | undefined;
}

/** A failed attempt that may succeed later: Temporal retries it with backoff. */
export class WebhookUnavailableError extends Error {
  override name = ErrorType.WebhookUnavailable;
}

export function createNotificationActivities({
  db,
  webhooks = [],
  environment = 'dev',
  webhookTimeoutMs = 10_000,
  webhookSecret,
}: NotificationActivityDeps): NotificationActivities {
  const names = webhooks.map((w) => w.name);
  const signer = webhookSecret === undefined ? undefined : new StandardWebhook(webhookSecret);
  /**
   * Standard Webhooks headers: the delivery's id is the message id, the same on every retry, so a receiver
   * drops a redelivery; the timestamp is this attempt's, which the signature covers with the body.
   */
  const signed = (id: string, body: string): Record<string, string> => {
    if (!signer) return {};
    const at = new Date();
    return {
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signer.sign(id, at, body),
    };
  };
  return {
    /** Routes new notifications to today's webhooks, then hands out the oldest pending deliveries. */
    async claimPendingDeliveries(input) {
      await routeNotifications(db, names);
      return pendingDeliveries(db, input);
    },

    /**
     * POSTs one notification to one webhook and records the attempt. Throws
     * WebhookUnavailable for what may pass (network, timeout, 408, 429, 5xx)
     * and a non-retryable WebhookRejected for what will not.
     */
    async deliverNotification(input) {
      const { deliveryId } = parseInput(DeliverNotificationInputSchema, input, 'deliverNotification input');
      const delivery = await loadDelivery(db, deliveryId);
      if (!delivery)
        throw ApplicationFailure.nonRetryable(`no notification delivery ${deliveryId}`, ErrorType.InvalidInput);
      // A retry after the outcome was recorded: never POST twice.
      if (delivery.status !== 'pending') return { status: 'already_settled' };
      const webhook = webhooks.find((w) => w.name === delivery.webhook);
      const fail = async (error: string): Promise<never> => {
        await recordDeliveryAttempt(db, deliveryId, { delivered: false, error });
        throw ApplicationFailure.nonRetryable(error, ErrorType.WebhookRejected);
      };
      if (!webhook) return fail(`webhook ${delivery.webhook} is no longer configured (WARDEN_WEBHOOKS)`);

      const payload: NotificationPayload = { ...delivery.payload, environment };
      const body = JSON.stringify(payload);
      let status: number;
      let answer: string;
      try {
        const response = await fetch(webhook.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'warden-notifications',
            ...signed(`warden-delivery-${deliveryId}`, body),
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.any([AbortSignal.timeout(webhookTimeoutMs), Context.current().cancellationSignal]),
        });
        status = response.status;
        answer = (await response.text()).slice(0, 200);
      } catch (error) {
        const message = `POST to webhook ${webhook.name} failed: ${error instanceof Error ? error.message : String(error)}`;
        await recordDeliveryAttempt(db, deliveryId, { delivered: false, error: message });
        throw new WebhookUnavailableError(message);
      }
      const problem = `webhook ${webhook.name} answered HTTP ${status}${answer === '' ? '' : `: ${answer}`}`;
      switch (classifyWebhookResponse(status)) {
        case 'delivered':
          await recordDeliveryAttempt(db, deliveryId, { delivered: true });
          return { status: 'delivered' };
        case 'retry':
          await recordDeliveryAttempt(db, deliveryId, { delivered: false, error: problem });
          throw new WebhookUnavailableError(problem);
        case 'rejected':
          return fail(problem);
      }
    },

    /** Refused for good, or out of retries: the delivery is failed and audited. */
    async markDeliveryFailed(input) {
      const { deliveryId, error } = parseInput(MarkDeliveryFailedInputSchema, input, 'markDeliveryFailed input');
      await markDeliveryFailed(db, deliveryId, error);
    },
  };
}
