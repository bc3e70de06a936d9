import { expect, test } from 'vitest';
import { MailSend } from '#shared/contracts/mail';
import { ORDER_IDS, orderExpiryJob, orderReminderJob, type Order } from '#shared/contracts/orders';
import type { PaymentEvent } from '#shared/contracts/payments';
import { SUBJECTS } from '#shared/contracts/subjects';
import { createOnOrderExpiryDue } from '../src/handlers/order-expiry.ts';
import { createOnOrderReminderDue } from '../src/handlers/order-reminder.ts';
import { createOnPaymentReceived } from '../src/handlers/payment-received.ts';
import { createOrderDeadlines } from '../src/order-deadlines.ts';
import { canMove, createOrderStore, withHistory } from '../src/orders-store.ts';
import { memoryKv } from './memory-kv.ts';

const log = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
const CREATED = '2025-01-01T00:00:00.000Z';

const setup = async (status: Order['status'] = 'pending_payment') => {
  const orders = createOrderStore(memoryKv(), () => new Date('2025-01-02T00:00:00.000Z'));
  const published: Array<{ subject: string; payload: unknown; id: string | undefined }> = [];
  const publisher = { publish: async (subject: string, payload: unknown, options?: { id?: string }) => (published.push({ subject, payload, id: options?.id }), { stream: 'S', seq: published.length, duplicate: false }) };
  const order: Order = {
    v: 1,
    id: 'ord_t0000000000000000001',
    userId: 'u1',
    email: 'buyer@example.com',
    event: 'Gig <live>',
    attendees: [{ name: 'Ada' }, { name: 'Grace' }],
    amount: 5000,
    currency: 'EUR',
    status,
    expiresAt: '2025-01-02T00:00:00.000Z',
    history: [{ status: 'pending_payment', at: CREATED }],
    createdAt: CREATED,
    updatedAt: CREATED,
  };
  await orders.create(order);
  return { orders, published, publisher, order };
};

const payment = (orderId: string, amount: number): PaymentEvent => ({ type: 'payment.succeeded', timestamp: CREATED, data: { orderId, amount, currency: 'EUR' } });

test('an unpaid order may expire; an expired one may still be paid (or found mismatched), nothing else', () => {
  expect(canMove('pending_payment', 'expired')).toBe(true);
  expect(canMove('expired', 'paid')).toBe(true);
  expect(canMove('expired', 'payment_mismatch')).toBe(true);
  for (const to of ['generating', 'ready', 'sent', 'failed', 'pending_payment'] as const) expect(canMove('expired', to), to).toBe(false);
  for (const from of ['paid', 'generating', 'ready', 'sent', 'failed', 'payment_mismatch'] as const) expect(canMove(from, 'expired'), from).toBe(false);
});

test('an order gets its reminder and its expiry scheduled as delayed jobs with ids of their own', async () => {
  const calls: Array<{ job: string; payload: unknown; id: string; notBefore: string }> = [];
  const deadlines = createOrderDeadlines({
    scheduler: { schedule: async (job, payload, options) => (calls.push({ job: job.name, payload, id: options.id, notBefore: options.notBefore.toISOString() }), 'runner') },
    reminderAfterMs: 15 * 60_000,
    expiresAfterMs: 24 * 3_600_000,
  });
  await deadlines.schedule({ id: 'ord_x', createdAt: CREATED });
  expect(calls).toEqual([
    { job: orderReminderJob.name, payload: { v: 1, orderId: 'ord_x' }, id: ORDER_IDS.reminder('ord_x'), notBefore: '2025-01-01T00:15:00.000Z' },
    { job: orderExpiryJob.name, payload: { v: 1, orderId: 'ord_x' }, id: ORDER_IDS.expiry('ord_x'), notBefore: '2025-01-02T00:00:00.000Z' },
  ]);
  expect(deadlines.expiresAt(new Date(CREATED)).toISOString()).toBe('2025-01-02T00:00:00.000Z');
});

test('an unpaid order gets one reminder mail naming the order; a second delivery queues the same mail id, never a second mail', async () => {
  const { orders, published, publisher, order } = await setup();
  const remind = createOnOrderReminderDue({ orders, publisher, now: () => new Date('2025-01-01T00:15:00.000Z') });
  await remind({ v: 1, orderId: order.id }, { log });
  expect(published).toHaveLength(1);
  const [mail] = published;
  expect(mail!.subject).toBe(SUBJECTS.mailSend);
  expect(mail!.id).toBe(ORDER_IDS.reminderMail(order.id));
  expect(MailSend.parse(mail!.payload)).toEqual({
    v: 1,
    mailId: ORDER_IDS.reminderMail(order.id),
    to: 'buyer@example.com',
    content: { template: 'order_reminder', orderId: order.id, event: 'Gig <live>', tickets: 2, amount: 5000, currency: 'EUR', expiresAt: '2025-01-02T00:00:00.000Z' },
  });
  expect((await orders.get(order.id))?.remindedAt).toBe('2025-01-01T00:15:00.000Z');

  // Redelivered (the first delivery died after queueing): the same mail id, which the MAIL
  // stream and the mailer's sent-record make one email; the claim keeps its first time.
  await remind({ v: 1, orderId: order.id }, { log });
  expect(published.map((p) => p.id)).toEqual([ORDER_IDS.reminderMail(order.id), ORDER_IDS.reminderMail(order.id)]);
  expect((await orders.get(order.id))?.remindedAt).toBe('2025-01-01T00:15:00.000Z');
});

