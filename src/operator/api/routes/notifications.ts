import { WorkflowUpdateFailedError } from '@temporalio/client';
import { z } from 'zod';
import { InvalidRequestError } from '../../../domain/shared/validation';
import {
  type AlertmanagerPayload,
  AlertmanagerPayloadSchema,
  planAlertActions,
} from '../../../domain/alerts/alertmanager';
import { recordAuditEvent } from '../../../db/audit.repository';
import { AuditKind } from '../../../domain/audit/kinds';
import { listNotifications } from '../../../db/notifications.repository';
import type { Identity } from '../../../domain/identity/roles';
import { route, type RouteSpec } from '../http';
import { type ApiDeps, ok, Paging } from './shared';

async function actOnAlerts(deps: ApiDeps, identity: Identity, payload: AlertmanagerPayload) {
  const plan = planAlertActions(payload);
  const results = [];
  for (const item of plan) {
    if (item.kind === 'record') {
      await recordAuditEvent(deps.db, {
        actor: identity.name,
        kind: AuditKind.alert[item.status],
        subject: `alert:${item.alertname}`,
        details: { fingerprint: item.fingerprint, labels: item.labels, note: item.note },
      });
      results.push({ alert: item.alertname, status: item.status, action: 'recorded' });
      continue;
    }
    const reason = `alert ${item.alertname} firing: ${item.summary}`;
    // A refused restriction is reported with its alert; it never fails the batch (nor a kill switch in it).
    const changed = await (
      item.action === 'kill_switch'
        ? deps.warden.changeControlPlane({
            kind: 'engageKillSwitch',
            source: 'alertmanager',
            actor: identity.name,
            reason,
          })
        : deps.warden.changeControlPlane({
            kind: 'restrictEngine',
            engine: item.engine,
            restriction: item.action,
            source: 'alertmanager',
            actor: identity.name,
            reason,
          })
    ).catch((error: unknown) => {
      if (!(error instanceof InvalidRequestError || error instanceof WorkflowUpdateFailedError)) throw error;
      return {
        outcome: {
          status: 'refused' as const,
          reason: error instanceof WorkflowUpdateFailedError ? (error.cause?.message ?? error.message) : error.message,
        },
      };
    });
    results.push({
      alert: item.alertname,
      status: 'firing',
      action: item.action,
      ...(item.action === 'kill_switch' ? {} : { engine: item.engine }),
      outcome: changed.outcome,
    });
  }
  return { receiver: identity.name, results };
}

/** Notifications out (with their webhook deliveries) and alerts in (the Alertmanager receiver). */
export function notificationRoutes(deps: ApiDeps): RouteSpec[] {
  return [
    route({
      id: 'notifications',
      method: 'GET',
      url: '/notifications',
      access: 'read',
      summary: 'Notifications and their webhook deliveries.',
      query: Paging.extend({ pending: z.enum(['true', 'false']).optional() }),
      handle: async ({ query }) =>
        ok(await listNotifications(deps.db, { limit: query.limit, pendingOnly: query.pending === 'true' })),
    }),
    route({
      id: 'alertmanager',
      method: 'POST',
      url: '/alerts/alertmanager',
      access: 'alertmanager',
      summary:
        'Alertmanager webhook receiver (?receiver=<name>, Authorization: Bearer <secret>): a firing alert labelled warden_action=kill_switch|pause|throttle acts through the control plane; resolved alerts are recorded and never release anything.',
      query: z.strictObject({ receiver: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'expected a receiver name') }),
      body: AlertmanagerPayloadSchema,
      handle: async ({ identity, body }) => ok(await actOnAlerts(deps, identity, body)),
    }),
  ];
}
