import { z } from 'zod';
import { EngineSchema } from '../risk/rules';

/**
 * Alertmanager's webhook payload (version 4), read tolerantly: Alertmanager
 * adds fields over time, and a receiver must not break on them.
 */
const AlertSchema = z
  .object({
    status: z.enum(['firing', 'resolved']),
    labels: z.record(z.string(), z.string()),
    annotations: z.record(z.string(), z.string()).default({}),
    fingerprint: z.string().default(''),
    startsAt: z.string().optional(),
    endsAt: z.string().optional(),
  })
  .loose();

export const AlertmanagerPayloadSchema = z
  .object({
    version: z.string().optional(),
    status: z.enum(['firing', 'resolved']),
    receiver: z.string().optional(),
    alerts: z.array(AlertSchema).min(1, 'expected at least one alert'),
  })
  .loose();
export type AlertmanagerPayload = z.infer<typeof AlertmanagerPayloadSchema>;

export const WARDEN_ACTIONS = ['kill_switch', 'pause', 'throttle'] as const;
export type WardenAction = (typeof WARDEN_ACTIONS)[number];

export type AlertStep =
  | { kind: 'act'; action: 'kill_switch'; alertname: string; summary: string }
  | { kind: 'act'; action: 'pause' | 'throttle'; engine: string; alertname: string; summary: string }
  | {
      kind: 'record';
      status: 'firing' | 'resolved';
      alertname: string;
      fingerprint: string;
      labels: Record<string, string>;
      note: string;
    };

/**
 * What each alert asks of Warden. Only a firing alert with a `warden_action`
 * label acts; everything else is recorded. A resolved alert never releases
 * anything: stopping is automatic, starting again is a human decision.
 */
export function planAlertActions(payload: AlertmanagerPayload): AlertStep[] {
  return payload.alerts.map((alert): AlertStep => {
    const alertname = alert.labels.alertname ?? 'unnamed';
    const summary = alert.annotations.summary ?? alert.annotations.description ?? alertname;
    const record = (note: string): AlertStep => ({
      kind: 'record',
      status: alert.status,
      alertname,
      fingerprint: alert.fingerprint,
      labels: alert.labels,
      note,
    });
    if (alert.status === 'resolved') return record('resolved: recorded only; a release stays a human decision');
    const action = alert.labels.warden_action;
    if (action === undefined) return record('firing without warden_action: recorded only');
    if (action === 'kill_switch') return { kind: 'act', action, alertname, summary };
    if (action === 'pause' || action === 'throttle') {
      const engine = EngineSchema.safeParse(alert.labels.engine);
      if (!engine.success)
        return record(`warden_action=${action} needs an engine label naming the engine (e.g. engine="WHOLESALE")`);
      return { kind: 'act', action, engine: engine.data, alertname, summary };
    }
    return record(`unknown warden_action '${action}' (expected ${WARDEN_ACTIONS.join(', ')}): recorded only`);
  });
}
