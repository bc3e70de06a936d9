/**
 * Issue 16, acceptance 2: an order's live view (GET /orders/:id/events) with every service as its
 * own process against a fresh nats-server and a real SMTP server. The view is fed by ticketing's
 * order-change events through the gateway's one ordered consumer, never by polling.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { compareOrderVersions, parseOrderVersion } from '#shared/contracts/orders';
import { ensureConsoleState } from '../jobs-runtime.ts';
import { linkIn, runCli, sessionCookie, signInWith, to, uniqueEmail } from '../magic-link/helpers.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { startService, type RunningService } from '../services.ts';
import { startSmtpServer, type TestSmtpServer } from '../smtp-server.ts';
import { openSse, type SseItem, type SseStream } from '../sse.ts';
import { uniqueName } from '../wait.ts';
import { SIGNING_KEY } from './ticketing-setup.ts';
import { newWebhookSecret, paymentSucceeded, postWebhook, signWebhook } from './webhooks.ts';

const SECRET = newWebhookSecret();
let nats: NatsServer;
let smtp: TestSmtpServer;
const services: RunningService[] = [];
let base: string;
let hooks: string;
let buyer: { email: string; cookie: string };

interface Shown {
  id: string;
  status: string;
  tickets: { total: number; generated: number };
  event: string;
  attendees: Array<{ name: string }>;
}
const shown = (item: SseItem | undefined) => JSON.parse(item?.data ?? 'null') as Shown;

const signIn = async (label: string) => {
  const email = uniqueEmail(label);
  const added = await runCli(['users', 'add', email], { NATS_URL: nats.url });
  expect(added.code, added.output).toBe(0);
  const asked = await fetch(`${base}/auth/magic-link`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
  expect(asked.status).toBe(202);
  const [mail] = await smtp.waitForMessages(1, { match: to(email), timeoutMs: 30_000 });
  return { email, cookie: sessionCookie(await signInWith(linkIn(mail!))) };
};

const createOrder = async (attendees: string[]) => {
  const res = await fetch(`${base}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: buyer.cookie },
    body: JSON.stringify({ event: uniqueName('Live Gig'), attendees: attendees.map((name) => ({ name })) }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; amount: number; currency: string };
};
const pay = async (order: { id: string; amount: number; currency: string }) =>
  expect((await postWebhook(hooks, signWebhook(SECRET, uniqueName('evt'), paymentSucceeded(order.id, order.amount, order.currency)))).status).toBe(200);
const events = (orderId: string, cookie = buyer.cookie, lastEventId?: string) =>
  openSse(`${base}/orders/${orderId}/events`, { cookie, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) });
/** Reads events until one with `status`; returns every event read. */
const readUntil = async (stream: SseStream, status: string) => {
  const seen: SseItem[] = [];
  for (let item = await stream.next({ timeoutMs: 60_000 }); item; item = await stream.next({ timeoutMs: 60_000 })) {
    seen.push(item);
    if (shown(item).status === status) return seen;
  }
  throw new Error(`the stream ended before ${status}: ${seen.map((e) => shown(e).status).join(', ')}`);
};

beforeAll(async () => {
  [nats, smtp] = await Promise.all([startNatsServer(), startSmtpServer()]);
  await ensureConsoleState(nats.url);
  const worker = { NATS_URL: nats.url, SHUTDOWN_GRACE_MS: '2000' };
  const gateway = await startService('gateway', { ...worker, GATEWAY_PORT: '0', GATEWAY_HOST: '127.0.0.1', PUBLIC_URL: 'http://127.0.0.1', RATE_LIMIT_IP_MAX: '100', ORDER_EVENTS_HEARTBEAT_MS: '500' });
  base = `http://127.0.0.1:${gateway.port}`;
  services.push(
    gateway,
    ...(await Promise.all([
      startService('auth', worker),
      startService('mailer', { ...worker, SMTP_URL: smtp.url, PUBLIC_URL: base, MAIL_RETRY_INITIAL_MS: '200', MAIL_RETRY_MAX_MS: '1000', MAIL_MAX_ATTEMPTS: '50' }),
      startService('ticketing', { ...worker, TICKET_SIGNING_KEY: SIGNING_KEY }),
      startService('webhook-ingest', { ...worker, WEBHOOK_PORT: '0', WEBHOOK_HOST: '127.0.0.1', WEBHOOK_SECRET: SECRET }),
    ])),
  );
  hooks = `http://127.0.0.1:${services.at(-1)!.port}`;
  buyer = await signIn('live');
}, 120_000);

