import { z } from 'zod';
import type { JobSpec } from './spec.ts';
import { STREAMS } from './streams.ts';
import { SUBJECTS } from './subjects.ts';

/**
 * A payment processor's event, as it arrives at `POST /webhooks/payments` (Standard Webhooks
 * envelope). The stored message is the provider's raw body; this schema reads it back.
 */
export const PaymentEvent = z.object({
  type: z.string().min(1),
  timestamp: z.union([z.string(), z.number()]),
  data: z.record(z.string(), z.unknown()),
});
export type PaymentEvent = z.infer<typeof PaymentEvent>;

export const PAYMENT_SUCCEEDED = 'payment.succeeded';

/** `data` of a `payment.succeeded` event; amount in minor units, currency ISO 4217. */
export const PaymentSucceededData = z.object({
  orderId: z.string().min(1).max(100),
  amount: z.number().int().nonnegative(),
  currency: z.string().regex(/^[A-Za-z]{3}$/, 'an ISO 4217 code such as EUR'),
});
export type PaymentSucceededData = z.infer<typeof PaymentSucceededData>;

/** Headers the ingest stores with the event, so a reader knows what the provider said. */
export const PAYMENT_HEADERS = {
  webhookId: 'Webhook-Id',
  webhookTimestamp: 'Webhook-Timestamp',
  /** SHA-256 (hex) of the raw body: a later delivery under the same id is compared against it. */
  bodySha256: 'Webhook-Body-Sha256',
} as const;

/** Ticketing reacts to verified payment events; its own durable consumer reads the stream from the start. */
export const paymentReceivedJob: JobSpec<PaymentEvent> = {
  name: 'payments.event.received',
  stream: STREAMS.PAYMENTS.name,
  subject: SUBJECTS.paymentReceived,
  consumer: 'ticketing-payments',
  schema: PaymentEvent,
  timeoutMs: 30_000,
  maxAttempts: 10,
  backoff: { initialMs: 1_000, multiplier: 2, maxMs: 60_000, jitter: 0.2 },
  concurrency: 8,
  ackWaitMs: 30_000,
  deliverPolicy: 'all',
};
