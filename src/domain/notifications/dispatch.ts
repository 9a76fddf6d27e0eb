import { z } from 'zod';
import { rowIdSchema } from '../shared/validation';

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

/** A notification_delivery id in its decimal form, as the claims hand it out. */
const DeliveryIdSchema = rowIdSchema('must be a delivery id (a positive integer)');

/** The delivery activities' inputs: checked before any SQL, so a bad id fails once instead of retrying. */
export const DeliverNotificationInputSchema = z.object({ deliveryId: DeliveryIdSchema });
export const MarkDeliveryFailedInputSchema = z.object({ deliveryId: DeliveryIdSchema, error: z.string() });
