import { SUBJECTS } from '#shared/contracts/subjects';
import { TICKET_IDS, ticketObjectName, type TicketGenerated, type TicketsReady } from '#shared/contracts/tickets';
import { PermanentError } from '#shared/jobs/job';
import type { JobContext } from '#shared/jobs/job';
import type { Publisher } from '#shared/nats/publish';
import type { OrderStore } from './orders-store.ts';
import { isComplete, type ProgressStore } from './progress-store.ts';
import type { TicketStore } from './ticket-store.ts';
import { linkFromTraceparent, withSpan } from '#shared/observability/tracing';

/**
 * The per-order aggregator (fan-in). Each `tickets.generated` adds its ticket number to the order's
 * record with compare-and-set, so a redelivery never counts twice. When the set is complete, it
 * checks every PDF is stored and publishes `tickets.ready` with `Nats-Msg-Id` `ready:<orderId>`:
 * two workers finishing the last tickets at once, or a crash between publish and ack, both end in
 * one stored message. `readyAt` keeps it once even after the deduplication window has passed.
 */
export const createOnTicketGenerated =
  (deps: {
    progress: Pick<ProgressStore, 'complete' | 'markReady'>;
    orders: Pick<OrderStore, 'get' | 'move'>;
    store: Pick<TicketStore, 'size'>;
    publisher: Pick<Publisher, 'publish'>;
    now?: () => Date;
  }) =>
  async (event: TicketGenerated, ctx: Pick<JobContext, 'log'>) => {
    const { progress, added } = await deps.progress.complete(event.orderId, event.n, event.trace);
    if (!isComplete(progress)) {
      if (added) ctx.log.debug({ orderId: event.orderId, generated: progress.done.length, total: progress.total }, 'ticket counted');
      return;
    }
    if (!progress.readyAt) {
      const order = await deps.orders.get(event.orderId);
      if (!order) throw new PermanentError(`order ${event.orderId} has tickets but no order record`);
      const tickets = order.attendees.map((attendee, index) => ({ n: index + 1, attendee: attendee.name, object: ticketObjectName(order.id, index + 1) }));
      const missing: number[] = [];
      for (const ticket of tickets) if ((await deps.store.size(ticket.object)) === undefined) missing.push(ticket.n);
      if (missing.length > 0) throw new Error(`order ${order.id} counted complete but tickets ${missing.join(',')} are not stored`);
      const ready: TicketsReady = { v: 1, orderId: order.id, email: order.email, event: order.event, tickets };
      // Fan-in: one span, linked to the span of every ticket job that made it complete.
      const links = Object.values(progress.traces ?? {}).flatMap((t) => linkFromTraceparent(t) ?? []);
      const ack = await withSpan('tickets.ready', { 'handoff.order_id': order.id, 'handoff.tickets': tickets.length }, () =>
        deps.publisher.publish(SUBJECTS.ticketsReady, ready, { id: TICKET_IDS.ready(order.id) }),
        { links },
      );
      await deps.progress.markReady(order.id, (deps.now ?? (() => new Date()))());
      ctx.log.info({ orderId: order.id, tickets: tickets.length, duplicate: ack.duplicate }, 'all tickets stored; tickets.ready published');
    }
    await deps.orders.move(event.orderId, 'ready');
  };
