import { expect, test } from 'vitest';
import type { DeadLetterRecord } from '#shared/jobs/dead-letter';
import { createOnCompletionDeadLettered, createOnPaymentDeadLettered } from '../src/handlers/ticket-dead-lettered.ts';

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

const record = (payload: unknown, job: string): DeadLetterRecord => ({
  v: 1,
  job,
  jobId: 'evt_1',
  stream: 'S',
  consumer: 'c',
  subject: 's',
  streamSeq: 1,
  payload: JSON.stringify(payload),
  payloadEncoding: 'utf8',
  headers: {},
  reason: 'exhausted',
  error: 'KV unavailable',
  attempts: 10,
  maxAttempts: 10,
  firstAttemptAt: '2026-01-01T00:00:00.000Z',
  lastAttemptAt: '2026-01-01T00:01:00.000Z',
  deadAt: '2026-01-01T00:01:00.000Z',
  failures: [],
});

const fakeOrders = () => {
  const moves: Array<{ id: string; to: string; reason?: string }> = [];
  return {
    moves,
    orders: {
      move: async (id: string, to: string, extra: { reason?: string } = {}) => {
        moves.push({ id, to, reason: extra.reason });
        return { value: {} as never, changed: true };
      },
    },
  };
};

test('a payment whose processing was dead-lettered marks its order failed with the reason, instead of leaving it paid', async () => {
  const { moves, orders } = fakeOrders();
  const hook = createOnPaymentDeadLettered({ orders: orders as never, log: quiet });
  await hook(record({ type: 'payment.succeeded', timestamp: 't', data: { orderId: 'ord_1', amount: 100, currency: 'EUR' } }, 'payments.received'));
  expect(moves).toEqual([{ id: 'ord_1', to: 'failed', reason: expect.stringContaining('KV unavailable') }]);
  // Other event types and unreadable payloads name no order to mark.
  await hook(record({ type: 'payment.refunded', data: {} }, 'payments.received'));
  await hook({ ...record({}, 'payments.received'), payload: 'not json' });
  expect(moves).toHaveLength(1);
});

test('a completion the aggregator could not count marks its order failed', async () => {
  const { moves, orders } = fakeOrders();
  await createOnCompletionDeadLettered({ orders: orders as never, log: quiet })(
    record({ v: 1, orderId: 'ord_2', n: 3, total: 5, object: 'ord_2/3.pdf', size: 10 }, 'tickets.count'),
  );
  expect(moves).toEqual([{ id: 'ord_2', to: 'failed', reason: expect.stringContaining('counting ticket 3 of 5') }]);
});
