import { PAYMENT_HEADERS } from '#shared/contracts/payments';
import { SUBJECTS } from '#shared/contracts/subjects';
import type { Publisher } from '#shared/nats/publish';
import type { StoreEvent } from './app.ts';

/**
 * Publishes the provider's raw body with its event id as `Nats-Msg-Id`: a provider retry inside
 * the stream's duplicate window is stored once and acknowledged as a duplicate. No retry loop
 * here: the provider retries on 503, and answering it quickly is the point of the endpoint.
 */
export const createEventStore = (publisher: Pick<Publisher, 'publishRaw'>, options: { timeoutMs: number }): StoreEvent => async (raw, meta) => {
  const ack = await publisher.publishRaw(SUBJECTS.paymentReceived, raw, {
    id: meta.id,
    headers: { [PAYMENT_HEADERS.webhookId]: meta.id, [PAYMENT_HEADERS.webhookTimestamp]: meta.timestamp },
    timeoutMs: options.timeoutMs,
    retryForMs: 0,
  });
  return { duplicate: ack.duplicate, seq: ack.seq };
};
