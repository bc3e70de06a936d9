import type { MailSend } from '#shared/contracts/mail';
import type { JobContext } from '#shared/jobs/job';
import { sendOnce, type SendOnceDeps } from '../send-once.ts';
import { renderMagicLink, type RenderedMail } from '../templates/magic-link.ts';

export interface SendMailDeps extends Pick<SendOnceDeps, 'transport' | 'records' | 'claimMs' | 'holder' | 'pollMs'> {
  /** Base of links, e.g. `https://tickets.example.com`. */
  publicUrl: string;
  /** Right-hand side of Message-IDs. */
  messageIdDomain: string;
  now?: () => number;
}

export const verifyLink = (publicUrl: string, token: string): string => {
  const url = new URL('/auth/verify', publicUrl);
  url.searchParams.set('token', token);
  return url.toString();
};

const render = (job: MailSend, publicUrl: string): RenderedMail => {
  switch (job.content.template) {
    case 'magic_link':
      return renderMagicLink({
        link: verifyLink(publicUrl, job.content.token),
        expiresAt: job.content.expiresAt,
        ...(job.name ? { name: job.name } : {}),
      });
  }
};

/** `mail.send`: render the template and send it once; transport errors arrive already classified. */
export const createSendMail =
  (deps: SendMailDeps) =>
  async (job: MailSend, ctx: Pick<JobContext, 'jobId' | 'attempt' | 'log'> & { signal?: AbortSignal }): Promise<void> => {
    const now = deps.now ?? Date.now;
    if (job.content.template === 'magic_link' && Date.parse(job.content.expiresAt) <= now()) {
      // After a long outage the link would only fail on click; the user asks again instead.
      ctx.log.warn({ jobId: ctx.jobId, mailId: job.mailId, to: job.to }, 'magic link expired before it could be sent; dropped');
      return;
    }
    await sendOnce({ ...deps, log: ctx.log, now, signal: ctx.signal }, job.mailId, () => ({
      to: job.to,
      messageId: `<${job.mailId}@${deps.messageIdDomain}>`,
      ...render(job, deps.publicUrl),
    }));
  };
