import { afterAll, beforeAll, expect, test } from 'vitest';
import type { OrderView } from '#shared/contracts/orders';
import { SUBJECTS } from '#shared/contracts/subjects';
import { TicketsReady, ticketObjectName } from '#shared/contracts/tickets';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import type { RunningProcess } from '../process.ts';
import { startService, type RunningService } from '../services.ts';
import { startSmtpServer, type TestSmtpServer } from '../smtp-server.ts';
import { uniqueName, waitFor } from '../wait.ts';
import { startTicketing, ticketingClient, type TicketingClient } from './ticketing-setup.ts';

const ORDERS = 50;
const TICKETS = 20;

let server: NatsServer;
let client: TicketingClient;
let smtp: TestSmtpServer;
let mailer: RunningService;
const workers: RunningProcess[] = [];

beforeAll(async () => {
  [server, smtp] = await Promise.all([startNatsServer(), startSmtpServer()]);
  // Short ack-wait and backoff so a killed worker's messages come back within seconds.
  const env = {
    TICKETING_ACK_WAIT_MS: '2000',
    TICKETING_BACKOFF_INITIAL_MS: '100',
    TICKETING_BACKOFF_MAX_MS: '500',
    TICKET_TIMEOUT_MS: '20000',
    TICKET_MAX_ATTEMPTS: '8',
    RENDER_PROCESSES: '2',
    TICKET_CONCURRENCY: '4',
  };
  workers.push(await startTicketing(server.url, env, 'ticketing-1', true));
  workers.push(...(await Promise.all([startTicketing(server.url, env, 'ticketing-2', true), startTicketing(server.url, env, 'ticketing-3', true)])));
  mailer = await startService('mailer', { NATS_URL: server.url, SMTP_URL: smtp.url, MAIL_RETRY_INITIAL_MS: '200', MAIL_RETRY_MAX_MS: '2000' });
  client = await ticketingClient(server.url);
}, 120_000);
afterAll(async () => {
  await Promise.all([...workers, mailer].map((w) => w?.kill('SIGKILL')));
  await client?.close();
  await smtp?.stop();
  await server?.stop();
});

test('50 orders × 20 tickets with two of three workers SIGKILLed and some tickets failing once: one tickets.ready per order, each after all its tickets are stored, and one email per order', async () => {
  let generated = 0;
  const counter = client.nc.subscribe(SUBJECTS.ticketGenerated, { callback: () => void generated++ });
  // A core subscription sees each tickets.ready as it is published: at that moment every PDF must exist.
  const store = await client.tickets();
  const earlyReady: string[] = [];
  const checks: Promise<void>[] = [];
  const readyWatch = client.nc.subscribe(SUBJECTS.ticketsReady, {
    callback: (_error, msg) => {
      const ready = TicketsReady.parse(msg.json());
      checks.push(
        (async () => {
          for (let n = 1; n <= TICKETS; n++) {
            const info = await store.info(ticketObjectName(ready.orderId, n));
            if (!info || info.deleted) earlyReady.push(`${ready.orderId}/${n}`);
          }
        })(),
      );
    },
  });

  const orders: OrderView[] = [];
  for (let batch = 0; batch < ORDERS; batch += 10) {
    orders.push(
      ...(await Promise.all(
        Array.from({ length: 10 }, (_, b) =>
          client.createOrder(
            Array.from({ length: TICKETS }, (_, t) => ((batch + b) * TICKETS + t) % 37 === 0 ? `[fail-once] Guest ${t + 1}` : `Guest ${t + 1}`),
            { event: uniqueName('Fan-in'), userId: uniqueName('user') },
          ),
        ),
      )),
    );
  }
  const failOnce = orders.flatMap((o) => o.attendees.filter((a) => a.name.startsWith('[fail-once]'))).length;
  await Promise.all(orders.map((order) => client.pay(order)));

  const total = ORDERS * TICKETS;
  const firstKill = 100 + Math.floor(Math.random() * 250);
  const secondKill = firstKill + 150 + Math.floor(Math.random() * 300);
  await waitFor(() => generated >= firstKill, { timeoutMs: 120_000, intervalMs: 20, what: `${firstKill} tickets before the first kill` });
  await workers[0]?.kill('SIGKILL');
  await waitFor(() => generated >= secondKill, { timeoutMs: 120_000, intervalMs: 20, what: `${secondKill} tickets before the second kill` });
  await workers[1]?.kill('SIGKILL');
  console.log(`fan-in: ${total} tickets, ${failOnce} failing once; workers killed after ${firstKill} and ${secondKill} tickets`);

  await waitFor(async () => (await client.readyEvents()).length >= ORDERS, { timeoutMs: 150_000, intervalMs: 500, what: 'tickets.ready for every order' });
  // Let every redelivery of the killed workers' messages play out before counting.
  await waitFor(
    async () => {
      for (const consumer of ['ticketing-payments', 'ticketing-generate', 'ticketing-aggregate']) {
        const stream = consumer === 'ticketing-payments' ? 'PAYMENTS' : 'TICKETS';
        const info = await client.jsm.consumers.info(stream, consumer);
        if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
      }
      return true;
    },
    { timeoutMs: 60_000, intervalMs: 500, what: 'every consumer to be drained' },
  );
  await Promise.all(checks);
  counter.unsubscribe();
  readyWatch.unsubscribe();

  const readyPerOrder = new Map<string, number>();
  for (const event of await client.readyEvents()) readyPerOrder.set(event.orderId, (readyPerOrder.get(event.orderId) ?? 0) + 1);
  expect(readyPerOrder.size).toBe(ORDERS);
  for (const order of orders) expect(readyPerOrder.get(order.id), order.id).toBe(1);
  expect(earlyReady).toEqual([]);
  for (const order of orders) {
    const view = await client.getOrder(order.id);
    // The mailer runs alongside, so an order may already have moved on to sent.
    expect(['ready', 'sent']).toContain(view.status);
    expect(view.tickets).toEqual({ total: TICKETS, generated: TICKETS });
  }
  expect(workers[2]?.child.exitCode).toBeNull();

  // The mailer then sends exactly one email per order, each with all 20 PDFs.
  await smtp.waitForMessages(ORDERS, { timeoutMs: 90_000 });
  await waitFor(
    async () => {
      const info = await client.jsm.consumers.info('TICKET_EVENTS', 'mailer-tickets');
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    { timeoutMs: 30_000, intervalMs: 500, what: 'the mailer to finish' },
  );
  for (const order of orders) {
    const mails = smtp.messages().filter((m) => (m.parsed.text ?? '').includes(order.id));
    expect(mails, order.id).toHaveLength(1);
    expect(mails[0]?.parsed.attachments).toHaveLength(TICKETS);
  }
  expect(smtp.messages()).toHaveLength(ORDERS);
  await waitFor(async () => (await Promise.all(orders.map((o) => client.getOrder(o.id)))).every((o) => o.status === 'sent'), {
    timeoutMs: 30_000,
    intervalMs: 500,
    what: 'every order to be sent',
  });
}, 240_000);
