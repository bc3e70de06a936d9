import type { MagicLinkRequested } from '#shared/contracts/auth';
import type { MailSend } from '#shared/contracts/mail';
import type { JobContext } from '#shared/jobs/job';
import type { TokenStore } from '../tokens.ts';
import type { UserStore } from '../users.ts';

export interface MailJobs {
  /** Durably enqueues a mail job; `id` dedupes a re-publish from a redelivered auth job. */
  send(mail: MailSend): Promise<void>;
}

/** Job ids come from headers; mail ids must be valid KV keys and Message-ID local parts. */
export const mailIdFor = (jobId: string): string => `magic-link-${jobId.replace(/[^A-Za-z0-9_-]/g, '_')}`.slice(0, 200);

/**
 * An unknown address ends here, acked and silent: the HTTP answer was the same either way, so
 * nobody learns which addresses have accounts.
 */
export const createOnMagicLinkRequested =
  (deps: { users: Pick<UserStore, 'find'>; tokens: Pick<TokenStore, 'issue'>; mail: MailJobs }) =>
  async (job: MagicLinkRequested, ctx: Pick<JobContext, 'jobId' | 'log'>): Promise<void> => {
    const user = await deps.users.find(job.email);
    if (!user) {
      ctx.log.info({ jobId: ctx.jobId, email: job.email }, 'magic link requested for an unknown address; no email');
      return;
    }
    // A redelivered job issues a second token, but its mail job carries the same id, so the
    // stream drops the copy and the user still gets one email (whose first token stays valid).
    const { token, expiresAt } = await deps.tokens.issue(user);
    const mailId = mailIdFor(ctx.jobId);
    await deps.mail.send({
      v: 1,
      mailId,
      to: user.email,
      ...(user.name ? { name: user.name } : {}),
      content: { template: 'magic_link', token, expiresAt },
    });
    ctx.log.info({ jobId: ctx.jobId, mailId, userId: user.id }, 'magic link issued; mail job queued');
  };
