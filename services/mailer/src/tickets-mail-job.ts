import type { JobSpec } from '#shared/contracts/spec';
import { ticketsReadyMailJob, type TicketsReady } from '#shared/contracts/tickets';
import type { MailerConfig } from './config.ts';

/** The mailer's `tickets.ready` reader, with the same retry settings as every other mail. */
export const ticketsMailJob = (
  config: Pick<MailerConfig, 'MAIL_MAX_ATTEMPTS' | 'MAIL_RETRY_INITIAL_MS' | 'MAIL_RETRY_MULTIPLIER' | 'MAIL_RETRY_MAX_MS' | 'MAIL_RETRY_JITTER' | 'MAIL_CONCURRENCY' | 'SMTP_TIMEOUT_MS' | 'MAIL_ACK_WAIT_MS'>,
): JobSpec<TicketsReady> => ({
  ...ticketsReadyMailJob,
  maxAttempts: config.MAIL_MAX_ATTEMPTS,
  concurrency: config.MAIL_CONCURRENCY,
  ackWaitMs: config.MAIL_ACK_WAIT_MS ?? ticketsReadyMailJob.ackWaitMs,
  timeoutMs: Math.max(ticketsReadyMailJob.timeoutMs, config.SMTP_TIMEOUT_MS * 3 + 5_000),
  backoff: {
    initialMs: config.MAIL_RETRY_INITIAL_MS,
    multiplier: config.MAIL_RETRY_MULTIPLIER,
    maxMs: Math.max(config.MAIL_RETRY_MAX_MS, config.MAIL_RETRY_INITIAL_MS),
    jitter: config.MAIL_RETRY_JITTER,
  },
});