afterAll(async () => {
  smtp?.rejectWith(null);
  await Promise.all(services.map((s) => s.kill('SIGKILL')));
  await smtp?.stop();
  await nats?.stop();
});

test('subscribed before payment, the stream shows paid and generating with rising counts, then ready and sent, in order, and ends', async () => {
  const order = await createOrder(['Ada Lovelace', 'Grace Hopper', 'Alan Turing']);
  const stream = await events(order.id);
  expect(stream.status).toBe(200);
  const first = await stream.next();
  expect(shown(first)).toMatchObject({ id: order.id, status: 'pending_payment', tickets: { total: 3, generated: 0 } });
  // The tickets email waits (the SMTP server answers "try later") until the view has shown
  // `ready`, so `sent` cannot overtake it: the order of the two is the system's, not a race's.
  smtp.rejectWith(451, 'Try again later (held by the test)');
  await pay(order);
  const seen = [first!, ...(await readUntil(stream, 'ready'))];
  smtp.rejectWith(null);
  for (let item = await stream.next({ timeoutMs: 60_000 }); item; item = await stream.next({ timeoutMs: 60_000 })) seen.push(item);
  await stream.ended;

  const statuses = seen.map((e) => shown(e).status);
  const rank = ['pending_payment', 'paid', 'generating', 'ready', 'sent'];
  expect(statuses.map((s) => rank.indexOf(s))).toEqual([...statuses.map((s) => rank.indexOf(s))].sort((a, b) => a - b));
  expect(statuses[0]).toBe('pending_payment');
  expect(statuses).toContain('paid');
  expect(statuses).toContain('generating');
  expect(statuses.slice(-2)).toEqual(['ready', 'sent']);
  // Counts rise while tickets are made and never go back; every event is newer than the one before.
  const counts = seen.map((e) => shown(e).tickets.generated);
  expect(counts).toEqual([...counts].sort((a, b) => a - b));
  expect(counts.at(-1)).toBe(3);
  expect(new Set(counts.filter((c) => c > 0)).size).toBeGreaterThanOrEqual(1);
  const versions = seen.map((e) => parseOrderVersion(e.id)!);
  for (let i = 1; i < versions.length; i++) expect(compareOrderVersions(versions[i]!, versions[i - 1]!)).toBeGreaterThan(0);
  // Each event is the order as GET /orders/:id shows it.
  const now = await (await fetch(`${base}/orders/${order.id}`, { headers: { cookie: buyer.cookie } })).json();
  expect(JSON.parse(seen.at(-1)!.data!)).toEqual(now);
  // Heartbeats kept the stream company while it waited.
  expect(stream.items.some((i) => i.kind === 'comment' && i.text === 'keep-alive')).toBe(true);
});

test('another user\'s order is a 404 problem; without a session, 401', async () => {
  const order = await createOrder(['Solo']);
  const stranger = await signIn('stranger');
  const peek = await events(order.id, stranger.cookie);
  expect(peek.status).toBe(404);
  expect(peek.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(JSON.parse(await peek.body())).toMatchObject({ code: 'not_found' });
  expect((await events(order.id, 'handoff_session=nope')).status).toBe(401);
});

test('a reconnect with Last-Event-ID resumes after the last event it got: nothing twice, nothing missed, and 204 once it has the end', async () => {
  const order = await createOrder(['Rosalind Franklin', 'Barbara McClintock']);
  smtp.rejectWith(451, 'Try again later (held by the test)');
  const before = await events(order.id);
  await before.next();
  await pay(order);
  const upToReady = await readUntil(before, 'ready');
  const lastSeen = upToReady.at(-1)!;
  // The connection drops (a phone between cells, a proxy restart) while the order is ready.
  before.close();

  const resumed = await events(order.id, buyer.cookie, lastSeen.id);
  expect(resumed.status).toBe(200);
  // What it had is not sent again: the next event is the next change, the email going out.
  smtp.rejectWith(null);
  const next = await resumed.next({ timeoutMs: 60_000 });
  expect(shown(next).status).toBe('sent');
  expect(compareOrderVersions(parseOrderVersion(next!.id)!, parseOrderVersion(lastSeen.id)!)).toBeGreaterThan(0);
  expect(await resumed.next()).toBeUndefined();

  // A client further behind gets the order as it is now, and the stream ends there.
  const behind = await events(order.id, buyer.cookie, upToReady[0]!.id);
  expect((await readUntil(behind, 'sent')).map((e) => shown(e).status)).toEqual(['sent']);
  // A client that has the final event is told there is nothing more (EventSource stops on 204).
  expect((await events(order.id, buyer.cookie, next!.id)).status).toBe(204);
});
