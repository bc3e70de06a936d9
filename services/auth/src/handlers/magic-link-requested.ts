import type { MagicLinkRequested } from '#shared/contracts/auth';
import type { MailSend } from '#shared/contracts/mail';
import { magicLinkMailChecks, type MagicLinkLimits } from '#shared/http/magic-link-limits';
import type { QuotaLimiter } from '#shared/http/rate-limit';
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
 * The shared per-email limits, checked here behind the queue: every gateway replica counts only
 * what it saw, so across replicas this is what keeps the mail within the limits.
 */
export interface MailLimits {
  limiter: QuotaLimiter;
  rules: Pick<MagicLinkLimits, 'emailNetwork' | 'email'>;
  /** A request over the limit was dropped without mail (a metric for operators). */
  dropped?(scopes: string[]): void;
}

/**
 * An unknown address ends here, acked and silent: the HTTP answer was the same either way, so
 * nobody learns which addresses have accounts. So does a request over the shared limits: counted
 * before the user is looked up, like at the gateway, and dropped (acked, not dead-lettered: it is
 * not a failure, and its client was answered long ago) with a warning and the `dropped` count.
 */
export const createOnMagicLinkRequested =
  (deps: { users: Pick<UserStore, 'find'>; tokens: Pick<TokenStore, 'issue'>; mail: MailJobs; limits?: MailLimits }) =>
  async (job: MagicLinkRequested, ctx: Pick<JobContext, 'jobId' | 'log'>): Promise<void> => {
    const limits = deps.limits;
    if (!limits) return issue(deps, job, ctx);
    const checks = magicLinkMailChecks(job.email, job.network, limits.rules);
    const decision = await limits.limiter.take(checks);
    if (!decision.allowed) {
      const scopes = decision.refused.map((i) => checks[i]!.scope);
      ctx.log.warn({ jobId: ctx.jobId, email: job.email, scopes, outcome: 'dropped', retryAfterSeconds: decision.retryAfterSeconds }, 'magic link over the shared limit; dropped, no email');
      limits.dropped?.(scopes);
      return;
    }
    try {
      await issue(deps, job, ctx);
    } catch (error) {
      // The attempt failed before its mail job was stored: the retry counts again, so give this back.
      await decision.release().catch(() => undefined);
      throw error;
    }
  };

const issue = async (
  deps: { users: Pick<UserStore, 'find'>; tokens: Pick<TokenStore, 'issue'>; mail: MailJobs },
  job: MagicLinkRequested,
  ctx: Pick<JobContext, 'jobId' | 'log'>,
): Promise<void> => {
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
