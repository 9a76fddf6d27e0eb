// The notification dispatch's activity contract, implemented by activities/notifications.ts.

export interface PendingDelivery {
  deliveryId: string;
  webhook: string;
}

export interface NotificationActivities {
  /** Routes new notifications to today's webhooks, then hands out the oldest pending deliveries. */
  claimPendingDeliveries(input: {
    perWebhook: number;
    inFlight: string[];
    skipWebhooks: string[];
  }): Promise<PendingDelivery[]>;
  /**
   * POSTs one notification to one webhook and records the attempt. Throws
   * WebhookUnavailable for what may pass (network, timeout, 408, 429, 5xx)
   * and a non-retryable WebhookRejected for what will not.
   */
  deliverNotification(input: { deliveryId: string }): Promise<{ status: 'delivered' | 'already_settled' }>;
  /** Refused for good, or out of retries: the delivery is failed and audited. */
  markDeliveryFailed(input: { deliveryId: string; error: string }): Promise<void>;
}
