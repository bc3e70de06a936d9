/**
 * Issue 17, acceptance 1: 30 paid orders' tickets emails queued behind a slow SMTP server with
 * MAIL_RATE_PER_SEC=4; a sign-in email requested then goes out within 3 seconds, ahead of the
 * tickets still queued, and every tickets email still goes out. Ticketing, auth and the mailer
 * run as their own processes; the test stands in for the gateway and the payment provider.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { AUTH_RPC, type MagicLinkRequested } from '#shared/contracts/auth';
import { SUBJECTS } from '#shared/contracts/subjects';
import { ensureConsoleState } from '../jobs-runtime.ts';
import { to, uniqueEmail } from '../magic-link/helpers.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { startService, type RunningService } from '../services.ts';
import { startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../smtp-server.ts';
import { SIGNING_KEY, ticketingClient, type TicketingClient } from '../tickets/ticketing-setup.ts';
import { waitFor } from '../wait.ts';

const ORDERS = 30;
let nats: NatsServer;
let smtp: TestSmtpServer;
let client: TicketingClient;
const services: RunningService[] = [];
const isTickets = (mail: ReceivedMail) => /^Your tickets? for /.test(mail.parsed.subject ?? '');

beforeAll(async () => {
  [nats, smtp] = await Promise.all([startNatsServer(), startSmtpServer()]);
  await ensureConsoleState(nats.url);
  const env = { NATS_URL: nats.url, SHUTDOWN_GRACE_MS: '1000' };
  services.push(
    ...(await Promise.all([startService('ticketing', { ...env, TICKET_SIGNING_KEY: SIGNING_KEY, RENDER_PROCESSES: '1' }), startService('auth', env)])),
  );
  client = await ticketingClient(nats.url);
}, 90_000);

afterAll(async () => {
  await Promise.all(services.map((s) => s.kill('SIGKILL')));
  await client?.close();
  await smtp?.stop();
  await nats?.stop();
});

test('a sign-in email goes out within 3 s while 30 tickets emails wait behind a slow server; every tickets email still goes out', async () => {
  const email = uniqueEmail('lane');
  const added = await client.rpc.call(AUTH_RPC.addUser, { email });
  expect(added.ok).toBe(true);

  // 30 paid orders, their tickets rendered and announced before any mailer runs: the bulk lane's
  // whole backlog is queued when the mailer starts.
  const orders = await Promise.all(Array.from({ length: ORDERS }, (_, i) => client.createOrder([`Guest ${i + 1}`])));
  for (const order of orders) await client.pay(order);
  await waitFor(async () => (await client.readyEvents()).length === ORDERS || undefined, { timeoutMs: 90_000, intervalMs: 500, what: 'every order\'s tickets to be ready' });

  // A slow provider (0.7 s per message) and a cap of 4 sends a second, shared by the lanes; 16
  // tickets emails at once per mailer: more than the cap allows, so they queue for send slots.
  smtp.slowDown(700);
  services.push(await startService('mailer', { NATS_URL: nats.url, SMTP_URL: smtp.url, MAIL_RATE_PER_SEC: '4', MAIL_CONCURRENCY: '16', SHUTDOWN_GRACE_MS: '1000' }));
  await smtp.waitForMessages(2, { match: isTickets, timeoutMs: 30_000 });

  const request: MagicLinkRequested = { v: 1, email, requestedAt: new Date().toISOString() };
  const requestedAt = Date.now();
  await client.publisher.publish(SUBJECTS.magicLinkRequested, request);
  const [signIn] = await smtp.waitForMessages(1, { match: to(email), timeoutMs: 30_000 });
  const ticketsBefore = smtp.messages().filter((m) => isTickets(m) && m.receivedAt <= signIn!.receivedAt).length;

  expect(signIn!.parsed.subject).toBe('Your sign-in link for Handoff');
  expect(signIn!.receivedAt - requestedAt).toBeLessThan(3_000);
  // It went ahead of the backlog: most tickets emails were still waiting when it arrived.
  expect(ticketsBefore).toBeLessThan(ORDERS / 2);

  const tickets = await smtp.waitForMessages(ORDERS, { match: isTickets, timeoutMs: 60_000 });
  expect(new Set(tickets.map((m) => m.parsed.messageId)).size).toBe(ORDERS);
  for (const order of orders) await client.waitForStatus(order.id, 'sent');
});
