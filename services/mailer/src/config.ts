import { z } from 'zod';
import { commonEnv, intFromEnv, urlFromEnv } from '#shared/config/env';

/** Mailer settings; defaults in the comments are what an unset variable means. */
export const mailerEnv = z.object({
  ...commonEnv,
  /** Where mail goes: `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://host:465`. Required. */
  SMTP_URL: urlFromEnv(['smtp:', 'smtps:']),
  /** The From header (default `Handoff <no-reply@handoff.localhost>`); its domain also ends every Message-ID. */
  MAIL_FROM: z.string().min(3).default('Handoff <no-reply@handoff.localhost>'),
  /** Base of links in emails (default `http://localhost:3000`, the gateway). */
  PUBLIC_URL: urlFromEnv(['http:', 'https:']).default('http://localhost:3000'),
  /**
   * The payment provider's hosted checkout that payment reminders link to, with the order in the
   * query (default http://localhost:3003/checkout, the dev provider `npm start` runs).
   */
  PAYMENT_CHECKOUT_URL: urlFromEnv(['http:', 'https:']).default('http://localhost:3003/checkout'),
  /** Connect, greeting and per-reply timeout of one SMTP conversation until the message is handed over (default 10 s). */
  SMTP_TIMEOUT_MS: intFromEnv(10_000).pipe(z.number().min(100)),
  /**
   * How long the mailer waits for the server's answer once the message is handed over (DATA;
   * default 10 min, RFC 5321 4.5.3.2.6): giving up earlier cannot tell a sent mail from an unsent
   * one, and the retry would send it again. A mail claimed by a mailer that died mid-send goes out
   * from another one after the job's timeout plus this plus 30 s.
   */
  SMTP_DATA_TIMEOUT_MS: intFromEnv(600_000).pipe(z.number().min(100)),
  /** Attempts per mail before it is dead-lettered (default 10). */
  MAIL_MAX_ATTEMPTS: intFromEnv(10).pipe(z.number().min(1).max(100)),
  /** Delay after the first failed attempt (default 2 s); each next one is MAIL_RETRY_MULTIPLIER times longer. */
  MAIL_RETRY_INITIAL_MS: intFromEnv(2_000),
  /** Growth factor of retry delays (default 2). */
  MAIL_RETRY_MULTIPLIER: z.coerce.number().min(1).max(10).default(2),
  /** Longest retry delay (default 5 minutes). */
  MAIL_RETRY_MAX_MS: intFromEnv(300_000),
  /** Random spread of each delay, 0–1 (default 0.2 = ±20%), so a recovered server is not hit by a herd. */
  MAIL_RETRY_JITTER: z.coerce.number().min(0).max(1).default(0.2),
  /** Mails sent at once by one mailer process (default 4). */
  MAIL_CONCURRENCY: intFromEnv(4).pipe(z.number().min(1).max(100)),
  /**
   * Ack wait of the mailer's consumers (default: the contracts', 90 s for mail.send): how long the
   * mails a crashed mailer held wait before another mailer gets them. Heartbeats keep long sends alive.
   */
  MAIL_ACK_WAIT_MS: z.coerce.number().int().min(1_000).optional(),
  /**
   * Sends per second across every mailer replica together (default: no cap), e.g. the provider's
   * limit. Decimals allowed (0.5 = one every 2 s). Sign-in mail takes the next free slot first.
   */
  MAIL_RATE_PER_SEC: z.coerce.number().positive().max(10_000).optional(),
  /** Longest a mail waits for its send slot before its job goes back to the queue, unspent (default 15 s). */
  MAIL_RATE_MAX_WAIT_MS: intFromEnv(15_000).pipe(z.number().min(100)),
  /** First pause of a lane after a 421/454 "slow down" (default 2 s); doubles while they repeat. */
  MAIL_THROTTLE_COOLDOWN_MS: intFromEnv(2_000).pipe(z.number().min(10)),
  /** Longest pause of a lane after repeated "slow down" answers (default 60 s). */
  MAIL_THROTTLE_MAX_MS: intFromEnv(60_000).pipe(z.number().min(10)),
});
export type MailerConfig = z.infer<typeof mailerEnv>;
