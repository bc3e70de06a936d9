import { pdfText } from '../pdf.ts';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { STREAMS } from '#shared/contracts/streams';
import { listDeadLetters } from '#shared/jobs/dead-letter';
import { replayDeadLetter } from '#shared/jobs/replay';
import { linkIn, runCli, sessionCookie, signInWith, to, uniqueEmail } from '../magic-link/helpers.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { FAULTY_TICKETING, startService, type RunningService } from '../services.ts';
import { startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../smtp-server.ts';
import { uniqueName, waitFor } from '../wait.ts';
import { SIGNING_KEY, ticketingClient, type TicketingClient } from './ticketing-setup.ts';
import { newWebhookSecret, paymentSucceeded, postWebhook, signWebhook, type SignedWebhook } from './webhooks.ts';
import { ensureConsoleState } from '../jobs-runtime.ts';

// Every service as its own process against a fresh nats-server and a real SMTP server.
const SECRET = newWebhookSecret();
let nats: NatsServer;
let smtp: TestSmtpServer;
let client: TicketingClient;
let gateway: RunningService;
let ingest: RunningService;
let ticketing: RunningService;
const others: RunningService[] = [];
let base: string;
let hooks: string;
let buyer: { email: string; cookie: string };

const TICKETING_ENV = {
  TICKET_SIGNING_KEY: SIGNING_KEY,
  TICKET_MAX_ATTEMPTS: '2',
  TICKETING_BACKOFF_INITIAL_MS: '200',
  TICKETING_BACKOFF_MAX_MS: '1000',
  TICKETING_ACK_WAIT_MS: '5000',
  SHUTDOWN_GRACE_MS: '2000',
};
const startIngest = async () => {
  ingest = await startService('webhook-ingest', { NATS_URL: nats.url, WEBHOOK_PORT: '0', WEBHOOK_HOST: '127.0.0.1', WEBHOOK_SECRET: SECRET, WEBHOOK_PUBLISH_TIMEOUT_MS: '2000' });
  hooks = `http://127.0.0.1:${ingest.port}`;
};

/** Signs in through the real magic-link flow: the CLI adds the user, the link comes by email. */
const signIn = async (label: string) => {
  const email = uniqueEmail(label);
  const added = await runCli(['users', 'add', email], { NATS_URL: nats.url });
  expect(added.code, added.output).toBe(0);
  const asked = await fetch(`${base}/auth/magic-link`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
  expect(asked.status).toBe(202);
  const [mail] = await smtp.waitForMessages(1, { match: to(email), timeoutMs: 30_000 });
  const cookie = sessionCookie(await signInWith(linkIn(mail!)));
  expect(cookie).toMatch(/^handoff_session=/);
  return { email, cookie };
};

beforeAll(async () => {
  [nats, smtp] = await Promise.all([startNatsServer(), startSmtpServer()]);
  await ensureConsoleState(nats.url);
  gateway = await startService('gateway', { NATS_URL: nats.url, GATEWAY_PORT: '0', GATEWAY_HOST: '127.0.0.1', PUBLIC_URL: 'http://127.0.0.1', RATE_LIMIT_IP_MAX: '100' });
  base = `http://127.0.0.1:${gateway.port}`;
  const workerEnv = { NATS_URL: nats.url, SHUTDOWN_GRACE_MS: '2000' };
  const started = await Promise.all([
    startService('auth', workerEnv),
    startService('mailer', { ...workerEnv, SMTP_URL: smtp.url, PUBLIC_URL: base, MAIL_RETRY_INITIAL_MS: '200', MAIL_RETRY_MAX_MS: '2000', SMTP_TIMEOUT_MS: '3000' }),
    startService('ticketing', { ...workerEnv, ...TICKETING_ENV }, { script: FAULTY_TICKETING }),
    startIngest(),
  ]);
  others.push(started[0], started[1]);
  ticketing = started[2];
  client = await ticketingClient(nats.url);
  buyer = await signIn('buyer');
}, 120_000);

afterAll(async () => {
  await Promise.all([gateway, ingest, ticketing, ...others].map((s) => s?.kill('SIGKILL')));
  await client?.close();
  await smtp?.stop();
  await nats?.stop();
});

const api = (path: string, init: { method?: string; body?: unknown; cookie?: string } = {}) =>
  fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), cookie: init.cookie ?? buyer.cookie },
    ...(init.body ? { body: JSON.stringify(init.body) } : {}),
  });

