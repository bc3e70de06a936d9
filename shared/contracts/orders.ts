import { z } from 'zod';
import type { JobSpec, RpcSpec } from './spec.ts';
import { STREAMS } from './streams.ts';
import { SUBJECTS } from './subjects.ts';

/**
 * Orders, owned by ticketing (the `orders` bucket). Other services reach them through the
 * request/reply subjects `SUBJECTS.ordersCreate`, `ordersGet`, `ordersList` with these schemas.
 */

/** Tickets per order a buyer may ask for through the public API (the gateway's form and POST /orders). */
export const MAX_ATTENDEES = 100;

/**
 * Tickets per order ticketing accepts from internal callers over request/reply (group bookings an
 * operator enters, the 1,000-ticket benchmark order) and stores. Buyers stay at MAX_ATTENDEES: the
 * gateway validates their body before it calls ticketing.
 */
export const MAX_ORDER_TICKETS = 1_000;

/**
 * pending_payment → paid → generating (k/N) → ready → sent; or `failed` (a payment, ticket or the
 * tickets email dead-lettered; replaying the dead letter resumes the order) or `payment_mismatch`
 * (the payment did not match; nothing generated). An order still unpaid at its `expiresAt` becomes
 * `expired`; a payment that arrives after that is honoured (the buyer paid): `expired → paid → …`.
 */
export const OrderStatus = z.enum(['pending_payment', 'paid', 'generating', 'ready', 'sent', 'failed', 'payment_mismatch', 'expired']);
export type OrderStatus = z.infer<typeof OrderStatus>;

/** One status an order entered, when, and why (the reason of `failed`, `expired`, …). */
export const OrderHistoryEntry = z.object({
  status: OrderStatus,
  at: z.string(),
  reason: z.string().optional(),
});
export type OrderHistoryEntry = z.infer<typeof OrderHistoryEntry>;

export const Attendee = z.object({ name: z.string().trim().min(1).max(200) });
export type Attendee = z.infer<typeof Attendee>;

export const EventName = z.string().trim().min(1).max(200);

/** The stored order (KV value). */
export const Order = z.object({
  v: z.literal(1),
  id: z.string(),
  userId: z.string(),
  email: z.string(),
  event: z.string(),
  attendees: z.array(Attendee).min(1).max(MAX_ORDER_TICKETS),
  amount: z.number().int().nonnegative(),
  currency: z.string(),
  status: OrderStatus,
  reason: z.string().optional(),
  /** Set with `failed` when the tickets email failed: every ticket exists, only the email is owed. */
  failedStep: z.literal('mail').optional(),
  paymentEventId: z.string().optional(),
  /** When an unpaid order expires (ORDER_EXPIRES_AFTER_MS after creation). */
  expiresAt: z.string().optional(),
  /** When its one payment reminder was claimed and queued (the mailer sends it once). */
  remindedAt: z.string().optional(),
  /** Every status it entered, oldest first (orders from before the history start at their status then). */
  history: z.array(OrderHistoryEntry).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Order = z.infer<typeof Order>;

export const TicketCount = z.object({ total: z.number().int(), generated: z.number().int() });

/**
 * An order as other services see it: the stored order plus ticket progress. `revision` is the
 * order record's revision: with `tickets.generated` it orders the views of one order in time
 * (a later status has a higher revision; within one revision the count only grows).
 */
export const OrderView = Order.omit({ v: true }).extend({
  tickets: TicketCount,
  revision: z.number().int().nonnegative().optional(),
});
export type OrderView = z.infer<typeof OrderView>;

/**
 * An order's status or ticket count moved (`orders.changed.<id>`, stream ORDER_EVENTS), published
 * by ticketing after each change with `Nats-Msg-Id` `order-changed:<id>:<revision>.<generated>`.
 * Only what can change after creation: live views merge it into the order they read first.
 */
export const OrderChanged = z.object({
  v: z.literal(1),
  id: z.string(),
  status: OrderStatus,
  reason: z.string().optional(),
  tickets: TicketCount,
  updatedAt: z.string(),
  revision: z.number().int().nonnegative(),
  /** The status history as it is now (it grows with the status), so live views show what GET /orders/:id shows. */
  history: z.array(OrderHistoryEntry).optional(),
});
export type OrderChanged = z.infer<typeof OrderChanged>;

/** The position of a view of an order in its history: compare with `compareOrderVersions`. */
export interface OrderVersion {
  revision: number;
  generated: number;
}
export const orderVersion = (view: { revision?: number | undefined; tickets: { generated: number } }): OrderVersion => ({
  revision: view.revision ?? 0,
  generated: view.tickets.generated,
});
export const compareOrderVersions = (a: OrderVersion, b: OrderVersion): number => a.revision - b.revision || a.generated - b.generated;
export const formatOrderVersion = (v: OrderVersion): string => `${v.revision}.${v.generated}`;
export const parseOrderVersion = (text: string | undefined): OrderVersion | undefined => {
  const match = /^(\d{1,15})\.(\d{1,6})$/.exec(text?.trim() ?? '');
  return match ? { revision: Number(match[1]), generated: Number(match[2]) } : undefined;
};

export const CreateOrderRequest = z.object({
  userId: z.string().min(1),
  email: z.string().min(3),
  event: EventName,
  attendees: z.array(Attendee).min(1).max(MAX_ORDER_TICKETS),
});
export type CreateOrderRequest = z.infer<typeof CreateOrderRequest>;

/** `userId` set → an order of another user is reported as not found. */
export const GetOrderRequest = z.object({ orderId: z.string().min(1), userId: z.string().optional() });
export type GetOrderRequest = z.infer<typeof GetOrderRequest>;

/**
 * One page of a user's orders (newest first; `cursor` from the previous page's `nextCursor`), or
 * without `userId` the most recently changed orders of everyone (operators; no cursor).
 */
export const ListOrdersRequest = z.object({
  userId: z.string().min(1).optional(),
  limit: z.number().int().min(1).max(200).optional(),
  cursor: z.string().min(1).max(200).optional(),
});
export type ListOrdersRequest = z.infer<typeof ListOrdersRequest>;

/**
 * `storage_full`: the orders bucket reached its `max_bytes`; no order can be added until an
 * operator makes room. `unavailable` is the client's own verdict (no answer), never sent by ticketing.
 */
export const OrderErrorCode = z.enum(['bad_request', 'not_found', 'storage_full']);
export type OrderErrorCode = z.infer<typeof OrderErrorCode>;

const failure = z.object({ ok: z.literal(false), code: OrderErrorCode, message: z.string() });

export const OrderReply = z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), order: OrderView }), failure]);
export type OrderReply = z.infer<typeof OrderReply>;

