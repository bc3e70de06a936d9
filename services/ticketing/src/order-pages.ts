import { randomBytes } from 'node:crypto';
import type { Order } from '#shared/contracts/orders';

/**
 * A user's orders, newest first, one page at a time. The page is cut from the user's index keys
 * (ids only, no values), so a page reads `limit` orders however many the user has.
 *
 * New order ids start with their creation time (`ord_t` + 9 base-36 digits of milliseconds + 10
 * random ones), so the ids alone sort newest first. Orders from before that format (`ord_` + 20
 * hex digits) sort after every new one, by their `createdAt`, read only when a page reaches them.
 * The cursor is the sort key of a page's last entry, so every order appears on exactly one page,
 * whatever is created meanwhile (newer orders land on the first page, not between pages).
 */

const TIME_DIGITS = 9;
const TIMED_ID = /^ord_t[0-9a-z]{19}$/;
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

export const newOrderId = (now: number = Date.now(), random: (n: number) => Uint8Array = randomBytes): string => {
  const tail = [...random(10)].map((byte) => ALPHABET[byte % 36]).join('');
  return `ord_t${now.toString(36).padStart(TIME_DIGITS, '0')}${tail}`;
};

/** Sort key of an order in its owner's list: larger is newer. */
const timedKey = (id: string) => `1${id}`;
const legacyKey = (order: Pick<Order, 'id' | 'createdAt'>) => `0${order.createdAt}${order.id}`;

export class InvalidCursorError extends Error {
  constructor() {
    super('the cursor is not one this list returned');
    this.name = 'InvalidCursorError';
  }
}

const encodeCursor = (key: string) => Buffer.from(key).toString('base64url');
const decodeCursor = (cursor: string): string => {
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[01][\x21-\x7e]{20,100}$/.test(key)) throw new InvalidCursorError();
  return key;
};

export interface OrderPage {
  orders: Order[];
  /** Pass it back for the next page; null on the last one. */
  nextCursor: string | null;
}

/**
 * One page of `userId`'s orders from the ids in its index (`ids`), reading orders with `get`.
 * An index entry whose order is missing (a create that failed halfway) is skipped.
 */
export const pageOfUser = async (
  deps: { ids: readonly string[]; get(id: string): Promise<Order | undefined> },
  userId: string,
  options: { limit: number; cursor?: string | undefined },
): Promise<OrderPage> => {
  const before = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
  const newer = (key: string) => before === undefined || key < before;
  const byKeyDesc = <T extends { key: string }>(a: T, b: T) => (a.key < b.key ? 1 : a.key > b.key ? -1 : 0);

  const entries: Array<{ key: string; id: string; order?: Order | undefined }> = deps.ids
    .filter((id) => TIMED_ID.test(id))
    .map((id) => ({ key: timedKey(id), id }))
    .filter((e) => newer(e.key))
    .sort(byKeyDesc);
  if (entries.length <= options.limit) {
    // The page reaches the orders from before time-ordered ids: their order needs their dates.
    const legacy = await Promise.all(deps.ids.filter((id) => !TIMED_ID.test(id)).map((id) => deps.get(id)));
    entries.push(
      ...legacy
        .filter((order): order is Order => order !== undefined && order.userId === userId)
        .map((order) => ({ key: legacyKey(order), id: order.id, order }))
        .filter((e) => newer(e.key))
        .sort(byKeyDesc),
    );
  }
  const page = entries.slice(0, options.limit);
  const orders = await Promise.all(page.map(async (e) => e.order ?? (await deps.get(e.id))));
  return {
    orders: orders.filter((order): order is Order => order !== undefined && order.userId === userId),
    nextCursor: entries.length > options.limit && page.length > 0 ? encodeCursor(page.at(-1)!.key) : null,
  };
};
