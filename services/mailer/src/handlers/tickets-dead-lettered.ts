import { SUBJECTS } from '#shared/contracts/subjects';
import { TICKET_IDS, TicketsReady, type TicketsMailFailed } from '#shared/contracts/tickets';
import type { DeadLetterRecord } from '#shared/jobs/dead-letter';
import type { Publisher } from '#shared/nats/publish';
import type { Log } from '#shared/observability/logger';

const REASON_MAX = 2_000;

const readReady = (record: DeadLetterRecord): TicketsReady | undefined => {
  try {
    const parsed = TicketsReady.safeParse(JSON.parse(record.payload));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
};

/**
 * A tickets email the mailer gave up on (refused with a 5xx, or out of attempts) must not leave
 * its order at `ready` for ever. Orders are ticketing's, so the mailer only says what happened:
 * `tickets.mail_failed`, with an id per dead-lettered message (a rerun of this hook stores it once;
 * a replay that fails again is a new event). Publishing retries through short outages.
 */
export const createOnTicketsMailDeadLettered =
  (deps: { publisher: Pick<Publisher, 'publish'>; log: Log; now?: () => Date }) => async (record: DeadLetterRecord) => {
    const ready = readReady(record);
    if (!ready) {
      deps.log.error({ jobId: record.jobId }, 'dead-lettered tickets.ready names no readable order; no order to mark');
      return;
    }
    const reason = `the tickets email could not be sent after ${record.attempts} attempt(s) (${record.reason}): ${record.error}`.slice(0, REASON_MAX);
    const event: TicketsMailFailed = { v: 1, orderId: ready.orderId, reason, failedAt: (deps.now?.() ?? new Date()).toISOString() };
    await deps.publisher.publish(SUBJECTS.ticketsMailFailed, event, { id: TICKET_IDS.mailFailed(record.stream, record.streamSeq), retryForMs: 30_000 });
    deps.log.warn({ orderId: ready.orderId, jobId: record.jobId }, 'tickets email given up; tickets.mail_failed published');
  };
