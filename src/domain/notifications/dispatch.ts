import { z } from 'zod';

/** Public names: operators signal and inspect it with the raw `temporal` CLI. */
export const NOTIFICATION_DISPATCH_WORKFLOW_ID = 'warden-notification-dispatch';
export const NOTIFICATION_DISPATCH_WORKFLOW_TYPE = 'notificationDispatch';

export const NotificationDispatchInputSchema = z.strictObject({
  /** Deliveries finished by earlier runs; carried over continue-as-new. */
  handledDeliveries: z.number().int().min(0).default(0),
  /** Continue-as-new after this many finished deliveries. */
  deliveriesPerRun: z.number().int().min(1).max(5000).default(500),
});
export type NotificationDispatchInput = z.input<typeof NotificationDispatchInputSchema>;

export interface NotificationDispatchView {
  /** Delivery ids being sent (or waiting for their next retry) now. */
  inFlight: string[];
  /** Delivered or failed in this run. */
  settledThisRun: number;
  /** Settled by this run and the ones before it. */
  handledDeliveries: number;
}
