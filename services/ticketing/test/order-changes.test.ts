import { expect, test } from 'vitest';
import { compareOrderVersions, OrderChanged, orderVersion, type Order } from '#shared/contracts/orders';
import { orderChangedSubject } from '#shared/contracts/subjects';
import { announcingOrders, announcingProgress, createOrderChanges } from '../src/order-changes.ts';
import { createOrderStore } from '../src/orders-store.ts';
import { createProgressStore } from '../src/progress-store.ts';
import { memoryKv } from './memory-kv.ts';

const ORDER_ID = 'ord_00000000000000000042';

const setup = async () => {
  const orderStore = createOrderStore(memoryKv());
  const progressStore = createProgressStore(memoryKv());
  /** What JetStream stores: one message per Nats-Msg-Id, as within the duplicate window. */
  const stored = new Map<string, { subject: string; change: OrderChanged }>();
  let failNext = false;
  const publisher = {
    publish: async (subject: string, payload: unknown, options?: { id?: string }) => {
      if (failNext) {
        failNext = false;
        throw new Error('no PubAck');
      }
      const duplicate = stored.has(options!.id!);
      if (!duplicate) stored.set(options!.id!, { subject, change: OrderChanged.parse(payload) });
      return { duplicate, seq: stored.size, stream: 'ORDER_EVENTS' };
    },
  };
  const changes = createOrderChanges({ orders: orderStore, progress: progressStore, publisher });
  const order: Order = {
    v: 1,
    id: ORDER_ID,
    userId: 'u1',
    email: 'a@example.test',
    event: 'Gig',
    attendees: [{ name: 'A' }, { name: 'B' }, { name: 'C' }],
    amount: 300,
    currency: 'EUR',
    status: 'pending_payment',
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
  };
  await orderStore.create(order);
  return {
    orders: announcingOrders(orderStore, changes),
    progress: announcingProgress(progressStore, changes),
    events: () => [...stored.values()],
    failNextPublish: () => void (failNext = true),
  };
};

test('every move and counted ticket is announced on the order\'s subject, in the order of their versions', async () => {
  const { orders, progress, events } = await setup();
  await orders.move(ORDER_ID, 'paid');
  await progress.start(ORDER_ID, 3);
  await progress.complete(ORDER_ID, 2);
  await orders.move(ORDER_ID, 'generating');
  await progress.complete(ORDER_ID, 1);
  await progress.complete(ORDER_ID, 3);
  await orders.move(ORDER_ID, 'ready');
  await orders.move(ORDER_ID, 'sent');

  const seen = events();
  expect(seen.every((e) => e.subject === orderChangedSubject(ORDER_ID))).toBe(true);
  expect(seen.map((e) => `${e.change.status} ${e.change.tickets.generated}/${e.change.tickets.total}`)).toEqual([
    'paid 0/3',
    'paid 1/3',
    'generating 1/3',
    'generating 2/3',
    'generating 3/3',
    'ready 3/3',
    'sent 3/3',
  ]);
  for (let i = 1; i < seen.length; i++) {
    expect(compareOrderVersions(orderVersion(seen[i]!.change), orderVersion(seen[i - 1]!.change))).toBeGreaterThan(0);
  }
});

test('a redelivered step announces again under the same id, so a change lost with a crash is still published once', async () => {
  const { orders, progress, events, failNextPublish } = await setup();
  await orders.move(ORDER_ID, 'paid');
  await progress.start(ORDER_ID, 3);
  // The write lands, the announcement does not (the worker dies, or JetStream does not answer).
  failNextPublish();
  await expect(progress.complete(ORDER_ID, 1)).rejects.toThrow(/no PubAck/);
  expect(events().map((e) => e.change.tickets.generated)).toEqual([0]);
  // The redelivery finds ticket 1 counted and announces the state it finds, once.
  await progress.complete(ORDER_ID, 1);
  await progress.complete(ORDER_ID, 1);
  // Likewise for a status move: the retry's move finds the order moved and announces it.
  failNextPublish();
  await expect(orders.move(ORDER_ID, 'generating')).rejects.toThrow(/no PubAck/);
  expect(events()).toHaveLength(2);
  await orders.move(ORDER_ID, 'generating');
  await orders.move(ORDER_ID, 'generating');
  expect(events().map((e) => `${e.change.status} ${e.change.tickets.generated}`)).toEqual(['paid 0', 'paid 1', 'generating 1']);
});

test('a failure carries its reason; the next status drops it', async () => {
  const { orders, events } = await setup();
  await orders.move(ORDER_ID, 'paid');
  await orders.move(ORDER_ID, 'failed', { reason: 'ticket 2 of 3 could not be generated' });
  await orders.move(ORDER_ID, 'generating');
  expect(events().map((e) => [e.change.status, e.change.reason])).toEqual([
    ['paid', undefined],
    ['failed', 'ticket 2 of 3 could not be generated'],
    ['generating', undefined],
  ]);
});
