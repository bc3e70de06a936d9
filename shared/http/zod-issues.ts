import type { z } from 'zod';

/** The first issue of a failed parse as one line a client can act on: `attendees.0.name: Too small…`. */
export const firstIssue = (error: z.ZodError, root = 'body'): string => {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || root}: ${issue.message}` : 'invalid request';
};

/** Every issue, `; `-joined (for bodies whose every fault matters to the sender, e.g. a payment event). */
export const allIssues = (error: z.ZodError, root = 'body'): string =>
  error.issues.map((issue) => `${issue.path.join('.') || root} ${issue.message}`).join('; ');
