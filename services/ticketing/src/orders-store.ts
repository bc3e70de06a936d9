import { createHash } from 'node:crypto';
import { Order, type OrderStatus } from '#shared/contracts/orders';
import { isConflict, kvRecords, type RecordKv } from '#shared/nats/kv';

/** Order ids are KV keys, object-name prefixes and QR text: keep them to safe characters. */
export const ORDER_ID = /^ord_[a-z0-9]{20}$/;

const orderKey = (id: string) => `order.${id}`;
// User ids come from auth; hashing keeps any id shape a valid key token.
const userToken = (userId: string) => createHash('sha256').update(userId).digest('hex').slice(0, 40);
const userIndexKey = (userId: string, orderId: string) => `by-user.${userToken(userId)}.${orderId}`;

/**
 * Where an order may go from each status. Progress only moves forward; `failed` (a dead-lettered
 * ticket) can still become `ready` after the dead letter is replayed. `sent` is reachable from
 * every post-payment status: the mailer sends only after tickets.ready, and its tickets.sent may
 * overtake the aggregator's own move to `ready` (which then must not stop the order at `ready`).
 */
const NEXT: Record<OrderStatus, readonly OrderStatus[]> = {
  pending_payment: ['paid', 'payment_mismatch'],
  paid: ['generating', 'ready', 'failed', 'sent'],
  generating: ['ready', 'failed', 'sent'],
  failed: ['generating', 'ready', 'sent'],
  ready: ['sent'],
  sent: [],
  payment_mismatch: [],
};

export const canMove = (from: OrderStatus, to: OrderStatus) => NEXT[from].includes(to);

export interface OrderStore {
  get(id: string): Promise<Order | undefined>;
  create(order: Order): Promise<void>;
  /** Revision-checked change; undefined from `mutate` leaves the order as it is. */
  change(id: string, mutate: (order: Order) => Order | undefined): Promise<{ value: Order; changed: boolean } | undefined>;
  /** Moves the order to `to` if that is a legal step from where it is now. */
  move(id: string, to: OrderStatus, extra?: Partial<Pick<Order, 'reason' | 'paymentEventId'>>): Promise<{ value: Order; changed: boolean } | undefined>;
  listByUser(userId: string): Promise<Order[]>;
  /** The most recently changed orders, newest first (the operator dashboard). */
  listLatest(limit: number): Promise<Order[]>;
}

export const createOrderStore = (kv: RecordKv, now: () => Date = () => new Date()): OrderStore => {
  const records = kvRecords(kv, Order);
  const get = async (id: string) => (ORDER_ID.test(id) ? (await records.read(orderKey(id)))?.value : undefined);
  const change: OrderStore['change'] = (id, mutate) =>
    records.change(orderKey(id), (order) => {
      const next = mutate(order);
      return next && { ...next, updatedAt: now().toISOString() };
    });
  return {
    get,
    change,
    async create(order) {
      // The index first: an index entry without an order is skipped on list; the reverse would hide an order.
      await kv.create(userIndexKey(order.userId, order.id), new TextEncoder().encode(order.createdAt)).catch((error: unknown) => {
        if (!isConflict(error)) throw error;
      });
      if (!(await records.create(orderKey(order.id), order))) throw new Error(`order ${order.id} already exists`);
    },
    move: (id, to, extra = {}) =>
      change(id, (order) => {
        if (!canMove(order.status, to)) return undefined;
        const { reason: _dropped, ...rest } = order;
        return { ...rest, ...extra, status: to };
      }),
    async listByUser(userId) {
      const keys = await records.keys(`by-user.${userToken(userId)}.*`);
      const orders = await Promise.all(keys.map((key) => get(key.split('.').at(-1) ?? '')));
      return orders
        .filter((order): order is Order => order !== undefined && order.userId === userId)
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    },
    async listLatest(limit) {
      // KV lists keys in the order of their last update, so the tail holds the recent orders; a
      // bounded tail keeps the dashboard cheap however many orders exist.
      const keys = (await records.keys(orderKey('*'))).slice(-limit * 4);
      const orders = await Promise.all(keys.map((key) => get(key.split('.').at(-1) ?? '')));
      return orders
        .filter((order): order is Order => order !== undefined)
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
        .slice(0, limit);
    },
  };
};
