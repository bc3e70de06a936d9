import { ORDER_IDS, orderExpiryJob, orderReminderJob, type Order } from '#shared/contracts/orders';
import type { JobScheduler } from '#shared/jobs/schedule';

export interface OrderDeadlines {
  /** When an order created at `createdAt` expires unpaid. */
  expiresAt(createdAt: Date): Date;
  /** Schedules the order's payment reminder and its expiry (idempotent per order). */
  schedule(order: Pick<Order, 'id' | 'createdAt'>): Promise<void>;
}

/**
 * The deadlines of an unpaid order, as delayed jobs scheduled when it is created: a reminder
 * after `reminderAfterMs`, the expiry after `expiresAfterMs`. Each handler looks at the order when
 * its time comes and does nothing if it has moved on (paid).
 */
export const createOrderDeadlines = (deps: { scheduler: Pick<JobScheduler, 'schedule'>; reminderAfterMs: number; expiresAfterMs: number }): OrderDeadlines => {
  const expiresAt = (createdAt: Date) => new Date(createdAt.getTime() + deps.expiresAfterMs);
  return {
    expiresAt,
    async schedule(order) {
      const createdAt = new Date(order.createdAt);
      const payload = { v: 1 as const, orderId: order.id };
      await Promise.all([
        deps.scheduler.schedule(orderReminderJob, payload, { id: ORDER_IDS.reminder(order.id), notBefore: new Date(createdAt.getTime() + deps.reminderAfterMs) }),
        deps.scheduler.schedule(orderExpiryJob, payload, { id: ORDER_IDS.expiry(order.id), notBefore: expiresAt(createdAt) }),
      ]);
    },
  };
};
