import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { z } from 'zod';
import { MAX_ATTENDEES } from '#shared/contracts/orders';
import { ticketObjectName } from '#shared/contracts/tickets';
import { HttpProblem } from '#shared/http/problems';
import { firstIssue } from '#shared/http/zod-issues';
import type { ObjectReader } from '#shared/nats/object-reader';
import { ORDERS_PAGE, publicView, type OrderActions } from '../order-actions.ts';
import { sessionOf } from '../session.ts';

export { ORDERS_PAGE } from '../order-actions.ts';

export interface OrderRoutesDeps {
  actions: OrderActions;
  tickets: ObjectReader;
  requireSession: preHandlerAsyncHookHandler;
}

const OrderParams = z.object({ id: z.string().min(1).max(100) });
const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(ORDERS_PAGE.max).default(ORDERS_PAGE.default),
  cursor: z.string().min(1).max(200).optional(),
});
const TicketParams = OrderParams.extend({ n: z.coerce.number().int().min(1).max(MAX_ATTENDEES) });

/**
 * Orders of the signed-in user. Another user's order answers exactly like a missing one (404),
 * so order ids cannot be probed.
 */
export const registerOrderRoutes = (app: FastifyInstance, deps: OrderRoutesDeps) => {
  app.post('/orders', { preHandler: deps.requireSession }, async (request, reply) => {
    const order = await deps.actions.create(sessionOf(request).user, request.body);
    return reply.code(201).header('location', `/orders/${order.id}`).send(publicView(order));
  });

  /** One page of the user's orders, newest first: `?limit=` (1–100, default 20) and the previous page's `nextCursor`. */
  app.get('/orders', { preHandler: deps.requireSession }, async (request) => {
    const query = ListQuery.safeParse(request.query);
    if (!query.success) throw new HttpProblem('invalid_request', firstIssue(query.error, 'query'));
    const page = await deps.actions.list(sessionOf(request).user.id, query.data);
    return { orders: page.orders.map(publicView), nextCursor: page.nextCursor };
  });

  app.get('/orders/:id', { preHandler: deps.requireSession }, async (request) => {
    const params = OrderParams.safeParse(request.params);
    if (!params.success) throw new HttpProblem('not_found');
    return publicView(await deps.actions.getOwn(sessionOf(request).user.id, params.data.id));
  });

  app.get('/orders/:id/tickets/:n', { preHandler: deps.requireSession }, async (request, reply) => {
    const params = TicketParams.safeParse(request.params);
    if (!params.success) throw new HttpProblem('not_found', 'Tickets are numbered from 1.');
    const order = await deps.actions.getOwn(sessionOf(request).user.id, params.data.id);
    const { n } = params.data;
    if (n > order.tickets.total) throw new HttpProblem('not_found', `Order ${order.id} has ${order.tickets.total} ticket(s).`);
    let pdf: Uint8Array | null;
    try {
      pdf = await deps.tickets.get(ticketObjectName(order.id, n));
    } catch (error) {
      throw new HttpProblem('service_unavailable', `Ticket storage is unavailable: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!pdf) throw new HttpProblem('not_found', `Ticket ${n} of order ${order.id} is not generated yet (status ${order.status}).`);
    return reply
      .type('application/pdf')
      .header('content-disposition', `attachment; filename="ticket-${order.id}-${n}.pdf"`)
      .header('cache-control', 'private, no-store')
      .send(Buffer.from(pdf));
  });
};
