import type { ORDERS_RPC, Order, OrderView } from '#shared/contracts/orders';
import type { RpcHandler } from '#shared/nats/rpc';
import type { Log } from '#shared/observability/logger';
import { InvalidCursorError, newOrderId, pageOfUser } from '../order-pages.ts';
import type { OrderDeadlines } from '../order-deadlines.ts';
import { isStorageFull, type OrderStore } from '../orders-store.ts';
import type { Progress, ProgressStore } from '../progress-store.ts';

/** A user's orders per page unless they ask for fewer. */
export const DEFAULT_PAGE = 20;

/** How many of an order's tickets exist, from its status and the aggregator's record. */
export const ticketCount = (order: Order, progress: Progress | undefined) => {
  const total = order.attendees.length;
  // The aggregator's record expires (bucket TTL) long before the order does; a finished order
  // needs no record to know every ticket exists.
  const done = order.status === 'ready' || order.status === 'sent';
  return { total, generated: done ? total : (progress?.done.length ?? 0) };
};

export const toView = (order: Order, progress: Progress | undefined, revision?: number): OrderView => {
  const { v: _v, ...rest } = order;
  return { ...rest, tickets: ticketCount(order, progress), ...(revision === undefined ? {} : { revision }) };
};

/** The request/reply side of orders: other services never read the orders bucket themselves. */
export const createOrdersRpc = (deps: {
  orders: OrderStore;
  /** The most recently changed orders of everyone (operators), bounded work (latest-orders.ts). */
  latest(limit: number): Promise<Order[]>;
  progress: Pick<ProgressStore, 'get'>;
  price: { perTicket: number; currency: string };
  /** The reminder and expiry of an unpaid order. */
  deadlines: OrderDeadlines;
  log: Log;
  /** The id of an order created at `at`; ids sort by creation time, so both must come from one clock reading. */
  newId?: (at: Date) => string;
  now?: () => Date;
}) => {
  const now = deps.now ?? (() => new Date());
  const newId = deps.newId ?? ((at: Date) => newOrderId(at.getTime()));
  const view = async (order: Order) => toView(order, await deps.progress.get(order.id));

  const create: RpcHandler<typeof ORDERS_RPC.create> = async (request) => {
    const clock = now();
    const at = clock.toISOString();
    const order: Order = {
      v: 1,
      id: newId(clock),
      userId: request.userId,
      email: request.email,
      event: request.event,
      attendees: request.attendees,
      amount: deps.price.perTicket * request.attendees.length,
      currency: deps.price.currency,
      status: 'pending_payment',
      expiresAt: deps.deadlines.expiresAt(clock).toISOString(),
      history: [{ status: 'pending_payment', at }],
      createdAt: at,
      updatedAt: at,
    };
    // The deadlines first: every stored order has them. Those of an order that is then not
    // stored (the bucket is full) find no order when they come and do nothing.
    await deps.deadlines.schedule(order);
    try {
      await deps.orders.create(order);
    } catch (error) {
      if (!isStorageFull(error)) throw error;
      deps.log.error({ err: error instanceof Error ? error.message : String(error) }, 'orders bucket is full (max_bytes): no new order can be stored');
      return { ok: false, code: 'storage_full', message: 'orders cannot be stored right now' };
    }
    deps.log.info({ orderId: order.id, tickets: order.attendees.length, amount: order.amount }, 'order created');
    return { ok: true, order: toView(order, undefined) };
  };

  const get: RpcHandler<typeof ORDERS_RPC.get> = async (request) => {
    const stored = await deps.orders.read(request.orderId);
    // Another user's order is indistinguishable from a missing one: ids must not be probeable.
    if (!stored || (request.userId !== undefined && stored.value.userId !== request.userId)) {
      return { ok: false, code: 'not_found', message: `no order ${request.orderId}` };
    }
    // The revision lets a live view tell this answer from older and newer change events.
    return { ok: true, order: toView(stored.value, await deps.progress.get(stored.value.id), stored.revision) };
  };

  const list: RpcHandler<typeof ORDERS_RPC.list> = async (request) => {
    if (!request.userId) return { ok: true, orders: await Promise.all((await deps.latest(request.limit ?? DEFAULT_PAGE)).map(view)) };
    try {
      const ids = await deps.orders.orderIdsOfUser(request.userId);
      const page = await pageOfUser({ ids, get: deps.orders.get }, request.userId, { limit: request.limit ?? DEFAULT_PAGE, cursor: request.cursor });
      return { ok: true, orders: await Promise.all(page.orders.map(view)), nextCursor: page.nextCursor };
    } catch (error) {
      if (error instanceof InvalidCursorError) return { ok: false, code: 'bad_request', message: error.message };
      throw error;
    }
  };

  return { create, get, list };
};
