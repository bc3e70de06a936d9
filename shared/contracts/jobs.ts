import { AUTH_JOBS } from './auth.ts';
import { MAIL_JOBS } from './mail.ts';
import { orderExpiryJob, orderReminderJob } from './orders.ts';
import { paymentReceivedJob } from './payments.ts';
import type { JobSpec } from './spec.ts';
import { generateTicketJob, ticketGeneratedJob, ticketsMailFailedJob, ticketsReadyMailJob, ticketsSentJob } from './tickets.ts';

/**
 * Every job of the system (every durable consumer the job runner drives), in one list: what a dead
 * letter may be replayed to and what the operators' NATS user may publish. A job spec declared in
 * contracts but missing here fails shared/contracts/test/jobs.test.ts.
 */
export const JOBS: readonly JobSpec<unknown>[] = [
  AUTH_JOBS.magicLink,
  MAIL_JOBS.send,
  paymentReceivedJob,
  generateTicketJob,
  ticketGeneratedJob,
  ticketsSentJob,
  ticketsMailFailedJob,
  ticketsReadyMailJob,
  orderReminderJob,
  orderExpiryJob,
];