test('a paid order gets no reminder and does not expire; an unknown order is left alone', async () => {
  const { orders, published, publisher, order } = await setup();
  await orders.move(order.id, 'paid', { paymentEventId: 'evt_1' });
  await createOnOrderReminderDue({ orders, publisher })({ v: 1, orderId: order.id }, { log });
  await createOnOrderExpiryDue({ orders })({ v: 1, orderId: order.id }, { log });
  expect(published).toEqual([]);
  expect(await orders.get(order.id)).toMatchObject({ status: 'paid' });
  expect((await orders.get(order.id))?.remindedAt).toBeUndefined();
  await createOnOrderReminderDue({ orders, publisher })({ v: 1, orderId: 'ord_t0000000000000000404' }, { log });
  await createOnOrderExpiryDue({ orders })({ v: 1, orderId: 'ord_t0000000000000000404' }, { log });
  expect(published).toEqual([]);
});

test('an unpaid order expires with a reason; a late payment is honoured and the history shows both', async () => {
  const { orders, published, publisher, order } = await setup();
  await createOnOrderExpiryDue({ orders })({ v: 1, orderId: order.id }, { log });
  expect(await orders.get(order.id)).toMatchObject({ status: 'expired', reason: expect.stringMatching(/not paid in time/) });
  // An expired order gets no reminder (a reminder set later than the expiry).
  await createOnOrderReminderDue({ orders, publisher })({ v: 1, orderId: order.id }, { log });
  expect(published).toEqual([]);

  const progress = { start: async () => undefined };
  await createOnPaymentReceived({ orders, progress, publisher })(payment(order.id, order.amount), { jobId: 'evt_late', log });
  const paid = await orders.get(order.id);
  expect(paid).toMatchObject({ status: 'generating', paymentEventId: 'evt_late' });
  expect(paid?.reason).toBeUndefined();
  expect(paid?.history?.map((h) => h.status)).toEqual(['pending_payment', 'expired', 'paid', 'generating']);
  expect(paid?.history?.[1]?.reason).toMatch(/not paid in time/);
  expect(published.filter((p) => p.subject === SUBJECTS.ticketGenerate)).toHaveLength(2);
});

test('a late payment of the wrong amount for an expired order is a mismatch', async () => {
  const { orders, publisher, order } = await setup();
  await createOnOrderExpiryDue({ orders })({ v: 1, orderId: order.id }, { log });
  await createOnPaymentReceived({ orders, progress: { start: async () => undefined }, publisher })(payment(order.id, 1), { jobId: 'evt_short', log });
  expect((await orders.get(order.id))?.status).toBe('payment_mismatch');
});

test('an order from before the history starts its history with its status then; the history stays bounded', () => {
  const legacy = { status: 'paid', updatedAt: CREATED } as Order;
  expect(withHistory(legacy, { status: 'generating', at: 'later' })).toEqual([{ status: 'paid', at: CREATED }, { status: 'generating', at: 'later' }]);
  let order = { status: 'failed', updatedAt: CREATED, history: [{ status: 'pending_payment', at: 'first' }] } as Order;
  for (let i = 0; i < 100; i++) order = { ...order, history: withHistory(order, { status: i % 2 ? 'failed' : 'generating', at: String(i) }) };
  expect(order.history).toHaveLength(50);
  expect(order.history?.[0]).toEqual({ status: 'pending_payment', at: 'first' });
  expect(order.history?.at(-1)).toEqual({ status: 'failed', at: '99' });
});

test('on a full bucket an order still moves: its history then does not grow, the newest status stays', async () => {
  const kv = memoryKv();
  // A full bucket, a little stricter than the server (which takes a replacing write no larger than
  // the record it replaces: the value, its subject and framing): 32 bytes of growth at most.
  const full = {
    ...kv,
    update: async (key: string, value: Uint8Array, revision: number) => {
      const current = await kv.get(key);
      if (current && value.byteLength > current.length + 32) throw new Error('maximum bytes exceeded');
      return kv.update(key, value, revision);
    },
  } as typeof kv;
  const orders = createOrderStore(full, () => new Date('2025-01-02T00:00:00.000Z'));
  const order: Order = {
    v: 1, id: 'ord_t0000000000000000009', userId: 'u', email: 'b@example.com', event: 'Gig', attendees: [{ name: 'Ada' }], amount: 1, currency: 'EUR',
    status: 'pending_payment', history: [{ status: 'pending_payment', at: CREATED }], createdAt: CREATED, updatedAt: CREATED,
  };
  await orders.create(order);
  for (const to of ['paid', 'generating', 'ready', 'sent'] as const) expect((await orders.move(order.id, to))?.changed, to).toBe(true);
  const sent = await orders.get(order.id);
  expect(sent?.status).toBe('sent');
  expect(sent?.history?.at(-1)).toMatchObject({ status: 'sent' });
});
