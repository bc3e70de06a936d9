import { checkoutLink } from '#shared/contracts/checkout';
import type { MailSend } from '#shared/contracts/mail';
import type { JobContext } from '#shared/jobs/job';
import { sendOnce, type SendOnceDeps } from '../send-once.ts';
import { renderMagicLink, type RenderedMail } from '../templates/magic-link.ts';
import { renderOrderReminder } from '../templates/order-reminder.ts';

export interface SendMailDeps extends Pick<SendOnceDeps, 'transport' | 'records' | 'claimMs' | 'holder' | 'pollMs'> {
  /** Base of links, e.g. `https://tickets.example.com`. */
  publicUrl: string;
  /** The payment provider's hosted checkout (PAYMENT_CHECKOUT_URL), for payment reminders. */
  checkoutUrl: string;
  /** Right-hand side of Message-IDs. */
  messageIdDomain: string;
  now?: () => number;
}

export const verifyLink = (publicUrl: string, token: string): string => {
  const url = new URL('/auth/verify', publicUrl);
  url.searchParams.set('token', token);
  return url.toString();
};

const render = (job: MailSend, deps: Pick<SendMailDeps, 'publicUrl' | 'checkoutUrl'>): RenderedMail => {
  const { content } = job;
  switch (content.template) {
    case 'magic_link':
      return renderMagicLink({
        link: verifyLink(deps.publicUrl, content.token),
        expiresAt: content.expiresAt,
        ...(job.name ? { name: job.name } : {}),
      });
    case 'order_reminder': {
      const description = `${content.tickets} ticket${content.tickets === 1 ? '' : 's'} for ${content.event}`;
      // The buyer comes back to the buyer page, where the order shows its progress.
      const link = checkoutLink(deps.checkoutUrl, { id: content.orderId, amount: content.amount, currency: content.currency, description }, new URL('/', deps.publicUrl).toString());
      return renderOrderReminder({ ...content, link });
    }
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
      ...render(job, deps),
    }));
  };
