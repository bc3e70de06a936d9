import { PAYMENT_SUCCEEDED, PaymentEvent, PaymentSucceededData } from '#shared/contracts/payments';
import { GenerateTicket, TicketGenerated } from '#shared/contracts/tickets';
import type { DeadLetterRecord } from '#shared/jobs/dead-letter';
import type { Log } from '#shared/observability/logger';
import type { OrderStore } from '../orders-store.ts';

/**
 * A ticket job that reached the dead-letter stream marks its order `failed` with the reason, so the
 * order never waits forever. Replaying the dead letter later lets the aggregator complete it.
 */
export const createOnTicketDeadLettered = (deps: { orders: Pick<OrderStore, 'move'>; log: Log }) => async (record: DeadLetterRecord) => {
  let job: GenerateTicket;
  try {
    job = GenerateTicket.parse(JSON.parse(record.payload));
  } catch {
    deps.log.error({ jobId: record.jobId }, 'dead-lettered ticket job has no readable payload; no order to mark');
    return;
  }
  const reason = `ticket ${job.n} of ${job.total} could not be generated after ${record.attempts} attempt(s) (${record.reason}): ${record.error}`;
  const result = await deps.orders.move(job.orderId, 'failed', { reason });
  deps.log.error(
    { orderId: job.orderId, ticket: job.n, jobId: record.jobId, marked: result?.changed ?? false },
    `${reason}; fix the cause and replay the dead letter (npm run cli -- dlq list / dlq replay ID)`,
  );
};

const readJson = (record: DeadLetterRecord): unknown => {
  try {
    return JSON.parse(record.payload);
  } catch {
    return undefined;
  }
};

const markFailed = async (deps: { orders: Pick<OrderStore, 'move'>; log: Log }, orderId: string, record: DeadLetterRecord, what: string) => {
  const reason = `${what} failed after ${record.attempts} attempt(s) (${record.reason}): ${record.error}`;
  const result = await deps.orders.move(orderId, 'failed', { reason });
  deps.log.error(
    { orderId, jobId: record.jobId, job: record.job, marked: result?.changed ?? false },
    `${reason}; fix the cause and replay the dead letter (npm run cli -- dlq list / dlq replay ID)`,
  );
};

/**
 * A payment that could not be processed (its attempts ran out, e.g. during an outage) must not
 * leave its order at `paid 0/N` for ever: the order is marked `failed`, and a replay resumes it.
 */
export const createOnPaymentDeadLettered = (deps: { orders: Pick<OrderStore, 'move'>; log: Log }) => async (record: DeadLetterRecord) => {
  const event = PaymentEvent.safeParse(readJson(record));
  if (!event.success || event.data.type !== PAYMENT_SUCCEEDED) return;
  const data = PaymentSucceededData.safeParse(event.data.data);
  if (data.success) await markFailed(deps, data.data.orderId, record, `processing payment ${record.jobId}`);
};

/** Likewise for a completion the aggregator could not count. */
export const createOnCompletionDeadLettered = (deps: { orders: Pick<OrderStore, 'move'>; log: Log }) => async (record: DeadLetterRecord) => {
  const event = TicketGenerated.safeParse(readJson(record));
  if (event.success) await markFailed(deps, event.data.orderId, record, `counting ticket ${event.data.n} of ${event.data.total}`);
};
