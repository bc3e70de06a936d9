import { MAIL_JOBS } from '#shared/contracts/mail';
import type { JobSpec } from '#shared/contracts/spec';
import type { MailSend } from '#shared/contracts/mail';
import type { MailerConfig } from './config.ts';

/** The `mail.send` job with its retry policy taken from configuration. */
export const mailSendJob = (
  config: Pick<MailerConfig, 'MAIL_MAX_ATTEMPTS' | 'MAIL_RETRY_INITIAL_MS' | 'MAIL_RETRY_MULTIPLIER' | 'MAIL_RETRY_MAX_MS' | 'MAIL_RETRY_JITTER' | 'MAIL_CONCURRENCY' | 'SMTP_TIMEOUT_MS' | 'MAIL_ACK_WAIT_MS'>,
): JobSpec<MailSend> => ({
  ...MAIL_JOBS.send,
  maxAttempts: config.MAIL_MAX_ATTEMPTS,
  concurrency: config.MAIL_CONCURRENCY,
  ackWaitMs: config.MAIL_ACK_WAIT_MS ?? MAIL_JOBS.send.ackWaitMs,
  // One attempt may spend a timeout on each of connect, greeting and the socket; leave it room.
  timeoutMs: Math.max(MAIL_JOBS.send.timeoutMs, config.SMTP_TIMEOUT_MS * 3 + 5_000),
  backoff: {
    initialMs: config.MAIL_RETRY_INITIAL_MS,
    multiplier: config.MAIL_RETRY_MULTIPLIER,
    maxMs: Math.max(config.MAIL_RETRY_MAX_MS, config.MAIL_RETRY_INITIAL_MS),
    jitter: config.MAIL_RETRY_JITTER,
  },
});
