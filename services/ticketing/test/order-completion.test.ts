import { expect, test } from 'vitest';
import type { Order } from '#shared/contracts/orders';
import type { GenerateTicket, TicketGenerated, TicketsMailFailed } from '#shared/contracts/tickets';
import type { DeadLetterRecord } from '#shared/jobs/dead-letter';
import { createOnTicketDeadLettered } from '../src/handlers/ticket-dead-lettered.ts';
import { createOnTicketsMailFailed } from '../src/handlers/tickets-mail-failed.ts';
import { createOnTicketsSent } from '../src/handlers/tickets-sent.ts';
import { createOnTicketGenerated } from '../src/order-completion.ts';
import { canMove, createOrderStore } from '../src/orders-store.ts';
import { createProgressStore } from '../src/progress-store.ts';
import { memoryKv } from './memory-kv.ts';

const log = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

const setup = async (total: number) => {
  const orders = createOrderStore(memoryKv());
  const progress = createProgressStore(memoryKv());
  const stored = new Set<string>();
  const published: Array<{ subject: string; id: string | undefined }> = [];
  const order: Order = {
    v: 1,
    id: 'ord_00000000000000000001',
    userId: 'u1',
    email: 'a@example.test',
    event: 'Gig',
    attendees: Array.from({ length: total }, (_, i) => ({ name: `G${i + 1}` })),
    amount: 100,
    currency: 'EUR',
    status: 'generating',
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
  };
  await orders.create(order);
  await progress.start(order.id, total);
  const onGenerated = createOnTicketGenerated({
    progress,
    orders,
    store: { size: async (name) => (stored.has(name) ? 1 : undefined) },
    publisher: { publish: async (subject, _payload, options) => (published.push({ subject, id: options?.id }), { duplicate: false, seq: 1, stream: 'T' }) },
  });
  const generated = (n: number): TicketGenerated => {
    stored.add(`${order.id}/${n}.pdf`);
    return { v: 1, orderId: order.id, n, total, object: `${order.id}/${n}.pdf`, size: 1 };
  };
  return { orders, progress, order, onGenerated, generated, published, stored };
};

test('redelivered and concurrent completions count each ticket once and publish ready once, after the last ticket', async () => {
  const { onGenerated, generated, published, progress, orders, order } = await setup(5);
  await onGenerated(generated(1), { log });
  await onGenerated(generated(1), { log });
  await Promise.all([2, 3, 4, 2, 3].map((n) => onGenerated(generated(n), { log })));
  expect((await progress.get(order.id))?.done).toEqual([1, 2, 3, 4]);
  expect(published).toHaveLength(0);
  expect((await orders.get(order.id))?.status).toBe('generating');

  await Promise.all([onGenerated(generated(5), { log }), onGenerated(generated(5), { log }), onGenerated(generated(1), { log })]);
  expect((await orders.get(order.id))?.status).toBe('ready');
  expect(published.every((p) => p.id === `ready:${order.id}`)).toBe(true);
  // Concurrent last completions may both publish; the deterministic id makes JetStream keep one.
  expect(published.length).toBeGreaterThanOrEqual(1);
  await onGenerated(generated(3), { log });
  const count = published.length;
  await onGenerated(generated(2), { log });
  expect(published).toHaveLength(count);
});

test('ready is not published while a counted ticket is missing from the store', async () => {
  const { onGenerated, generated, stored, published, order } = await setup(2);
  await onGenerated(generated(1), { log });
  const second = generated(2);
  stored.delete(`${order.id}/2.pdf`);
  await expect(onGenerated(second, { log })).rejects.toThrow(/tickets 2 are not stored/);
  expect(published).toHaveLength(0);
});

test('a dead-lettered ticket fails the order with the reason; completing it later makes the order ready', async () => {
  const { onGenerated, generated, orders, order } = await setup(2);
  await onGenerated(generated(1), { log });
  const job: GenerateTicket = { v: 1, orderId: order.id, n: 2, total: 2, event: 'Gig', attendee: 'G2' };
  await createOnTicketDeadLettered({ orders, log })({ payload: JSON.stringify(job), attempts: 3, reason: 'exhausted', error: 'boom', jobId: 'j' } as DeadLetterRecord);
  expect(await orders.get(order.id)).toMatchObject({ status: 'failed', reason: 'ticket 2 of 2 could not be generated after 3 attempt(s) (exhausted): boom' });
  await onGenerated(generated(2), { log });
  const ready = await orders.get(order.id);
  expect(ready?.status).toBe('ready');
  expect(ready?.reason).toBeUndefined();
});

test('order status only moves forward; a failed tickets email resumes only to sent', () => {
  expect(canMove('pending_payment', 'paid')).toBe(true);
  expect(canMove('ready', 'failed')).toBe(true);
  expect(canMove('sent', 'ready')).toBe(false);
  expect(canMove('sent', 'failed')).toBe(false);
  expect(canMove('payment_mismatch', 'paid')).toBe(false);
  expect(canMove('failed', 'ready')).toBe(true);
  expect(canMove('failed', 'ready', 'mail')).toBe(false);
  expect(canMove('failed', 'generating', 'mail')).toBe(false);
  expect(canMove('failed', 'sent', 'mail')).toBe(true);
});

test('a dead-lettered tickets email fails a ready order with the reason; a late aggregator move cannot hide it; the replayed send ends it sent', async () => {
  const { onGenerated, generated, orders, order } = await setup(1);
  const onMailFailed = createOnTicketsMailFailed({ orders });
  const failed: TicketsMailFailed = { v: 1, orderId: order.id, reason: 'the tickets email could not be sent after 1 attempt(s) (permanent): 550 no such user', failedAt: '2025-01-01T00:05:00.000Z' };
  // The mailer's failure overtakes the aggregator's own move to ready.
  await onMailFailed(failed, { log });
  expect(await orders.get(order.id)).toMatchObject({ status: 'failed', reason: failed.reason, failedStep: 'mail' });
  await onGenerated(generated(1), { log });
  expect(await orders.get(order.id)).toMatchObject({ status: 'failed', failedStep: 'mail' });
  // A second failure (a replay that failed again) leaves it failed.
  await onMailFailed({ ...failed, reason: 'again' }, { log });
  expect((await orders.get(order.id))?.status).toBe('failed');

  await createOnTicketsSent({ orders })({ v: 1, orderId: order.id, sentAt: '2025-01-01T01:00:00.000Z' }, { log });
  const sent = await orders.get(order.id);
  expect(sent?.status).toBe('sent');
  expect(sent?.reason).toBeUndefined();
  expect(sent?.failedStep).toBeUndefined();
  await onMailFailed(failed, { log });
  expect((await orders.get(order.id))?.status).toBe('sent');
});

test('from ready, a failed tickets email moves the order to failed', async () => {
  const { onGenerated, generated, orders, order } = await setup(1);
  await onGenerated(generated(1), { log });
  expect((await orders.get(order.id))?.status).toBe('ready');
  await createOnTicketsMailFailed({ orders })({ v: 1, orderId: order.id, reason: 'out of attempts', failedAt: '2025-01-01T00:05:00.000Z' }, { log });
  expect(await orders.get(order.id)).toMatchObject({ status: 'failed', reason: 'out of attempts' });
});
