import { PAYMENT_SUCCEEDED, PaymentSucceededData, type PaymentEvent } from '#shared/contracts/payments';
import { SUBJECTS } from '#shared/contracts/subjects';
import { TICKET_IDS, type GenerateTicket } from '#shared/contracts/tickets';
import { PermanentError } from '#shared/jobs/job';
import type { JobContext } from '#shared/jobs/job';
import type { Publisher } from '#shared/nats/publish';
import type { OrderStore } from '../orders-store.ts';
import type { ProgressStore } from '../progress-store.ts';

const money = (amount: number, currency: string) => `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;

/**
 * On a verified `payment.succeeded`: check the order, mark it paid (revision-checked, remembering
 * the event id), record how many tickets it needs, publish one generate job per ticket with a
 * deterministic id. Each step is safe to repeat, so a worker dying halfway loses nothing.
 */
export const createOnPaymentReceived =
  (deps: { orders: OrderStore; progress: Pick<ProgressStore, 'start'>; publisher: Pick<Publisher, 'publish'> }) =>
  async (event: PaymentEvent, ctx: Pick<JobContext, 'jobId' | 'log'>) => {
    if (event.type !== PAYMENT_SUCCEEDED) {
      ctx.log.info({ eventId: ctx.jobId, type: event.type }, 'payment event ignored: not payment.succeeded');
      return;
    }
    const parsed = PaymentSucceededData.safeParse(event.data);
    if (!parsed.success) throw new PermanentError(`payment.succeeded ${ctx.jobId} has invalid data: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    const payment = parsed.data;
    const order = await deps.orders.get(payment.orderId);
    if (!order) throw new PermanentError(`payment ${ctx.jobId} is for unknown order ${payment.orderId}; nothing generated`);

    // An expired order is still paid for: the buyer paid, so the order is honoured.
    if (order.status === 'pending_payment' || order.status === 'expired') {
      if (payment.amount !== order.amount || payment.currency.toUpperCase() !== order.currency) {
        const reason = `payment ${ctx.jobId} of ${money(payment.amount, payment.currency)} does not match the order's ${money(order.amount, order.currency)}; no tickets generated`;
        await deps.orders.move(order.id, 'payment_mismatch', { reason, paymentEventId: ctx.jobId });
        ctx.log.error({ orderId: order.id, eventId: ctx.jobId }, `${reason}: refund or settle it by hand`);
        return;
      }
      await deps.orders.move(order.id, 'paid', { paymentEventId: ctx.jobId });
      if (order.status === 'expired') ctx.log.warn({ orderId: order.id, eventId: ctx.jobId }, 'payment for an expired order: honoured, tickets follow');
    }

    const current = await deps.orders.get(order.id);
    if (!current) throw new Error(`order ${order.id} vanished`);
    if (current.paymentEventId !== ctx.jobId) {
      ctx.log.warn(
        { orderId: order.id, eventId: ctx.jobId, paidBy: current.paymentEventId, status: current.status },
        'second payment event for an order already settled: nothing generated; check for a double charge',
      );
      return;
    }
    // Already past `paid`: an earlier delivery published the jobs. `failed` is the exception: this
    // is a replayed payment (or ticket) dead letter, and publishing again is safe — the jobs carry
    // deterministic ids, a stored PDF is not rendered twice and each ticket is counted once.
    if (current.status !== 'paid' && current.status !== 'failed') return;

    const total = current.attendees.length;
    await deps.progress.start(current.id, total);
    const jobs: GenerateTicket[] = current.attendees.map((attendee, index) => ({
      v: 1,
      orderId: current.id,
      n: index + 1,
      total,
      event: current.event,
      attendee: attendee.name,
    }));
    await Promise.all(jobs.map((job) => deps.publisher.publish(SUBJECTS.ticketGenerate, job, { id: TICKET_IDS.generate(job.orderId, job.n) })));
    await deps.orders.move(current.id, 'generating');
    ctx.log.info({ orderId: current.id, eventId: ctx.jobId, tickets: total }, 'order paid; ticket jobs published');
  };
