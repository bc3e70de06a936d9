import type { StreamSpec } from './spec.ts';
import { SUBJECTS } from './subjects.ts';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const MIB = 1024 ** 2;

/** Every stream of the system. Names are written here and nowhere else. */
export const STREAMS = {
  AUTH: {
    name: 'AUTH',
    owner: 'auth',
    subjects: [SUBJECTS.magicLinkRequested],
    retention: 'workqueue',
    duplicateWindowMs: 2 * MINUTE,
    description: 'auth jobs: magic-link requests',
  },
  MAIL: {
    name: 'MAIL',
    owner: 'mailer',
    subjects: [SUBJECTS.mailSend],
    retention: 'workqueue',
    duplicateWindowMs: 10 * MINUTE,
    description: 'mailer jobs: one email each',
  },
  PAYMENTS: {
    name: 'PAYMENTS',
    owner: 'webhook-ingest',
    subjects: [SUBJECTS.paymentReceived],
    retention: 'limits',
    maxAgeMs: 30 * DAY,
    // Providers retry for hours; a day-long window turns their retries into no-ops at the door.
    duplicateWindowMs: DAY,
    description: 'verified payment-provider events, as the provider sent them',
  },
  TICKETS: {
    name: 'TICKETS',
    owner: 'ticketing',
    subjects: [SUBJECTS.ticketGenerate, SUBJECTS.ticketGenerated, SUBJECTS.ticketsSent, SUBJECTS.ticketsMailFailed],
    retention: 'workqueue',
    duplicateWindowMs: 10 * MINUTE,
    description: 'ticketing jobs: render one ticket; count a rendered ticket; record a sent or a failed tickets email',
  },
  TICKET_EVENTS: {
    name: 'TICKET_EVENTS',
    owner: 'ticketing',
    subjects: [SUBJECTS.ticketsReady],
    retention: 'limits',
    maxAgeMs: 7 * DAY,
    duplicateWindowMs: DAY,
    description: 'tickets.ready: every ticket of an order exists (published once per order)',
  },
  ORDER_EVENTS: {
    name: 'ORDER_EVENTS',
    owner: 'ticketing',
    subjects: [`${SUBJECTS.ordersChanged}.*`],
    retention: 'limits',
    // Read live (the gateway's watch starts at the end); a day covers any reconnect.
    maxAgeMs: DAY,
    duplicateWindowMs: 10 * MINUTE,
    description: 'orders.changed.<id>: an order\'s status or ticket count after each change, for live views',
  },
  ORDER_DEADLINES: {
    name: 'ORDER_DEADLINES',
    owner: 'ticketing',
    subjects: [SUBJECTS.orderReminderDue, SUBJECTS.orderExpiryDue, `${SUBJECTS.orderSchedules}.>`],
    retention: 'workqueue',
    duplicateWindowMs: 10 * MINUTE,
    // Written by ticketing alone (and replays by the operators' console), so the rollups that
    // schedules bring cannot remove anyone else's messages. No max_age: jobs wait up to a day.
    messageSchedules: true,
    description: 'delayed jobs at an order\'s deadlines: the payment reminder and the expiry of an unpaid order',
  },
  DLQ: {
    name: 'DLQ',
    owner: 'console',
    subjects: [`${SUBJECTS.deadLetterPrefix}.>`],
    retention: 'limits',
    maxAgeMs: 30 * DAY,
    duplicateWindowMs: DAY,
    description: 'dead letters: jobs that failed permanently or ran out of attempts',
  },
  JOB_EVENTS: {
    name: 'JOB_EVENTS',
    owner: 'console',
    subjects: [`${SUBJECTS.jobEventPrefix}.>`],
    retention: 'limits',
    maxAgeMs: 7 * DAY,
    // Two small events per attempt; the oldest go first, so a flood of jobs cannot fill the disk.
    // JetStream reserves max_bytes up front: with the orders bucket's 1 GiB this stays inside the
    // server's max_file_store (deploy/nats/server.conf, 1800M).
    maxBytes: 256 * MIB,
    description: 'job attempts as they start and end (worker, outcome, error, retry delay, trace id): jobs show and the console\'s rates',
  },
} as const satisfies Record<string, StreamSpec>;

export type StreamName = keyof typeof STREAMS;
