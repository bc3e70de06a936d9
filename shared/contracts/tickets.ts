import { z } from 'zod';
import type { JobSpec } from './spec.ts';
import { STREAMS } from './streams.ts';
import { SUBJECTS } from './subjects.ts';

/** Ticket n (1-based) of an order: its PDF lives in the `tickets` object store under this name. */
export const ticketObjectName = (orderId: string, n: number) => `${orderId}/${n}.pdf`;

/** Deterministic message ids: a redelivered step re-publishes the same id and JetStream drops the copy. */
export const TICKET_IDS = {
  generate: (orderId: string, n: number) => `generate:${orderId}:${n}`,
  generated: (orderId: string, n: number) => `generated:${orderId}:${n}`,
  ready: (orderId: string) => `ready:${orderId}`,
  sent: (orderId: string) => `sent:${orderId}`,
  /** Per dead-lettered `tickets.ready` message: a replayed one that fails again is a new event. */
  mailFailed: (stream: string, streamSeq: number) => `mail-failed:${stream}:${streamSeq}`,
} as const;

/** `generate_ticket`: render one ticket and store it. */
export const GenerateTicket = z.object({
  v: z.literal(1),
  orderId: z.string().min(1),
  n: z.number().int().min(1),
  total: z.number().int().min(1),
  event: z.string(),
  attendee: z.string(),
});
export type GenerateTicket = z.infer<typeof GenerateTicket>;

/** A ticket's PDF is stored; the aggregator counts it. */
export const TicketGenerated = z.object({
  v: z.literal(1),
  orderId: z.string().min(1),
  n: z.number().int().min(1),
  total: z.number().int().min(1),
  object: z.string(),
  size: z.number().int().nonnegative(),
  /** `traceparent` of the attempt that rendered it: the tickets.ready span links to every one. */
  trace: z.string().max(128).optional(),
});
export type TicketGenerated = z.infer<typeof TicketGenerated>;

/** Every ticket of an order is stored: published once per order (`Nats-Msg-Id` `ready:<orderId>`). */
export const TicketsReady = z.object({
  v: z.literal(1),
  orderId: z.string().min(1),
  email: z.string(),
  event: z.string(),
  tickets: z.array(z.object({ n: z.number().int().min(1), attendee: z.string(), object: z.string() })).min(1),
});
export type TicketsReady = z.infer<typeof TicketsReady>;

/** The mailer sent the order's tickets. */
export const TicketsSent = z.object({
  v: z.literal(1),
  orderId: z.string().min(1),
  sentAt: z.string(),
  messageId: z.string().optional(),
});
export type TicketsSent = z.infer<typeof TicketsSent>;

/**
 * The mailer gave up on an order's tickets email (the server refused it with a 5xx, or every
 * attempt failed): its `tickets.ready` is in the dead-letter stream. Ticketing marks the order
 * `failed` with `reason`; replaying the dead letter sends the email and the order ends `sent`.
 */
export const TicketsMailFailed = z.object({
  v: z.literal(1),
  orderId: z.string().min(1),
  reason: z.string().max(2_000),
  failedAt: z.string(),
});
export type TicketsMailFailed = z.infer<typeof TicketsMailFailed>;

const SECOND = 1_000;

/** Rendering is CPU work in a child process; the timeout kills a hung render. */
export const generateTicketJob: JobSpec<GenerateTicket> = {
  name: 'tickets.generate',
  stream: STREAMS.TICKETS.name,
  subject: SUBJECTS.ticketGenerate,
  consumer: 'ticketing-generate',
  schema: GenerateTicket,
  timeoutMs: 30 * SECOND,
  maxAttempts: 5,
  backoff: { initialMs: 2 * SECOND, multiplier: 2, maxMs: 60 * SECOND, jitter: 0.2 },
  concurrency: 4,
  ackWaitMs: 30 * SECOND,
};

export const ticketGeneratedJob: JobSpec<TicketGenerated> = {
  name: 'tickets.generated',
  stream: STREAMS.TICKETS.name,
  subject: SUBJECTS.ticketGenerated,
  consumer: 'ticketing-aggregate',
  schema: TicketGenerated,
  timeoutMs: 15 * SECOND,
  maxAttempts: 20,
  backoff: { initialMs: 500, multiplier: 2, maxMs: 30 * SECOND, jitter: 0.3 },
  concurrency: 16,
  ackWaitMs: 30 * SECOND,
};

export const ticketsSentJob: JobSpec<TicketsSent> = {
  name: 'tickets.sent',
  stream: STREAMS.TICKETS.name,
  subject: SUBJECTS.ticketsSent,
  consumer: 'ticketing-sent',
  schema: TicketsSent,
  timeoutMs: 15 * SECOND,
  maxAttempts: 20,
  backoff: { initialMs: 500, multiplier: 2, maxMs: 30 * SECOND, jitter: 0.3 },
  concurrency: 8,
  ackWaitMs: 30 * SECOND,
};

/** Ticketing's reaction to a tickets email the mailer gave up on: the order becomes `failed`. */
export const ticketsMailFailedJob: JobSpec<TicketsMailFailed> = {
  name: 'tickets.mail_failed',
  stream: STREAMS.TICKETS.name,
  subject: SUBJECTS.ticketsMailFailed,
  consumer: 'ticketing-mail-failed',
  schema: TicketsMailFailed,
  timeoutMs: 15 * SECOND,
  maxAttempts: 20,
  backoff: { initialMs: 500, multiplier: 2, maxMs: 30 * SECOND, jitter: 0.3 },
  concurrency: 4,
  ackWaitMs: 30 * SECOND,
};

/** The mailer's own reader of tickets.ready: one email per order with every PDF attached. */
export const ticketsReadyMailJob: JobSpec<TicketsReady> = {
  name: 'tickets.ready',
  stream: STREAMS.TICKET_EVENTS.name,
  subject: SUBJECTS.ticketsReady,
  consumer: 'mailer-tickets',
  schema: TicketsReady,
  timeoutMs: 60 * SECOND,
  maxAttempts: 8,
  backoff: { initialMs: 2 * SECOND, multiplier: 2, maxMs: 5 * 60 * SECOND, jitter: 0.2 },
  concurrency: 4,
  ackWaitMs: 30 * SECOND,
  deliverPolicy: 'all',
};
