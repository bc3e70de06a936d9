import { createHash } from 'node:crypto';
import { Order, type OrderHistoryEntry, type OrderStatus } from '#shared/contracts/orders';
import { isConflict, kvRecords, type BucketUsage, type RecordKv } from '#shared/nats/kv';

/** Order ids are KV keys, object-name prefixes and QR text: keep them to safe characters. */
export const ORDER_ID = /^ord_[a-z0-9]{20}$/;

const orderKey = (id: string) => `order.${id}`;
// User ids come from auth; hashing keeps any id shape a valid key token.
const userToken = (userId: string) => createHash('sha256').update(userId).digest('hex').slice(0, 40);
const userIndexKey = (userId: string, orderId: string) => `by-user.${userToken(userId)}.${orderId}`;

/**
 * Where an order may go from each status. Progress only moves forward; `failed` (a dead-lettered
 * payment or ticket) can still become `ready` after the dead letter is replayed, and `ready` fails
 * when its tickets email is dead-lettered. `sent` is reachable from every post-payment status: the
 * mailer sends only after tickets.ready, and its tickets.sent may overtake the aggregator's own
 * move to `ready` (which then must not stop the order at `ready`). An unpaid order `expired` is
 * still paid when a payment arrives after all: the buyer paid, so the order is honoured.
 */
const NEXT: Record<OrderStatus, readonly OrderStatus[]> = {
  pending_payment: ['paid', 'payment_mismatch', 'expired'],
  paid: ['generating', 'ready', 'failed', 'sent'],
  generating: ['ready', 'failed', 'sent'],
  failed: ['generating', 'ready', 'sent'],
  ready: ['failed', 'sent'],
  sent: [],
  payment_mismatch: [],
  expired: ['paid', 'payment_mismatch'],
};

/** Statuses kept per order: the first (its creation) and the latest ones, should replays cycle it. */
const HISTORY_KEPT = 50;

/** The history with `entry` added; an order from before the history starts with its status then. */
export const withHistory = (order: Order, entry: OrderHistoryEntry): OrderHistoryEntry[] => {
  const history = [...(order.history ?? [{ status: order.status, at: order.updatedAt }]), entry];
  return history.length > HISTORY_KEPT ? [history[0]!, ...history.slice(-(HISTORY_KEPT - 1))] : history;
};

/**
 * A failed tickets email (`failedStep: 'mail'`) resumes only by being sent: the aggregator's own
 * move to `ready`, which the mailer's failure can overtake, must not bury the failure again.
 */
export const canMove = (from: OrderStatus, to: OrderStatus, failedStep?: Order['failedStep']) =>
  from === 'failed' && failedStep === 'mail' ? to === 'sent' : NEXT[from].includes(to);

/** A stored order with its record's revision (which orders its changes in time). */
export interface StoredOrder {
  value: Order;
  revision: number;
}

/** A new order that would take the orders bucket into the room kept for the orders it holds. */
export class OrdersFullError extends Error {
  constructor(bytes: number, maxBytes: number) {
    super(`orders bucket holds ${bytes} of its ${maxBytes} bytes (maximum bytes): the rest is kept for the orders it holds`);
    this.name = 'OrdersFullError';
  }
}

/** The server's answer to a write into a stream (a KV bucket) that reached its max_bytes, or ours before it. */
export const isStorageFull = (error: unknown) =>
  error instanceof OrdersFullError || (error instanceof Error && /maximum bytes|insufficient (storage|resources)/i.test(error.message));

/**
 * Room kept free in a bounded orders bucket for the orders it holds: each status move adds to an
 * order's history, and replicas may create orders at the same moment. It also keeps writes out of
 * the last bytes below max_bytes, where 2.9 acknowledges a new key and evicts the oldest order to
 * make room (its discard-new check counts the payload, its store the whole record).
 */
const reserveOf = (maxBytes: number) => Math.max(1_024, Math.ceil(maxBytes / 100));

/** Bytes a new order takes: its record and its index entry, with their keys and framing. */
const bytesOf = (order: Order) => new TextEncoder().encode(JSON.stringify(order)).byteLength + 400;

