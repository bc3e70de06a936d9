import { z } from 'zod';
import type { JobSpec } from './spec.ts';
import { STREAMS } from './streams.ts';
import { SUBJECTS } from './subjects.ts';

/**
 * Mail ids are KV keys (sent-records) and the local part of `Message-ID`, so they keep to the
 * characters both allow.
 */
export const MailId = z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, 'letters, digits, - and _ only');

const MagicLinkMail = z.object({
  template: z.literal('magic_link'),
  /** The raw token: it travels only inside this job, never into a log or a KV bucket. */
  token: z.string().min(16).max(256),
  expiresAt: z.iso.datetime(),
});

/** An order still waiting for payment: the mailer links it to the provider's checkout (PAYMENT_CHECKOUT_URL). */
const OrderReminderMail = z.object({
  template: z.literal('order_reminder'),
  orderId: z.string().min(1).max(100),
  event: z.string().max(200),
  tickets: z.number().int().min(1),
  /** Minor units, as the order has it. */
  amount: z.number().int().nonnegative(),
  currency: z.string().regex(/^[A-Z]{3}$/),
  /** When the unpaid order expires. */
  expiresAt: z.iso.datetime().optional(),
});

/** `mail.send`: one email to one recipient, rendered by the mailer from a named template. */
export const MailSend = z.object({
  v: z.literal(1),
  mailId: MailId,
  to: z.email(),
  name: z.string().optional(),
  content: z.discriminatedUnion('template', [MagicLinkMail, OrderReminderMail]),
});
export type MailSend = z.infer<typeof MailSend>;

export const MAIL_JOBS: { readonly send: JobSpec<MailSend> } = {
  send: {
    name: 'mail.send',
    stream: STREAMS.MAIL.name,
    subject: SUBJECTS.mailSend,
    consumer: 'mailer-send',
    schema: MailSend,
    timeoutMs: 60_000,
    maxAttempts: 10,
    backoff: { initialMs: 2_000, multiplier: 2, maxMs: 300_000, jitter: 0.2 },
    concurrency: 4,
    ackWaitMs: 90_000,
  },
};

/**
 * A mailer's claim on one mail, written (create-if-absent) before it opens an SMTP conversation:
 * another delivery of the same job finds it and waits for the outcome instead of sending beside
 * it. A claim past `until` belongs to a mailer that died mid-send and may be taken over.
 */
export const MailClaim = z.object({
  state: z.literal('sending'),
  mailId: MailId,
  claimedAt: z.iso.datetime(),
  until: z.iso.datetime(),
  /** Which mailer process holds it (host/pid), for the logs. */
  by: z.string().max(200),
});
export type MailClaim = z.infer<typeof MailClaim>;

/** The mail_sent bucket's value once the SMTP server accepted the message (older records have no state). */
export const SentRecord = z.object({
  state: z.literal('sent').default('sent'),
  mailId: MailId,
  messageId: z.string(),
  sentAt: z.iso.datetime(),
  /** The SMTP server's final reply, e.g. `250 OK: queued as …`. */
  response: z.string(),
});
export type SentRecord = z.infer<typeof SentRecord>;

/** What the mail_sent bucket holds per mail id: a claim while it is being sent, then the sent-record. */
export const MailSendState = z.union([MailClaim, SentRecord]);
export type MailSendState = z.infer<typeof MailSendState>;
