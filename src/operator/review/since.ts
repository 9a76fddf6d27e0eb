import { z } from 'zod';
import { durationMs } from '../../domain/shared/durations';

/** Where a review starts: a duration back from now (7d, 12h, 30m), a date (2026-11-30) or an ISO instant. */
export const SinceSchema = z.string().transform((value, ctx) => {
  if (/^\d+(m|h|d)$/.test(value)) return new Date(Date.now() - durationMs(value));
  const at = /^\d{4}-\d{2}-\d{2}$/.test(value)
    ? new Date(`${value}T00:00:00Z`)
    : z.iso.datetime({ offset: true }).safeParse(value).success
      ? new Date(value)
      : undefined;
  if (!at || Number.isNaN(at.getTime())) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a duration such as 7d or 12h, a date such as 2026-11-30, or an ISO instant; got '${value}'`,
    });
    return z.NEVER;
  }
  return at;
});
