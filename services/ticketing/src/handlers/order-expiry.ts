import type { OrderDeadline } from '#shared/contracts/orders';
import type { JobContext } from '#shared/jobs/job';
import type { OrderStore } from '../orders-store.ts';

/**
 * An order's expiry time came: still unpaid, it becomes `expired` (a revision-checked move from
 * `pending_payment` only, so a payment stored first wins). A payment that arrives later is still
 * honoured: `expired → paid → …`, with both in the order's history.
 */
export const createOnOrderExpiryDue = (deps: { orders: Pick<OrderStore, 'move'> }) => async (job: OrderDeadline, ctx: Pick<JobContext, 'log'>) => {
  const result = await deps.orders.move(job.orderId, 'expired', { reason: 'not paid in time; a payment that still arrives is honoured' });
  if (!result) ctx.log.warn({ orderId: job.orderId }, 'expiry of an unknown order: nothing to do');
  else if (result.changed) ctx.log.info({ orderId: job.orderId }, 'order expired unpaid');
  else ctx.log.info({ orderId: job.orderId, status: result.value.status }, 'order not expired: it is no longer waiting for payment');
};
