import { z } from 'zod';
import { Attendee, EventName, MAX_ATTENDEES, ORDERS_RPC, type OrderChanged, type OrderView } from '#shared/contracts/orders';
import type { SessionView } from '#shared/contracts/auth';
import { HttpProblem } from '#shared/http/problems';
import type { QuotaLimiter, RateRule } from '#shared/http/rate-limit';
import { firstIssue } from '#shared/http/zod-issues';
import { RpcUnavailableError, type RpcClient } from '#shared/nats/rpc';

/** Orders per page of GET /orders: the default and the most one page may hold. */
export const ORDERS_PAGE = { default: 20, max: 100 } as const;

export const CreateOrderBody = z.object({
  event: EventName,
  attendees: z.array(Attendee).min(1, 'at least one attendee').max(MAX_ATTENDEES, `at most ${MAX_ATTENDEES} attendees`),
});

/** What a buyer sees of an order: internal ids (user, payment event), markers and versions stay inside. */
export const publicView = (order: OrderView) => {
  const { userId: _user, paymentEventId: _payment, failedStep: _step, revision: _revision, ...rest } = order;
  return rest;
};
export type PublicOrder = ReturnType<typeof publicView>;

/** An order read once, moved on by a change event: everything a change does not carry stays as read. */
export const applyChange = (order: OrderView, change: OrderChanged): OrderView => {
  const { reason: _reason, ...rest } = order;
  return {
    ...rest,
    status: change.status,
    ...(change.reason ? { reason: change.reason } : {}),
    tickets: change.tickets,
    updatedAt: change.updatedAt,
    revision: change.revision,
    ...(change.history ? { history: change.history } : {}),
  };
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

export interface OrderActionsDeps {
  /** Request/reply to ticketing, the owner of orders. */
  rpc: Pick<RpcClient, 'call'>;
  limiter: QuotaLimiter;
  /** Orders one user may create per window (a signed-in user must not grow storage without bound). */
  orderLimit: RateRule;
}

export type OrderActions = ReturnType<typeof createOrderActions>;

/**
 * What a signed-in user can do with orders, for the JSON API and the buyer page alike: each
 * refusal is an HttpProblem from the catalogue (the API sends it, the page words it).
 */
export const createOrderActions = (deps: OrderActionsDeps) => ({
  /** Another user's order answers exactly like a missing one (404), so ids cannot be probed. */
  async getOwn(userId: string, orderId: string): Promise<OrderView> {
    const reply = await ticketing(() => deps.rpc.call(ORDERS_RPC.get, { orderId, userId }));
    if (!reply.ok) throw new HttpProblem('not_found', `No order ${orderId}.`);
    return reply.order;
  },

  async create(user: SessionView['user'], input: unknown): Promise<OrderView> {
    const body = CreateOrderBody.safeParse(input);
    if (!body.success) throw new HttpProblem('invalid_request', firstIssue(body.error));
    const quota = await deps.limiter.take([{ scope: 'orders', subject: user.id, rule: deps.orderLimit }]);
    if (!quota.allowed) {
      throw new HttpProblem('rate_limited', `At most ${deps.orderLimit.max} orders per ${Math.round(deps.orderLimit.windowMs / 60_000)} minutes; retry in ${quota.retryAfterSeconds} s.`, {
        'retry-after': String(quota.retryAfterSeconds),
      });
    }
    let created;
    try {
      created = await ticketing(() => deps.rpc.call(ORDERS_RPC.create, { userId: user.id, email: user.email, event: body.data.event, attendees: body.data.attendees }));
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
    return created.order;
  },

  /** One page of the user's orders, newest first. */
  async list(userId: string, page: { limit: number; cursor?: string | undefined }) {
    const listed = await ticketing(() => deps.rpc.call(ORDERS_RPC.list, { userId, limit: page.limit, ...(page.cursor ? { cursor: page.cursor } : {}) }));
    if (!listed.ok) throw new HttpProblem(listed.code === 'bad_request' ? 'invalid_request' : 'internal_error', listed.message);
    return { orders: listed.orders, nextCursor: listed.nextCursor ?? null };
  },
});
