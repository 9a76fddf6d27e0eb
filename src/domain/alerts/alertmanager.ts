import { z } from 'zod';
import { EngineSchema } from '../risk/rules';
import { storableText } from '../shared/validation';

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

/** Labels as stored: at most 50, keys and values escaped and truncated (a NUL must not fail the audit). */
function storableLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels)
      .slice(0, 50)
      .map(([k, v]) => [storableText(k, 100), storableText(v, 500)]),
  );
}

/**
 * What each alert asks of Warden. Only a firing alert with a `warden_action`
 * label acts; everything else is recorded. A resolved alert never releases
 * anything: stopping is automatic, starting again is a human decision. Every
 * text taken from the alert is made safe to store, so a hostile label cannot
 * fail the batch (and with it a kill switch); kill-switch steps come first.
 */
export function planAlertActions(payload: AlertmanagerPayload): AlertStep[] {
  const steps = payload.alerts.map((alert): AlertStep => {
    const alertname = storableText(alert.labels.alertname ?? 'unnamed', 200);
    const summary = storableText(alert.annotations.summary ?? alert.annotations.description ?? alertname, 1500);
    const record = (note: string): AlertStep => ({
      kind: 'record',
      status: alert.status,
      alertname,
      fingerprint: storableText(alert.fingerprint, 100),
      labels: storableLabels(alert.labels),
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
    return record(
      `unknown warden_action '${storableText(action, 100)}' (expected ${WARDEN_ACTIONS.join(', ')}): recorded only`,
    );
  });
  const first = (step: AlertStep) => (step.kind === 'act' && step.action === 'kill_switch' ? 0 : 1);
  return steps
    .map((step, i) => ({ step, i }))
    .sort((a, b) => first(a.step) - first(b.step) || a.i - b.i)
    .map((x) => x.step);
}
