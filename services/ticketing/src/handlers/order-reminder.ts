import type { MailSend } from '#shared/contracts/mail';
import { ORDER_IDS, type OrderDeadline } from '#shared/contracts/orders';
import { SUBJECTS } from '#shared/contracts/subjects';
import type { JobContext } from '#shared/jobs/job';
import type { Publisher } from '#shared/nats/publish';
import type { OrderStore } from '../orders-store.ts';

/**
 * An order's reminder time came. Only an order still waiting for payment gets one, and only one:
 * the claim (`remindedAt`) is a revision-checked write, so a payment stored first wins and no
 * reminder goes out. A delivery that finds the order claimed but still unpaid (an earlier one
 * died before queueing the mail) queues it again under the same mail id, which the MAIL stream
 * (`Nats-Msg-Id`) and the mailer's sent-record turn into one email.
 */
export const createOnOrderReminderDue =
  (deps: { orders: Pick<OrderStore, 'change'>; publisher: Pick<Publisher, 'publish'>; now?: () => Date }) =>
  async (job: OrderDeadline, ctx: Pick<JobContext, 'log'>) => {
    const at = (deps.now ?? (() => new Date()))().toISOString();
    const claimed = await deps.orders.change(job.orderId, (order) =>
      order.status === 'pending_payment' && !order.remindedAt ? { ...order, remindedAt: at } : undefined,
    );
    if (!claimed) {
      ctx.log.warn({ orderId: job.orderId }, 'payment reminder for an unknown order: nothing sent');
      return;
    }
    const order = claimed.value;
    if (order.status !== 'pending_payment') {
      ctx.log.info({ orderId: order.id, status: order.status }, 'no payment reminder: the order is no longer waiting for payment');
      return;
    }
    const mail: MailSend = {
      v: 1,
      mailId: ORDER_IDS.reminderMail(order.id),
      to: order.email,
      content: {
        template: 'order_reminder',
        orderId: order.id,
        event: order.event,
        tickets: order.attendees.length,
        amount: order.amount,
        currency: order.currency,
        ...(order.expiresAt ? { expiresAt: order.expiresAt } : {}),
      },
    };
    await deps.publisher.publish(SUBJECTS.mailSend, mail, { id: mail.mailId });
    ctx.log.info({ orderId: order.id, again: !claimed.changed }, 'payment reminder queued');
  };
