import { MailId } from '#shared/contracts/mail';
import { SUBJECTS } from '#shared/contracts/subjects';
import { TICKET_IDS, type TicketsReady, type TicketsSent } from '#shared/contracts/tickets';
import { PermanentError } from '#shared/jobs/job';
import type { JobContext } from '#shared/jobs/job';
import type { Publisher } from '#shared/nats/publish';
import { sendOnce, type SendOnceDeps } from '../send-once.ts';
import { renderTickets } from '../templates/tickets.ts';
import type { ObjectReader } from '#shared/nats/object-reader';

export interface SendTicketsDeps extends Pick<SendOnceDeps, 'transport' | 'records' | 'claimMs' | 'holder' | 'pollMs'> {
  tickets: ObjectReader;
  publisher: Pick<Publisher, 'publish'>;
  messageIdDomain: string;
  now?: () => number;
}

/**
 * On `tickets.ready`: one email to the buyer with every PDF attached, sent at most once per order
 * (the sent-record keyed `tickets-<orderId>`), then `tickets.sent` so ticketing marks the order.
 * A redelivery after the send skips the mail and only re-publishes the (deduplicated) event.
 */
export const createSendTickets =
  (deps: SendTicketsDeps) =>
  async (ready: TicketsReady, ctx: Pick<JobContext, 'jobId' | 'log'> & { signal?: AbortSignal }): Promise<void> => {
    const mailId = MailId.safeParse(`tickets-${ready.orderId}`);
    if (!mailId.success) throw new PermanentError(`order id ${ready.orderId} cannot form a mail id`);
    const messageId = `<${mailId.data}@${deps.messageIdDomain}>`;
    const result = await sendOnce({ ...deps, log: ctx.log, signal: ctx.signal }, mailId.data, async () => {
      const attachments = [];
      for (const ticket of ready.tickets) {
        const pdf = await deps.tickets.get(ticket.object);
        // ready is published only after every PDF is stored, so a miss is a fault worth retrying.
        if (!pdf) throw new Error(`ticket ${ticket.n} of order ${ready.orderId} is not in the object store (${ticket.object})`);
        attachments.push({ filename: `ticket-${ticket.n}.pdf`, content: Buffer.from(pdf), contentType: 'application/pdf' });
      }
      return {
        to: ready.email,
        messageId,
        attachments,
        ...renderTickets({ event: ready.event, orderId: ready.orderId, attendees: ready.tickets.map((t) => t.attendee) }),
      };
    });
    const sent: TicketsSent = { v: 1, orderId: ready.orderId, sentAt: new Date((deps.now ?? Date.now)()).toISOString(), messageId };
    await deps.publisher.publish(SUBJECTS.ticketsSent, sent, { id: TICKET_IDS.sent(ready.orderId) });
    ctx.log.info({ orderId: ready.orderId, tickets: ready.tickets.length, result }, 'tickets mail done');
  };
