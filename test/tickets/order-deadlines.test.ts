import { afterAll, beforeAll, expect, test } from 'vitest';
import { ORDER_IDS, orderReminderJob, type OrderView } from '#shared/contracts/orders';
import { MAIL_JOBS } from '#shared/contracts/mail';
import { STREAMS } from '#shared/contracts/streams';
import { supportsMessageSchedules } from '#shared/nats/server-features';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { startService, type RunningService } from '../services.ts';
import { startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../smtp-server.ts';
import { waitFor } from '../wait.ts';
import { SIGNING_KEY, ticketingClient, type TicketingClient } from './ticketing-setup.ts';

// Ticketing and the mailer as real processes, with deadlines of seconds instead of 15 minutes and
// 24 hours. Runs against the server NATS_SERVER_BIN names (schedules on 2.12+, the runner on 2.9).
// The expiry leaves room for a ticketing restart between the two (the second test).
const REMINDER_AFTER_MS = 4_000;
// Far enough after the reminder that a ticketing restart under load cannot run into the expiry.
const EXPIRES_AFTER_MS = 30_000;
const CHECKOUT = 'http://127.0.0.1:9/checkout';

let nats: NatsServer;
let smtp: TestSmtpServer;
let client: TicketingClient;
let mailer: RunningService;
let ticketing: RunningService;

const ticketingEnv = () => ({
  NATS_URL: nats.url,
  TICKET_SIGNING_KEY: SIGNING_KEY,
  ORDER_REMINDER_AFTER_MS: String(REMINDER_AFTER_MS),
  ORDER_EXPIRES_AFTER_MS: String(EXPIRES_AFTER_MS),
  SHUTDOWN_GRACE_MS: '2000',
});

beforeAll(async () => {
  [nats, smtp] = await Promise.all([startNatsServer(), startSmtpServer()]);
  client = await ticketingClient(nats.url);
  [mailer, ticketing] = await Promise.all([
    startService('mailer', { NATS_URL: nats.url, SMTP_URL: smtp.url, PUBLIC_URL: 'http://127.0.0.1:3000', PAYMENT_CHECKOUT_URL: CHECKOUT, MAIL_RETRY_INITIAL_MS: '200' }),
    startService('ticketing', ticketingEnv()),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([mailer, ticketing].map((s) => s?.kill('SIGKILL')));
  await client?.close();
  await smtp?.stop();
  await nats?.stop();
});

const remindersOf = (order: Pick<OrderView, 'id'>) => (mail: ReceivedMail) => mail.parsed.subject?.includes(`order ${order.id}`) === true;
const ticketsMailOf = (order: Pick<OrderView, 'event' | 'attendees'>) => (mail: ReceivedMail) => mail.parsed.subject === `Your ${order.attendees.length === 1 ? 'ticket' : 'tickets'} for ${order.event}`;

/** Nothing of `job` is waiting, delivered or unacknowledged any more: no reminder can still come. */
const drained = async (job: { stream: string; consumer: string }) => {
  const info = await client.jsm.consumers.info(job.stream, job.consumer);
  return info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.stream_seq > 0;
};

test('an unpaid order gets exactly one reminder with its checkout link and expires; a paid one gets none; a late payment ends sent', async () => {
  const unpaid = await client.createOrder(['Ada', 'Grace'], { event: 'Deadline Gig unpaid' });
  const paid = await client.createOrder(['Linus'], { event: 'Deadline Gig paid' });
  await client.pay(paid);
  expect(unpaid).toMatchObject({ status: 'pending_payment', expiresAt: new Date(Date.parse(unpaid.createdAt) + EXPIRES_AFTER_MS).toISOString() });
  // The deadlines wait as server-side schedules where the server has them (2.12+), else in the runner.
  const deadlines = await client.jsm.streams.info(STREAMS.ORDER_DEADLINES.name);
  expect(deadlines.config.allow_msg_schedules === true).toBe(supportsMessageSchedules(client.nc.info?.version));

  const [reminder] = await smtp.waitForMessages(1, { match: remindersOf(unpaid), timeoutMs: 60_000 });
  expect(reminder!.envelope.to).toEqual(['buyer@example.test']);
  expect(reminder!.receivedAt).toBeGreaterThanOrEqual(Date.parse(unpaid.createdAt) + REMINDER_AFTER_MS);
  const link = new URL(/http:\/\/127\.0\.0\.1:9\/checkout\S+/.exec(reminder!.parsed.text ?? '')![0]);
  expect(Object.fromEntries(link.searchParams)).toMatchObject({ order: unpaid.id, amount: String(unpaid.amount), currency: unpaid.currency });

  const expired = await client.waitForStatus(unpaid.id, 'expired', 60_000);
  expect(Date.parse(expired.updatedAt)).toBeGreaterThanOrEqual(Date.parse(unpaid.createdAt) + EXPIRES_AFTER_MS);
  expect(expired.reason).toMatch(/not paid in time/);

  // The paid order's reminder came and saw it paid; it has its tickets and no reminder.
  await ticketing.waitForOutput(new RegExp(`"orderId":"${paid.id}"[^\\n]*"msg":"no payment reminder`), 60_000);
  await smtp.waitForMessages(1, { match: ticketsMailOf(paid), timeoutMs: 60_000 });
  await client.waitForStatus(paid.id, 'sent', 60_000);

  // The buyer pays after all: honoured, tickets follow, and the history shows the expiry and the rest.
  await client.pay(unpaid);
  const sent = await client.waitForStatus(unpaid.id, 'sent', 60_000);
  const statuses = (sent.history ?? []).map((h) => h.status);
  expect(statuses.slice(0, 4)).toEqual(['pending_payment', 'expired', 'paid', 'generating']);
  expect(statuses.at(-1)).toBe('sent');
  await smtp.waitForMessages(1, { match: ticketsMailOf(unpaid), timeoutMs: 60_000 });

  await waitFor(() => drained(orderReminderJob), { timeoutMs: 30_000, what: 'every reminder job done' });
  await waitFor(() => drained(MAIL_JOBS.send), { timeoutMs: 30_000, what: 'every mail job done' });
  expect(smtp.messages().filter(remindersOf(unpaid))).toHaveLength(1);
  expect(smtp.messages().filter(remindersOf(paid))).toHaveLength(0);
});

test('ticketing is SIGKILLed while deadlines wait, and a reminder job runs again after it was sent: still one reminder, and the order expires', async () => {
  const order = await client.createOrder(['Barbara'], { event: 'Deadline Gig crash' });
  await ticketing.kill('SIGKILL');
  ticketing = await startService('ticketing', ticketingEnv());
  await smtp.waitForMessages(1, { match: remindersOf(order), timeoutMs: 60_000 });

  // The reminder job once more, as a redelivery would bring it after the dedupe window had passed,
  // while the order still waits for payment: it queues the same mail again, and no second email comes.
  await client.publisher.publish(orderReminderJob.subject, { v: 1, orderId: order.id }, { id: `${ORDER_IDS.reminder(order.id)}:again` });
  await ticketing.waitForOutput(new RegExp(`"orderId":"${order.id}"[^\\n]*"again":true[^\\n]*"msg":"payment reminder queued"`), 60_000);
  await client.waitForStatus(order.id, 'expired', 60_000);
  await waitFor(() => drained(orderReminderJob), { timeoutMs: 30_000, what: 'every reminder job done' });
  await waitFor(() => drained(MAIL_JOBS.send), { timeoutMs: 30_000, what: 'every mail job done' });
  expect(smtp.messages().filter(remindersOf(order))).toHaveLength(1);
});