/**
 * How much longer a replacing value may be and still fit a full bucket: the server takes a write
 * that is no larger than the record it replaces, which holds the value's subject
 * (`$KV.orders.order.<id>`, 40 bytes and more) and framing (30 bytes) besides the value.
 */
const REPLACE_SLACK = 32;

/**
 * `next` with old history entries dropped until it fits where `order` was in a full bucket:
 * those after the first (the creation) first, then the first; the newest always stays.
 */
const noLonger = (order: Order, next: Order): Order => {
  const limit = JSON.stringify(order).length + REPLACE_SLACK;
  let history = next.history ?? [];
  const tooLong = () => JSON.stringify({ ...next, history }).length > limit;
  while (history.length > 2 && tooLong()) history = [history[0]!, ...history.slice(2)];
  if (history.length > 1 && tooLong()) history = history.slice(-1);
  return { ...next, history };
};

export interface OrderStore {
  get(id: string): Promise<Order | undefined>;
  read(id: string): Promise<StoredOrder | undefined>;
  create(order: Order): Promise<void>;
  /** Revision-checked change; undefined from `mutate` leaves the order as it is. */
  change(id: string, mutate: (order: Order) => Order | undefined): Promise<(StoredOrder & { changed: boolean }) | undefined>;
  /** Moves the order to `to` if that is a legal step from where it is now. */
  move(id: string, to: OrderStatus, extra?: Partial<Pick<Order, 'reason' | 'paymentEventId' | 'failedStep'>>): Promise<(StoredOrder & { changed: boolean }) | undefined>;
  /** The ids in a user's index, in no particular order (order-pages.ts cuts pages from them). */
  orderIdsOfUser(userId: string): Promise<string[]>;
}

/**
 * Orders in their KV bucket. `usage` (the bucket's stream state) lets a bounded bucket refuse a
 * new order while room is left for the ones it holds: without it only the server's max_bytes applies.
 */
export const createOrderStore = (kv: RecordKv, now: () => Date = () => new Date(), usage?: () => Promise<BucketUsage>): OrderStore => {
  const records = kvRecords(kv, Order);
  const read = async (id: string) => (ORDER_ID.test(id) ? await records.read(orderKey(id)) : undefined);
  const get = async (id: string) => (await read(id))?.value;
  const change: OrderStore['change'] = (id, mutate) =>
    records.change(orderKey(id), (order) => {
      const next = mutate(order);
      return next && { ...next, updatedAt: now().toISOString() };
    });
  return {
    get,
    read,
    change,
    async create(order) {
      const used = await usage?.();
      if (used?.maxBytes !== undefined && used.bytes + bytesOf(order) + reserveOf(used.maxBytes) > used.maxBytes) {
        throw new OrdersFullError(used.bytes, used.maxBytes);
      }
      // The index first: an index entry without an order is skipped on list; the reverse would hide an order.
      await kv.create(userIndexKey(order.userId, order.id), new TextEncoder().encode(order.createdAt)).catch((error: unknown) => {
        if (!isConflict(error)) throw error;
      });
      if (!(await records.create(orderKey(order.id), order))) throw new Error(`order ${order.id} already exists`);
    },
    async move(id, to, extra = {}) {
      const step = (order: Order): Order | undefined => {
        if (!canMove(order.status, to, order.failedStep)) return undefined;
        const { reason: _dropped, failedStep: _step, ...rest } = order;
        const entry = { status: to, at: now().toISOString(), ...(extra.reason ? { reason: extra.reason } : {}) };
        return { ...rest, ...extra, status: to, history: withHistory(order, entry) };
      };
      try {
        return await change(id, step);
      } catch (error) {
        if (!isStorageFull(error)) throw error;
        // The bucket is full (max_bytes): the order still moves, but its history does not grow,
        // so orders already stored keep progressing while new ones are refused.
        return change(id, (order) => {
          const next = step(order);
          return next && noLonger(order, next);
        });
      }
    },
    async orderIdsOfUser(userId) {
      const keys = await records.keys(`by-user.${userToken(userId)}.*`);
      return keys.map((key) => key.split('.').at(-1) ?? '');
    },
  };
};
