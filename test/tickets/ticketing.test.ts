import { pdfText } from '../pdf.ts';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ticketObjectName } from '#shared/contracts/tickets';
import { listDeadLetters } from '#shared/jobs/dead-letter';
import { replayDeadLetter } from '#shared/jobs/replay';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { isAlive, type RunningProcess } from '../process.ts';
import { uniqueName, waitFor } from '../wait.ts';
import { startTicketing, ticketingClient, type TicketingClient } from './ticketing-setup.ts';

// Short timings so failures and retries happen within seconds; faults switched on for this file.
const ENV = {
  TICKET_TIMEOUT_MS: '12000',
  TICKET_MAX_ATTEMPTS: '3',
  TICKETING_BACKOFF_INITIAL_MS: '200',
  TICKETING_BACKOFF_MAX_MS: '1000',
  TICKETING_ACK_WAIT_MS: '4000',
  RENDER_PROCESSES: '2',
  TICKET_CONCURRENCY: '4',
};

let server: NatsServer;
let client: TicketingClient;
let ticketing: RunningProcess;

beforeAll(async () => {
  server = await startNatsServer();
  ticketing = await startTicketing(server.url, ENV, 'ticketing', true);
  client = await ticketingClient(server.url);
});
afterAll(async () => {
  await ticketing?.kill('SIGKILL');
  await client?.close();
  await server?.stop();
});


test('a paid order of 3 gets 3 stored PDFs, one tickets.ready and status ready; a second payment changes nothing', async () => {
  const event = uniqueName('Concert');
  const order = await client.createOrder(['Ada', 'Grace', 'Linus'], { event });
  expect(order).toMatchObject({ status: 'pending_payment', amount: 3 * 2500, currency: 'EUR', tickets: { total: 3, generated: 0 } });

  await client.pay(order);
  const ready = await client.waitForStatus(order.id, 'ready');
  expect(ready.tickets).toEqual({ total: 3, generated: 3 });

  const store = await client.tickets();
  for (const [i, name] of ['Ada', 'Grace', 'Linus'].entries()) {
    const pdf = await store.getBlob(ticketObjectName(order.id, i + 1));
    expect(pdf).not.toBeNull();
    const text = await pdfText(pdf ?? new Uint8Array());
    expect(text).toContain(name);
    expect(text).toContain(event);
    expect(text).toContain(order.id);
  }
  const events = (await client.readyEvents()).filter((e) => e.orderId === order.id);
  expect(events).toHaveLength(1);
  expect(events[0]?.tickets.map((t) => t.object)).toEqual([1, 2, 3].map((n) => ticketObjectName(order.id, n)));

  // A second, different payment event for the same order is logged and ignored.
  await client.pay(order, { eventId: uniqueName('evt-second') });
  await ticketing.waitForOutput(/second payment event for an order already settled/);
  expect((await client.readyEvents()).filter((e) => e.orderId === order.id)).toHaveLength(1);
  expect((await client.getOrder(order.id)).status).toBe('ready');
});

test('a payment whose amount does not match marks the order payment_mismatch with the reason and generates nothing', async () => {
  const order = await client.createOrder(['Ada', 'Grace']);
  await client.pay(order, { amount: order.amount - 1 });
  const marked = await client.waitForStatus(order.id, 'payment_mismatch');
  expect(marked.reason).toMatch(/of 49\.99 EUR does not match the order's 50\.00 EUR; no tickets generated/);
  expect(marked.tickets.generated).toBe(0);
  expect(await (await client.tickets()).info(ticketObjectName(order.id, 1))).toBeNull();
  expect((await client.readyEvents()).some((e) => e.orderId === order.id)).toBe(false);
});

test('a payment for an unknown order is dead-lettered with the reason and generates nothing', async () => {
  const orderId = `ord_${'0'.repeat(20)}`;
  const eventId = await client.pay({ id: orderId, amount: 2500, currency: 'EUR' });
  const dead = await waitFor(
    async () => (await listDeadLetters(client.jsm)).find((d) => d.record.jobId === eventId),
    { timeoutMs: 20_000, what: 'the payment dead letter' },
  );
  expect(dead.record).toMatchObject({ consumer: 'ticketing-payments', reason: 'permanent' });
  expect(dead.record.error).toContain(`unknown order ${orderId}`);
  expect(await (await client.tickets()).info(ticketObjectName(orderId, 1))).toBeNull();
});

test('a hung render is killed at its timeout and retried while the same worker keeps rendering other tickets', async () => {
  const slow = await client.createOrder(['[hang-once] Hugo', 'Ann']);
  await client.pay(slow);
  const line = await waitFor(() => /ticket render hanging, subprocess pid (\d+)/.exec(ticketing.output()) ?? undefined, {
    timeoutMs: 30_000,
    what: 'the render to hang',
  });
  const hungPid = Number(line[1]);

  const other = await client.createOrder(['Bea', 'Cem', 'Dan']);
  await client.pay(other);
  await client.waitForStatus(other.id, 'ready');
  // The other order finished while the hung render was still running, in the same worker process.
  expect(isAlive(hungPid)).toBe(true);

  const done = await client.waitForStatus(slow.id, 'ready', 60_000);
  expect(done.tickets).toEqual({ total: 2, generated: 2 });
  await waitFor(() => !isAlive(hungPid), { timeoutMs: 5_000, what: 'the hung render subprocess to be gone' });
  expect(ticketing.output()).toMatch(/"outcome":"timeout"/);
  expect(ticketing.child.exitCode).toBeNull();
});

test('a ticket failing every attempt fails the order with the reason and no tickets.ready; replaying its dead letter completes the order', async () => {
  const order = await client.createOrder(['Ann', '[fail-always] Bob', 'Cy']);
  await client.pay(order);
  const failed = await client.waitForStatus(order.id, 'failed', 60_000);
  expect(failed.reason).toMatch(/^ticket 2 of 3 could not be generated after 3 attempt\(s\) \(exhausted\): .*TEST FAULT/);
  expect(failed.tickets.total).toBe(3);
  // The healthy tickets still complete; the order stays failed and nothing is announced.
  await waitFor(async () => (await client.getOrder(order.id)).tickets.generated === 2, { what: 'the other two tickets' });
  expect((await client.getOrder(order.id)).status).toBe('failed');
  const dead = await waitFor(
    async () => (await listDeadLetters(client.jsm)).find((d) => d.record.consumer === 'ticketing-generate' && d.record.payload.includes(order.id)),
    { what: 'the ticket dead letter' },
  );
  expect((await client.readyEvents()).some((e) => e.orderId === order.id)).toBe(false);

  // The operator fixes the cause (here: a worker without the fault) and replays the dead letter.
  await ticketing.kill('SIGTERM');
  ticketing = await startTicketing(server.url, ENV, 'ticketing-fixed');
  expect((await replayDeadLetter({ publisher: client.publisher, jsm: client.jsm }, dead.id)).replayed).toBe(true);

  const ready = await client.waitForStatus(order.id, 'ready');
  expect(ready.reason).toBeUndefined();
  expect(ready.tickets).toEqual({ total: 3, generated: 3 });
  expect((await client.readyEvents()).filter((e) => e.orderId === order.id)).toHaveLength(1);
});