export const OrderListReply = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), orders: z.array(OrderView), nextCursor: z.string().nullable().optional() }),
  failure,
]);
export type OrderListReply = z.infer<typeof OrderListReply>;

/** Queue group of ticketing's request/reply subscriptions, so replicas share requests. */
export const ORDERS_RPC_QUEUE = 'ticketing-rpc';

const rpc = <Req extends z.ZodType, Res extends z.ZodType>(subject: string, request: Req, reply: Res): RpcSpec<Req, Res> => ({
  subject,
  request,
  reply,
});

export const ORDERS_RPC = {
  create: rpc(SUBJECTS.ordersCreate, CreateOrderRequest, OrderReply),
  get: rpc(SUBJECTS.ordersGet, GetOrderRequest, OrderReply),
  list: rpc(SUBJECTS.ordersList, ListOrdersRequest, OrderListReply),
} as const;

/**
 * `orders.reminder.due`, `orders.expiry.due`: a deadline of an order came. Delayed jobs, scheduled
 * when the order is created; the handler does nothing when the order has moved on (paid).
 */
export const OrderDeadline = z.object({ v: z.literal(1), orderId: z.string().min(1).max(100) });
export type OrderDeadline = z.infer<typeof OrderDeadline>;

/** Deterministic ids: scheduling or queueing again stores nothing new and sends nothing twice. */
export const ORDER_IDS = {
  reminder: (orderId: string) => `remind:${orderId}`,
  expiry: (orderId: string) => `expire:${orderId}`,
  /** The reminder email's mail id (its sent-record and Message-ID). */
  reminderMail: (orderId: string) => `order-reminder-${orderId}`,
} as const;

const deadlineJob = (name: string, subject: string, consumer: string): JobSpec<OrderDeadline> => ({
  name,
  stream: STREAMS.ORDER_DEADLINES.name,
  subject,
  consumer,
  schema: OrderDeadline,
  timeoutMs: 15_000,
  maxAttempts: 10,
  backoff: { initialMs: 1_000, multiplier: 2, maxMs: 60_000, jitter: 0.2 },
  concurrency: 8,
  ackWaitMs: 30_000,
  delayed: { schedules: SUBJECTS.orderSchedules },
});

/** Remind the buyer of an order still waiting for payment (once). */
export const orderReminderJob = deadlineJob('orders.reminder', SUBJECTS.orderReminderDue, 'ticketing-order-reminder');
/** Expire an order still waiting for payment. */
export const orderExpiryJob = deadlineJob('orders.expiry', SUBJECTS.orderExpiryDue, 'ticketing-order-expiry');
