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
