import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream';

/**
 * Stored messages of a stream by sequence, oldest first, read with message gets through the
 * stream leader: nothing is created on the server, so listing a stream on every request (the
 * console refreshes every 2 s) costs no consumer that lingers. Sequences in the range that hold
 * no message (deleted, or before the first) are skipped. A window of gets is in flight at once.
 */
export const readStoredMessages = async function* (
  jsm: Pick<JetStreamManager, 'streams'>,
  stream: string,
  range: { from: number; to: number; window?: number },
): AsyncGenerator<StoredMsg> {
  const window = range.window ?? 64;
  for (let start = Math.max(1, range.from); start <= range.to; start += window) {
    const seqs = Array.from({ length: Math.min(window, range.to - start + 1) }, (_, i) => start + i);
    const messages = await Promise.all(seqs.map((seq) => jsm.streams.getMessage(stream, { seq })));
    for (const m of messages) if (m) yield m;
  }
};
