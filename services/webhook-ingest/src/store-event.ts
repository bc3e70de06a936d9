import { createHash } from 'node:crypto';
import type { JetStreamManager } from '@nats-io/jetstream';
import { PAYMENT_HEADERS } from '#shared/contracts/payments';
import { STREAMS } from '#shared/contracts/streams';
import { SUBJECTS } from '#shared/contracts/subjects';
import type { Publisher } from '#shared/nats/publish';
import type { StoreEvent } from './app.ts';

export const bodyDigest = (raw: Uint8Array): string => createHash('sha256').update(raw).digest('hex');

/**
 * Publishes the provider's raw body with its event id as `Nats-Msg-Id`: a provider retry inside
 * the stream's duplicate window is stored once and acknowledged as a duplicate. No retry loop
 * here: the provider retries on 503, and answering it quickly is the point of the endpoint.
 *
 * Each stored event carries the SHA-256 of its body in a header. A duplicate's PubAck names the
 * stored message, so only then is it read back (one extra round trip, never on the usual path)
 * and its digest returned: the caller can tell a retry from a different body under a reused id.
 * The stream itself is the record: no second store to keep in step, and nothing to expire but
 * the stream's own messages.
 */
export const createEventStore =
  (publisher: Pick<Publisher, 'publishRaw'>, jsm: Pick<JetStreamManager, 'streams'>, options: { timeoutMs: number }): StoreEvent =>
  async (raw, meta) => {
    const digest = bodyDigest(raw);
    const ack = await publisher.publishRaw(SUBJECTS.paymentReceived, raw, {
      id: meta.id,
      headers: { [PAYMENT_HEADERS.webhookId]: meta.id, [PAYMENT_HEADERS.webhookTimestamp]: meta.timestamp, [PAYMENT_HEADERS.bodySha256]: digest },
      timeoutMs: options.timeoutMs,
      retryForMs: 0,
    });
    if (!ack.duplicate) return { duplicate: false, seq: ack.seq, digest };
    const stored = await jsm.streams.getMessage(STREAMS.PAYMENTS.name, { seq: ack.seq }).catch(() => null);
    // Events stored before the digest header existed are hashed from their bytes.
    const storedDigest = stored ? (stored.header?.get(PAYMENT_HEADERS.bodySha256) || bodyDigest(stored.data)) : undefined;
    return { duplicate: true, seq: ack.seq, digest, ...(storedDigest ? { storedDigest } : {}) };
  };
