import { errorMessage } from '#shared/observability/errors';
import type { QueueRow } from '#shared/jobs/queue-control';
import type { AdminData, ConsoleDeadLetter, OrdersResult } from './console-data.ts';
import type { RateSeries } from './job-rates.ts';

type Part<T> = ({ ok: true } & T) | { ok: false; message: string };

/** Everything the dashboard shows at one moment; each part fails on its own. */
export interface AdminSnapshot {
  at: string;
  queues: Part<{ rows: QueueRow[] }>;
  rates: RateSeries[];
  deadLetters: Part<{ total: number; items: ConsoleDeadLetter[] }>;
  orders: OrdersResult;
}

export const DEAD_LETTERS_SHOWN = 100;
export const ORDERS_SHOWN = 20;

const settle = async <T>(what: string, work: () => Promise<T>): Promise<Part<T>> => {
  try {
    return { ok: true, ...(await work()) };
  } catch (error) {
    return { ok: false, message: `${what} unavailable: ${errorMessage(error)}` };
  }
};

export const takeSnapshot = async (data: AdminData): Promise<AdminSnapshot> => {
  const [queues, deadLetters, orders] = await Promise.all([
    settle('queue statistics', async () => ({ rows: await data.queues() })),
    settle('dead letters', () => data.deadLetters(DEAD_LETTERS_SHOWN)),
    data.latestOrders(ORDERS_SHOWN),
  ]);
  return { at: new Date().toISOString(), queues, rates: data.rates(), deadLetters, orders };
};

/**
 * One snapshot per `maxAgeMs` however many dashboards are open: each refresh costs several
 * JetStream API calls and a short-lived consumer on the DLQ.
 */
export const sharedSnapshots = (data: AdminData, maxAgeMs: number) => {
  let current: { at: number; value: Promise<AdminSnapshot> } | undefined;
  return (): Promise<AdminSnapshot> => {
    const now = Date.now();
    if (!current || now - current.at >= maxAgeMs) current = { at: now, value: takeSnapshot(data) };
    return current.value;
  };
};
