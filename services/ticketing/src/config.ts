import { z } from 'zod';
import { commonEnv, intFromEnv } from '#shared/config/env';
import type { JobSpec } from '#shared/contracts/spec';

const optionalMs = z.coerce.number().int().positive().optional();
/** A delay of at least a second (short ones are for tests). */
const deadlineMs = (fallback: number) => intFromEnv(fallback).pipe(z.number().min(1_000, 'must be at least 1000 (ms)'));

/** Settings of the ticketing worker. Job timings default to the contracts; the overrides exist for tests and tuning. */
export const ticketingEnv = z.object({
  ...commonEnv,
  /** Price of one ticket in minor units (2500 = 25.00). */
  TICKET_PRICE: intFromEnv(2500),
  /** ISO 4217 currency of orders. */
  CURRENCY: z
    .string()
    .regex(/^[A-Za-z]{3}$/, 'must be an ISO 4217 code such as EUR')
    .transform((value) => value.toUpperCase())
    .default('EUR'),
  /** HMAC key that signs the ticket id in each ticket's QR code; scanners verify with the same key. */
  TICKET_SIGNING_KEY: z.string({ error: 'required: a secret of at least 32 characters' }).min(32, 'must be at least 32 characters'),
  /** Child processes that render PDFs (each renders one ticket at a time). */
  RENDER_PROCESSES: z.coerce.number().int().min(1).max(64).default(2),
  /** Hard limit of one render attempt; a hung render is killed with its process group. */
  TICKET_TIMEOUT_MS: optionalMs,
  TICKET_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).optional(),
  /** Parallel ticket jobs per process (default: the contract's). */
  TICKET_CONCURRENCY: z.coerce.number().int().min(1).max(256).optional(),
  /** Ack wait of every ticketing consumer: how soon a crashed worker's messages go to another. */
  TICKETING_ACK_WAIT_MS: optionalMs,
  /** First retry delay and cap of every ticketing job's backoff. */
  TICKETING_BACKOFF_INITIAL_MS: optionalMs,
  TICKETING_BACKOFF_MAX_MS: optionalMs,
  /** An order still unpaid this long after its creation gets one payment reminder (default 15 minutes). */
  ORDER_REMINDER_AFTER_MS: deadlineMs(15 * 60_000),
  /** An order still unpaid this long after its creation expires (default 24 hours); a later payment is still honoured. */
  ORDER_EXPIRES_AFTER_MS: deadlineMs(24 * 60 * 60_000),
});
export type TicketingConfig = Readonly<z.infer<typeof ticketingEnv>>;

/** A job's contract timing with the configured overrides applied. */
export const withTiming = <T>(job: JobSpec<T>, config: TicketingConfig, own: { timeoutMs?: number; maxAttempts?: number; concurrency?: number } = {}): JobSpec<T> => {
  const ackWaitMs = config.TICKETING_ACK_WAIT_MS ?? job.ackWaitMs;
  const initialMs = config.TICKETING_BACKOFF_INITIAL_MS ?? job.backoff.initialMs;
  return {
    ...job,
    timeoutMs: own.timeoutMs ?? job.timeoutMs,
    maxAttempts: own.maxAttempts ?? job.maxAttempts,
    concurrency: own.concurrency ?? job.concurrency,
    ackWaitMs,
    backoff: { ...job.backoff, initialMs, maxMs: Math.max(initialMs, config.TICKETING_BACKOFF_MAX_MS ?? job.backoff.maxMs) },
  };
};
