import type { z } from 'zod';

/** One line naming the first offending field, e.g. `reason: must say why`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        const prefix = issue.path.length > 0 ? `${issue.path.join('.')}.` : '';
        return issue.keys.map((key) => `${prefix}${key}: unknown field`).join('; ');
      }
      const field = issue.path.length > 0 ? issue.path.join('.') : 'payload';
      return `${field}: ${issue.message}`;
    })
    .join('; ');
}

/** A caller's request (to the client or a producer repository) failed validation; the message names the field. */
export class InvalidRequestError extends Error {
  override name = 'InvalidRequestError';
}

/** Parses a caller's request, throwing InvalidRequestError naming the first bad field. */
export function validateRequest<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InvalidRequestError(`invalid ${what}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}
