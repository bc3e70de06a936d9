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
 * payment or ticket) can still become `ready` after the dead letter is replayed, and `ready` fails
 * when its tickets email is dead-lettered. `sent` is reachable from every post-payment status: the
 * mailer sends only after tickets.ready, and its tickets.sent may overtake the aggregator's own
 * move to `ready` (which then must not stop the order at `ready`).
 */
const NEXT: Record<OrderStatus, readonly OrderStatus[]> = {
  pending_payment: ['paid', 'payment_mismatch'],
  paid: ['generating', 'ready', 'failed', 'sent'],
  generating: ['ready', 'failed', 'sent'],
  failed: ['generating', 'ready', 'sent'],
  ready: ['failed', 'sent'],
  sent: [],
  payment_mismatch: [],
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

export const createOrderStore = (kv: RecordKv, now: () => Date = () => new Date()): OrderStore => {
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
      // The index first: an index entry without an order is skipped on list; the reverse would hide an order.
      await kv.create(userIndexKey(order.userId, order.id), new TextEncoder().encode(order.createdAt)).catch((error: unknown) => {
        if (!isConflict(error)) throw error;
      });
      if (!(await records.create(orderKey(order.id), order))) throw new Error(`order ${order.id} already exists`);
    },
    move: (id, to, extra = {}) =>
      change(id, (order) => {
        if (!canMove(order.status, to, order.failedStep)) return undefined;
        const { reason: _dropped, failedStep: _step, ...rest } = order;
        return { ...rest, ...extra, status: to };
      }),
    async orderIdsOfUser(userId) {
      const keys = await records.keys(`by-user.${userToken(userId)}.*`);
      return keys.map((key) => key.split('.').at(-1) ?? '');
    },
  };
};
