import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { z } from 'zod';
import { Attendee, EventName, MAX_ATTENDEES, ORDERS_RPC, type OrderView } from '#shared/contracts/orders';
import { ticketObjectName } from '#shared/contracts/tickets';
import { RpcUnavailableError, type RpcClient } from '#shared/nats/rpc';
import { HttpProblem } from '#shared/http/problems';
import type { QuotaLimiter, RateRule } from '#shared/http/rate-limit';
import { firstIssue } from '#shared/http/zod-issues';
import { sessionOf } from '../session.ts';
import type { ObjectReader } from '#shared/nats/object-reader';

export interface OrderRoutesDeps {
  /** Request/reply to ticketing, the owner of orders. */
  rpc: Pick<RpcClient, 'call'>;
  tickets: ObjectReader;
  requireSession: preHandlerAsyncHookHandler;
  limiter: QuotaLimiter;
  /** Orders one user may create per window (a signed-in user must not grow storage without bound). */
  orderLimit: RateRule;
}

/** Orders per page of GET /orders: the default and the most one page may hold. */
export const ORDERS_PAGE = { default: 20, max: 100 } as const;

const CreateOrderBody = z.object({
  event: EventName,
  attendees: z.array(Attendee).min(1, 'at least one attendee').max(MAX_ATTENDEES, `at most ${MAX_ATTENDEES} attendees`),
});
const OrderParams = z.object({ id: z.string().min(1).max(100) });
const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(ORDERS_PAGE.max).default(ORDERS_PAGE.default),
  cursor: z.string().min(1).max(200).optional(),
});
const TicketParams = OrderParams.extend({ n: z.coerce.number().int().min(1).max(MAX_ATTENDEES) });


/** What a buyer sees of an order: internal ids (user, payment event) and markers stay inside. */
const publicView = (order: OrderView) => {
  const { userId: _user, paymentEventId: _payment, failedStep: _step, ...rest } = order;
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
    const quota = await deps.limiter.take([{ scope: 'orders', subject: user.id, rule: deps.orderLimit }]);
    if (!quota.allowed) {
      throw new HttpProblem('rate_limited', `At most ${deps.orderLimit.max} orders per ${Math.round(deps.orderLimit.windowMs / 60_000)} minutes; retry in ${quota.retryAfterSeconds} s.`, {
        'retry-after': String(quota.retryAfterSeconds),
      });
    }
    let created;
    try {
      created = await ticketing(() =>
        deps.rpc.call(ORDERS_RPC.create, { userId: user.id, email: user.email, event: body.data.event, attendees: body.data.attendees }),
      );
    } catch (error) {
      // Nothing was created: the attempt does not count against the user.
      await quota.release().catch(() => undefined);
      throw error;
    }
    if (!created.ok) {
      await quota.release().catch(() => undefined);
      if (created.code === 'storage_full') throw new HttpProblem('service_unavailable', 'Orders cannot be stored right now; try again later.');
      throw new HttpProblem('invalid_request', created.message);
    }
    return reply.code(201).header('location', `/orders/${created.order.id}`).send(publicView(created.order));
  });

  /** One page of the user's orders, newest first: `?limit=` (1–100, default 20) and the previous page's `nextCursor`. */
  app.get('/orders', { preHandler: deps.requireSession }, async (request) => {
    const query = ListQuery.safeParse(request.query);
    if (!query.success) throw new HttpProblem('invalid_request', firstIssue(query.error, 'query'));
    const { user } = sessionOf(request);
    const listed = await ticketing(() => deps.rpc.call(ORDERS_RPC.list, { userId: user.id, limit: query.data.limit, ...(query.data.cursor ? { cursor: query.data.cursor } : {}) }));
    if (!listed.ok) throw new HttpProblem(listed.code === 'bad_request' ? 'invalid_request' : 'internal_error', listed.message);
    return { orders: listed.orders.map(publicView), nextCursor: listed.nextCursor ?? null };
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
