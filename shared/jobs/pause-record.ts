import { z } from 'zod';

/**
 * A runtime pause, for servers without consumer pause (before 2.11): a key in the console's
 * `queue_pauses` bucket, `<stream>` for every consumer of a stream or `<stream>.<consumer>` for one.
 * Job runners watch the bucket and stop pulling while a key that covers them is there.
 */
export const PauseRecord = z.object({
  pausedAt: z.iso.datetime(),
  /** Unset: until resumed. */
  until: z.iso.datetime().optional(),
  /** Who paused it: `cli` or `console`. */
  by: z.string().max(100),
});
export type PauseRecord = z.infer<typeof PauseRecord>;

export const pauseKey = (stream: string, consumer?: string): string => (consumer ? `${stream}.${consumer}` : stream);

/** In force at `now`: present, and its `until` (if any) not passed. */
export const inForce = (record: PauseRecord | undefined, now = Date.now()): record is PauseRecord =>
  !!record && (record.until === undefined || Date.parse(record.until) > now);
