import { GenerateTicket } from '../../../../shared/contracts/tickets.ts';
import type { DeadLetterRecord } from '../../../../shared/messaging/dead-letter.ts';
import type { Log } from '../../../../shared/observability/logger.ts';
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
