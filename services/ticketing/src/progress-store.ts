import { z } from 'zod';
import { PermanentError } from '#shared/jobs/job';
import { kvRecords, type RecordKv } from '#shared/nats/kv';

/** The aggregator's record for one order: which tickets are stored, and whether ready went out. */
export const Progress = z.object({
  v: z.literal(1),
  orderId: z.string(),
  total: z.number().int().min(1),
  /** Ticket numbers whose PDF is stored; a set, so a redelivered completion never counts twice. */
  done: z.array(z.number().int()),
  readyAt: z.string().optional(),
  /** `traceparent` of each ticket's rendering attempt, by ticket number, for the ready span's links. */
  traces: z.record(z.string(), z.string()).optional(),
});
export type Progress = z.infer<typeof Progress>;

export interface ProgressStore {
  get(orderId: string): Promise<Progress | undefined>;
  /** Records the expected count once; a second call (a redelivered payment) leaves the record alone. */
  start(orderId: string, total: number): Promise<void>;
  /** Adds ticket n with compare-and-set; `complete` is true when every ticket is now stored. */
  complete(orderId: string, n: number, trace?: string): Promise<{ progress: Progress; added: boolean }>;
  markReady(orderId: string, at: Date): Promise<void>;
}

export const createProgressStore = (kv: RecordKv): ProgressStore => {
  const records = kvRecords(kv, Progress);
  return {
    get: async (orderId) => (await records.read(orderId))?.value,
    async start(orderId, total) {
      await records.create(orderId, { v: 1, orderId, total, done: [] });
    },
    async complete(orderId, n, trace) {
      const result = await records.change(orderId, (p) =>
        p.done.includes(n) || n > p.total
          ? undefined
          : { ...p, done: [...p.done, n].sort((a, b) => a - b), ...(trace ? { traces: { ...p.traces, [n]: trace } } : {}) },
      );
      // Missing means the payment step has not recorded the order yet: a retry will find it.
      if (!result) throw new Error(`no progress record for order ${orderId}`);
      if (n > result.value.total) throw new PermanentError(`ticket ${n} is beyond the order's ${result.value.total} tickets`);
      return { progress: result.value, added: result.changed };
    },
    async markReady(orderId, at) {
      await records.change(orderId, (p) => (p.readyAt ? undefined : { ...p, readyAt: at.toISOString() }));
    },
  };
};

export const isComplete = (p: Progress) => p.done.length >= p.total;
