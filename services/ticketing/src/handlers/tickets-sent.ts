import type { TicketsSent } from '#shared/contracts/tickets';
import type { JobContext } from '#shared/jobs/job';
import type { OrderStore } from '../orders-store.ts';

/** The mailer sent an order's tickets: the order's journey ends in `sent`. */
export const createOnTicketsSent = (deps: { orders: Pick<OrderStore, 'move'> }) => async (event: TicketsSent, ctx: Pick<JobContext, 'log'>) => {
  const result = await deps.orders.move(event.orderId, 'sent');
  if (!result) ctx.log.warn({ orderId: event.orderId }, 'tickets.sent for an unknown order; ignored');
  else if (result.changed) ctx.log.info({ orderId: event.orderId }, 'order sent');
};