const createOrder = async (attendees: string[], event = uniqueName('Gig')) => {
  const res = await api('/orders', { method: 'POST', body: { event, attendees: attendees.map((name) => ({ name })) } });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; status: string; amount: number; currency: string; event: string };
};

const orderStatus = async (id: string) => ((await (await api(`/orders/${id}`)).json()) as { status: string; reason?: string; tickets: { total: number; generated: number } });
const waitForStatus = (id: string, status: string, timeoutMs = 60_000) =>
  waitFor(async () => ((await orderStatus(id)).status === status ? orderStatus(id) : undefined), { timeoutMs, intervalMs: 250, what: `order ${id} to be ${status}` });

const ticketMails = (orderId: string) => (mail: ReceivedMail) => mail.envelope.to.includes(buyer.email) && (mail.parsed.text ?? '').includes(orderId);
const webhookFor = (order: { id: string; amount: number; currency: string }): SignedWebhook =>
  signWebhook(SECRET, uniqueName('evt'), paymentSucceeded(order.id, order.amount, order.currency));


/** Every job stream has been worked off: nothing pending or unacked that could still send mail. */
const settled = () =>
  waitFor(
    async () => {
      for (const stream of [STREAMS.TICKETS.name, STREAMS.MAIL.name]) if ((await client.jsm.streams.info(stream)).state.messages > 0) return false;
      const mailer = await client.jsm.consumers.info(STREAMS.TICKET_EVENTS.name, 'mailer-tickets');
      return mailer.num_pending === 0 && mailer.num_ack_pending === 0;
    },
    { timeoutMs: 30_000, intervalMs: 250, what: 'ticket and mail queues to drain' },
  );

test('orders need a session and 1-100 attendees; another user cannot see an order', async () => {
  expect((await api('/orders', { method: 'POST', body: { event: 'X', attendees: [{ name: 'A' }] }, cookie: 'handoff_session=nope' })).status).toBe(401);
  for (const attendees of [[], Array.from({ length: 101 }, (_, i) => ({ name: `G${i}` }))]) {
    const res = await api('/orders', { method: 'POST', body: { event: 'X', attendees } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'invalid_request' });
  }
  const order = await createOrder(['Solo']);
  expect(order).toMatchObject({ status: 'pending_payment', amount: 2500, currency: 'EUR' });
  const stranger = await signIn('stranger');
  const peek = await api(`/orders/${order.id}`, { cookie: stranger.cookie });
  expect(peek.status).toBe(404);
  expect(await peek.json()).toMatchObject({ code: 'not_found' });
  expect((await api(`/orders/${order.id}/tickets/1`, { cookie: stranger.cookie })).status).toBe(404);
  const mine = (await (await api('/orders')).json()) as { orders: Array<{ id: string }> };
  expect(mine.orders.map((o) => o.id)).toContain(order.id);
  const theirs = (await (await api('/orders', { cookie: stranger.cookie })).json()) as { orders: Array<{ id: string }> };
  expect(theirs.orders).toEqual([]);
  const missing = await runCli(['orders', 'show', 'ord_missing'], { NATS_URL: nats.url });
  expect(missing.code).toBe(1);
  expect(missing.output).toMatch(/no order ord_missing/);
});

test('end to end: an order of 3, paid by a webhook delivered 5 times and again after an ingest restart, is mailed once with 3 PDFs and ends sent', async () => {
  const event = uniqueName('Handoff Live');
  const attendees = ['Ada Lovelace', 'Grace Hopper', 'Alan Turing'];
  const order = await createOrder(attendees, event);
  const hook = webhookFor(order);
  for (let i = 0; i < 5; i++) expect((await postWebhook(hooks, hook)).status).toBe(200);
  await ingest.stop();
  await startIngest();
  const again = await postWebhook(hooks, hook);
  expect(again).toMatchObject({ status: 200, body: { duplicate: true } });

  const sent = await waitForStatus(order.id, 'sent');
  expect(sent.tickets).toEqual({ total: 3, generated: 3 });
  const [mail] = await smtp.waitForMessages(1, { match: ticketMails(order.id) });
  const pdfs = mail!.parsed.attachments.filter((a) => a.contentType === 'application/pdf');
  expect(pdfs).toHaveLength(3);
  for (const [i, pdf] of pdfs.entries()) {
    const text = await pdfText(pdf.content);
    expect(text).toContain(attendees[i]);
    expect(text).toContain(event);
    expect(text).toContain(order.id);
  }
  const download = await api(`/orders/${order.id}/tickets/2`);
  expect(download.status).toBe(200);
  expect(download.headers.get('content-type')).toBe('application/pdf');
  expect(await pdfText(new Uint8Array(await download.arrayBuffer()))).toContain('Grace Hopper');

  await settled();
  expect(smtp.messages().filter(ticketMails(order.id))).toHaveLength(1);
  const paidLines = ticketing.output().split('\n').filter((l) => l.includes(order.id) && l.includes('order paid; ticket jobs published'));
  expect(paidLines).toHaveLength(1);

  const shown = await runCli(['orders', 'show', order.id], { NATS_URL: nats.url });
  expect(shown.code, shown.output).toBe(0);
  expect(shown.output).toMatch(/status\s+sent/);
  expect(shown.output).toMatch(/tickets\s+3 of 3 generated/);
});

