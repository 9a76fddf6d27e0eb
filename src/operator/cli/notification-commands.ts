import type { NotificationView } from '../../db/notifications.repository';
import { EXIT, expectArgs, type Invocation, printJsonOr, table } from './shared';

function deliveryCell(n: NotificationView): string {
  if (!n.routed) return 'not routed yet';
  if (n.deliveries.length === 0) return 'no webhooks';
  return n.deliveries
    .map((d) => `${d.webhook}:${d.status}${d.attempts > 1 || d.status !== 'delivered' ? `(${d.attempts})` : ''}`)
    .join(' ');
}

/** `warden notifications [--pending] [--json]`: the newest 50, with each webhook's delivery. */
async function notifications({ flags, args, ops }: Invocation): Promise<number> {
  expectArgs('notifications', args, 0);
  const list = await ops.call('notifications.list', { pending: flags.pending === true });
  printJsonOr(flags, list, () => {
    if (list.length === 0) return [flags.pending ? 'no undelivered notifications' : 'no notifications yet'];
    const problems = list.flatMap((n) =>
      n.deliveries
        .filter((d) => d.lastError !== null && d.status !== 'delivered')
        .map((d) => `  #${n.id} → ${d.webhook} (${d.status}): ${d.lastError}`),
    );
    return [
      ...table(
        ['id', 'at', 'kind', 'deliveries', 'summary'],
        list.map((n) => [n.id, n.at, n.kind, deliveryCell(n), n.summary]),
      ),
      ...(problems.length > 0 ? ['', 'last errors:', ...problems] : []),
    ];
  });
  return EXIT.ok;
}

export const notificationCommands: Record<string, (inv: Invocation) => Promise<number>> = { notifications };
