import type { TicketsMailFailed } from '#shared/contracts/tickets';
import type { JobContext } from '#shared/jobs/job';
import type { OrderStore } from '../orders-store.ts';

/**
 * The mailer gave up on an order's tickets email: the order says `failed` with the reason instead
 * of waiting at `ready` for ever. Replaying the mailer's dead letter sends the email, and its
 * tickets.sent moves the order on to `sent`.
 */
export const createOnTicketsMailFailed =
  (deps: { orders: Pick<OrderStore, 'move'> }) => async (event: TicketsMailFailed, ctx: Pick<JobContext, 'log'>) => {
    const result = await deps.orders.move(event.orderId, 'failed', { reason: event.reason, failedStep: 'mail' });
    if (!result) ctx.log.warn({ orderId: event.orderId }, 'tickets.mail_failed for an unknown order; ignored');
    else if (result.changed) {
      ctx.log.error({ orderId: event.orderId }, `${event.reason}; fix the cause and replay the dead letter (npm run cli -- dlq list / dlq replay ID)`);
    } else ctx.log.info({ orderId: event.orderId, status: result.value.status }, 'tickets.mail_failed: order not moved from its status');
  };