test('with nats-server down the webhook gets 503; after a restart it gets 200 and the order completes', async () => {
  const order = await createOrder(['Linus', 'Margaret']);
  const hook = webhookFor(order);
  await nats.kill();
  expect((await postWebhook(hooks, hook)).status).toBe(503);
  await nats.restart();
  const accepted = await waitFor(async () => {
    const res = await postWebhook(hooks, hook);
    return res.status === 200 ? res : undefined;
  }, { timeoutMs: 30_000, intervalMs: 500, what: 'the webhook to be accepted again' });
  expect(accepted.body).toMatchObject({ duplicate: false });
  await waitForStatus(order.id, 'sent');
  const mails = await smtp.waitForMessages(1, { match: ticketMails(order.id) });
  expect(mails[0]!.parsed.attachments).toHaveLength(2);
});

test('a ticket that fails every attempt fails the order with a reason and sends nothing; after a replay the order is mailed and sent', async () => {
  const order = await createOrder(['Ann', '[fail-always] Bob']);
  expect((await postWebhook(hooks, webhookFor(order))).status).toBe(200);
  const failed = await waitForStatus(order.id, 'failed');
  expect(failed.reason).toMatch(/ticket 2 of 2 could not be generated after 2 attempt\(s\)/);
  await settled();
  expect(smtp.messages().filter(ticketMails(order.id))).toHaveLength(0);
  expect((await client.readyEvents()).some((e) => e.orderId === order.id)).toBe(false);

  const dead = await waitFor(async () => (await listDeadLetters(client.jsm)).find((d) => d.record.payload.includes(order.id)), { what: 'the dead letter' });
  await ticketing.stop();
  ticketing = await startService('ticketing', { NATS_URL: nats.url, ...TICKETING_ENV });
  expect((await replayDeadLetter({ publisher: client.publisher, jsm: client.jsm }, dead.id)).replayed).toBe(true);

  await waitForStatus(order.id, 'sent');
  await settled();
  const mails = smtp.messages().filter(ticketMails(order.id));
  expect(mails).toHaveLength(1);
  expect(mails[0]!.parsed.attachments).toHaveLength(2);
});

test('a tickets email refused with 550 fails the order with the reason on its first attempt; dlq replay (CLI) sends it and the order ends sent', async () => {
  const order = await createOrder(['Refused Ann', 'Refused Bob']);
  smtp.rejectWith(550, 'Mailbox unavailable');
  try {
    expect((await postWebhook(hooks, webhookFor(order))).status).toBe(200);
    const failed = await waitForStatus(order.id, 'failed');
    expect(failed.reason).toMatch(/the tickets email could not be sent after 1 attempt\(s\) \(permanent\): .*SMTP rejected the message: .*550/);
    expect(failed.tickets).toEqual({ total: 2, generated: 2 });
  } finally {
    smtp.rejectWith(null);
  }
  expect(smtp.messages().filter(ticketMails(order.id))).toHaveLength(0);
  const dead = await waitFor(
    async () => (await listDeadLetters(client.jsm)).find((d) => d.record.consumer === 'mailer-tickets' && d.record.payload.includes(order.id)),
    { what: 'the dead-lettered tickets email' },
  );
  const replayed = await runCli(['dlq', 'replay', String(dead.id)], { NATS_URL: nats.url });
  expect(replayed.code, replayed.output).toBe(0);

  const sent = await waitForStatus(order.id, 'sent');
  expect(sent.reason).toBeUndefined();
  await settled();
  const mails = smtp.messages().filter(ticketMails(order.id));
  expect(mails).toHaveLength(1);
  expect(mails[0]!.parsed.attachments).toHaveLength(2);
});
