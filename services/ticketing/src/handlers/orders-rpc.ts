import { randomBytes } from 'node:crypto';
import type { ORDERS_RPC, Order, OrderView } from '#shared/contracts/orders';
import type { RpcHandler } from '#shared/nats/rpc';
import type { Log } from '#shared/observability/logger';
import type { OrderStore } from '../orders-store.ts';
import type { Progress, ProgressStore } from '../progress-store.ts';

export const newOrderId = () => `ord_${randomBytes(10).toString('hex')}`;

export const toView = (order: Order, progress: Progress | undefined): OrderView => {
  const { v: _v, ...rest } = order;
  const total = order.attendees.length;
  // The aggregator's record expires (bucket TTL) long before the order does; a finished order
  // needs no record to know every ticket exists.
  const done = order.status === 'ready' || order.status === 'sent';
  return { ...rest, tickets: { total, generated: done ? total : (progress?.done.length ?? 0) } };
};

/** The request/reply side of orders: other services never read the orders bucket themselves. */
export const createOrdersRpc = (deps: {
  orders: OrderStore;
  progress: Pick<ProgressStore, 'get'>;
  price: { perTicket: number; currency: string };
  log: Log;
  newId?: () => string;
  now?: () => Date;
}) => {
  const now = deps.now ?? (() => new Date());
  const newId = deps.newId ?? newOrderId;
  const view = async (order: Order) => toView(order, await deps.progress.get(order.id));

  const create: RpcHandler<typeof ORDERS_RPC.create> = async (request) => {
    const at = now().toISOString();
    const order: Order = {
      v: 1,
      id: newId(),
      userId: request.userId,
      email: request.email,
      event: request.event,
      attendees: request.attendees,
      amount: deps.price.perTicket * request.attendees.length,
      currency: deps.price.currency,
      status: 'pending_payment',
      createdAt: at,
      updatedAt: at,
    };
    await deps.orders.create(order);
    deps.log.info({ orderId: order.id, tickets: order.attendees.length, amount: order.amount }, 'order created');
    return { ok: true, order: toView(order, undefined) };
  };

  const get: RpcHandler<typeof ORDERS_RPC.get> = async (request) => {
    const order = await deps.orders.get(request.orderId);
    // Another user's order is indistinguishable from a missing one: ids must not be probeable.
    if (!order || (request.userId !== undefined && order.userId !== request.userId)) {
      return { ok: false, code: 'not_found', message: `no order ${request.orderId}` };
    }
    return { ok: true, order: await view(order) };
  };

  const list: RpcHandler<typeof ORDERS_RPC.list> = async (request) => {
    const orders = request.userId ? await deps.orders.listByUser(request.userId) : await deps.orders.listLatest(request.limit ?? 20);
    return { ok: true, orders: await Promise.all(orders.map(view)) };
  };

  return { create, get, list };
};
