import { formatOrderVersion, orderVersion, type OrderChanged } from '#shared/contracts/orders';
import { orderChangedSubject } from '#shared/contracts/subjects';
import type { Publisher } from '#shared/nats/publish';
import { ticketCount } from './handlers/orders-rpc.ts';
import type { OrderStore, StoredOrder } from './orders-store.ts';
import type { ProgressStore } from './progress-store.ts';

export interface OrderChanges {
  /** Publishes the order's status and ticket count as they are now (`known`: just written). */
  announce(orderId: string, known?: StoredOrder): Promise<void>;
}

/**
 * `orders.changed.<id>` after every write that can move what a buyer sees. The event is the
 * state read (or just written), not a diff, and its `Nats-Msg-Id` is that state's version, so
 * announcing twice stores it once. Handlers announce after every attempt, also when the write
 * found nothing to do: a worker that died between its write and its announcement is redelivered,
 * finds the write done and announces then. Watchers drop any event not newer than the last.
 */
export const createOrderChanges = (deps: {
  orders: Pick<OrderStore, 'read'>;
  progress: Pick<ProgressStore, 'get'>;
  publisher: Pick<Publisher, 'publish'>;
}): OrderChanges => ({
  async announce(orderId, known) {
    const stored = known ?? (await deps.orders.read(orderId));
    if (!stored) return;
    const order = stored.value;
    const change: OrderChanged = {
      v: 1,
      id: order.id,
      status: order.status,
      ...(order.reason ? { reason: order.reason } : {}),
      tickets: ticketCount(order, await deps.progress.get(order.id)),
      updatedAt: order.updatedAt,
      revision: stored.revision,
      ...(order.history ? { history: order.history } : {}),
    };
    await deps.publisher.publish(orderChangedSubject(order.id), change, { id: `order-changed:${order.id}:${formatOrderVersion(orderVersion(change))}` });
  },
});

/** The order store whose every status move is announced (including moves that found nothing to do). */
export const announcingOrders = (store: OrderStore, changes: OrderChanges): OrderStore => ({
  ...store,
  async move(id, to, extra) {
    const result = await store.move(id, to, extra);
    if (result) await changes.announce(id, result);
    return result;
  },
});

/** The progress store whose every counted ticket is announced (the order's `tickets.generated`). */
export const announcingProgress = (store: ProgressStore, changes: OrderChanges): ProgressStore => ({
  ...store,
  async complete(orderId, n, trace) {
    const result = await store.complete(orderId, n, trace);
    await changes.announce(orderId);
    return result;
  },
});
