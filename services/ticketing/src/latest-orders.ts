import type { JetStreamManager } from '@nats-io/jetstream';
import { Order } from '#shared/contracts/orders';

/** Sequences read at once while walking back from the end of the bucket's stream. */
const BATCH = 32;

/**
 * The most recently changed orders, newest first (the operators' dashboard), read from the tail
 * of the bucket's stream: the bucket keeps one revision per key, so walking back from the last
 * sequence meets each recently changed order once, at its current value. The walk reads at most
 * `limit × 10` sequences (gaps left by older revisions, index entries) however many orders exist,
 * so the dashboard's refresh costs the same with a hundred orders or ten million.
 */
export const createLatestOrders =
  (deps: { jsm: Pick<JetStreamManager, 'streams'>; bucket: string }) =>
  async (limit: number): Promise<Order[]> => {
    const stream = `KV_${deps.bucket}`;
    const prefix = `$KV.${deps.bucket}.order.`;
    const { state } = await deps.jsm.streams.info(stream);
    const found = new Map<string, Order>();
    const lowest = Math.max(state.first_seq, state.last_seq - limit * 10 + 1, 1);
    for (let top = state.last_seq; top >= lowest && found.size < limit; top -= BATCH) {
      const seqs = Array.from({ length: Math.min(BATCH, top - lowest + 1) }, (_, i) => top - i);
      const messages = await Promise.all(seqs.map((seq) => deps.jsm.streams.getMessage(stream, { seq })));
      for (const m of messages) {
        // Index entries, delete markers and gaps (older revisions already removed) are skipped.
        if (!m || !m.subject.startsWith(prefix) || m.data.length === 0) continue;
        const order = Order.safeParse(m.json());
        if (order.success && !found.has(order.data.id)) found.set(order.data.id, order.data);
      }
    }
    return [...found.values()].slice(0, limit);
  };
