import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { z } from 'zod';
import { Attendee, EventName, MAX_ATTENDEES, ORDERS_RPC, type OrderView } from '#shared/contracts/orders';
import { ticketObjectName } from '#shared/contracts/tickets';
import { RpcUnavailableError, type RpcClient } from '#shared/nats/rpc';
import { HttpProblem } from '#shared/http/problems';
import { firstIssue } from '#shared/http/zod-issues';
import { sessionOf } from '../session.ts';
import type { ObjectReader } from '#shared/nats/object-reader';

export interface OrderRoutesDeps {
  /** Request/reply to ticketing, the owner of orders. */
  rpc: Pick<RpcClient, 'call'>;
  tickets: ObjectReader;
  requireSession: preHandlerAsyncHookHandler;
}

const CreateOrderBody = z.object({
  event: EventName,
  attendees: z.array(Attendee).min(1, 'at least one attendee').max(MAX_ATTENDEES, `at most ${MAX_ATTENDEES} attendees`),
});
const OrderParams = z.object({ id: z.string().min(1).max(100) });
const TicketParams = OrderParams.extend({ n: z.coerce.number().int().min(1).max(MAX_ATTENDEES) });


/** What a buyer sees of an order: internal ids (user, payment event) stay inside. */
const publicView = (order: OrderView) => {
  const { userId: _user, paymentEventId: _payment, ...rest } = order;
  return rest;
};

// The auth mapping in errors.ts names auth; orders name their own service.
const ticketing = async <T>(call: () => Promise<T>): Promise<T> => {
  try {
    return await call();
  } catch (error) {
    if (error instanceof RpcUnavailableError) throw new HttpProblem('service_unavailable', 'The ticketing service did not answer.');
    throw error;
  }
};

/**
 * Orders of the signed-in user. Another user's order answers exactly like a missing one (404),
 * so order ids cannot be probed.
 */
export const registerOrderRoutes = (app: FastifyInstance, deps: OrderRoutesDeps) => {
  const getOwnOrder = async (userId: string, orderId: string) => {
    const reply = await ticketing(() => deps.rpc.call(ORDERS_RPC.get, { orderId, userId }));
    if (!reply.ok) throw new HttpProblem('not_found', `No order ${orderId}.`);
    return reply.order;
  };

  app.post('/orders', { preHandler: deps.requireSession }, async (request, reply) => {
    const body = CreateOrderBody.safeParse(request.body);
    if (!body.success) throw new HttpProblem('invalid_request', firstIssue(body.error));
    const { user } = sessionOf(request);
    const created = await ticketing(() =>
      deps.rpc.call(ORDERS_RPC.create, { userId: user.id, email: user.email, event: body.data.event, attendees: body.data.attendees }),
    );
    if (!created.ok) throw new HttpProblem('invalid_request', created.message);
    return reply.code(201).header('location', `/orders/${created.order.id}`).send(publicView(created.order));
  });

  app.get('/orders', { preHandler: deps.requireSession }, async (request) => {
    const { user } = sessionOf(request);
    const listed = await ticketing(() => deps.rpc.call(ORDERS_RPC.list, { userId: user.id }));
    if (!listed.ok) throw new HttpProblem('internal_error', listed.message);
    return { orders: listed.orders.map(publicView) };
  });

  app.get('/orders/:id', { preHandler: deps.requireSession }, async (request) => {
    const params = OrderParams.safeParse(request.params);
    if (!params.success) throw new HttpProblem('not_found');
    return publicView(await getOwnOrder(sessionOf(request).user.id, params.data.id));
  });

  app.get('/orders/:id/tickets/:n', { preHandler: deps.requireSession }, async (request, reply) => {
    const params = TicketParams.safeParse(request.params);
    if (!params.success) throw new HttpProblem('not_found', 'Tickets are numbered from 1.');
    const order = await getOwnOrder(sessionOf(request).user.id, params.data.id);
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
