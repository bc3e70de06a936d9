import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { SessionView } from '#shared/contracts/auth';
import { ORDERS_RPC, type OrderChanged, type OrderView } from '#shared/contracts/orders';
import type { RpcClient } from '#shared/nats/rpc';
import { openLimiter, magicLinkLimits } from '#test/gateway-fakes';
import { quietLog } from '#test/runtime-setup';
import { openSse, type SseStream } from '#test/sse';
import { buildApp } from '../src/app.ts';
import type { AuthClient } from '../src/auth-client.ts';
import { createOrderHub } from '../src/order-watch.ts';

// The live order view against fakes of auth and ticketing and an in-memory feed of changes:
// what it sends, in which order, and when it refuses or stops.
const sessions: Record<string, SessionView> = {
  ada: { user: { id: 'usr_ada', email: 'ada@example.test', createdAt: new Date(0).toISOString() }, expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
  bob: { user: { id: 'usr_bob', email: 'bob@example.test', createdAt: new Date(0).toISOString() }, expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
  cy: { user: { id: 'usr_cy', email: 'cy@example.test', createdAt: new Date(0).toISOString() }, expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
};
const auth: AuthClient = {
  verifyToken: async () => ({ ok: false, code: 'token_invalid', message: 'no' }),
  getSession: async (id) => (sessions[id] ? { ok: true, session: sessions[id] } : { ok: false, code: 'session_invalid', message: 'no session' }),
  endSession: async () => ({ ok: true, ended: true }),
};

/** ticketing's orders as its RPC answers them; `gate` holds the next read until released. */
const orders = new Map<string, OrderView>();
let gate: Promise<void> | undefined;
const rpc: Pick<RpcClient, 'call'> = {
  call: (async (spec: (typeof ORDERS_RPC)['get'], request: { orderId: string; userId?: string }) => {
    if (spec !== ORDERS_RPC.get) throw new Error('only get is faked');
    await gate;
    const order = orders.get(request.orderId);
    return order && order.userId === request.userId ? { ok: true, order } : { ok: false, code: 'not_found', message: 'no order' };
  }) as RpcClient['call'],
};

const hub = createOrderHub(quietLog);
const MAX_PER_USER = 3;
let app: FastifyInstance;
let base: string;

let serial = 0;
const newOrder = (userId = 'usr_ada', total = 3): OrderView => {
  const id = `ord_t${String(++serial).padStart(19, '0')}`;
  const order: OrderView = {
    id,
    userId,
    email: 'ada@example.test',
    event: 'Live Test',
    attendees: Array.from({ length: total }, (_, i) => ({ name: `Guest ${i + 1}` })),
    amount: 2500 * total,
    currency: 'EUR',
    status: 'pending_payment',
    createdAt: new Date(0).toISOString(),
    updatedAt: new Date(0).toISOString(),
    tickets: { total, generated: 0 },
    revision: 10,
  };
  orders.set(id, order);
  return order;
};
const change = (order: OrderView, status: OrderChanged['status'], revision: number, generated = 0): OrderChanged => ({
  v: 1,
  id: order.id,
  status,
  tickets: { total: order.tickets.total, generated },
  updatedAt: new Date(revision * 1000).toISOString(),
  revision,
});
const open = (orderId: string, who = 'ada', headers: Record<string, string> = {}) =>
  openSse(`${base}/orders/${orderId}/events`, { cookie: `handoff_session=${who}`, ...headers });
const data = (item: { data?: string } | undefined) => JSON.parse(item?.data ?? 'null') as { status: string; tickets: { generated: number } } & Record<string, unknown>;
/** Waits until the stream is registered with the feed, so a dispatched change reaches it. */
const listening = async (stream: SseStream) => {
  const first = await stream.next();
  expect(first?.kind).toBe('event');
  return first!;
};

beforeAll(async () => {
  app = buildApp({
    jobs: { requestMagicLink: async () => undefined },
    auth,
    limiter: openLimiter,
    isReady: () => true,
    config: { publicUrl: 'http://127.0.0.1', appUrl: 'http://127.0.0.1/', trustProxy: false, rateLimits: magicLinkLimits(100) },
    log: quietLog,
    orders: { rpc, tickets: { get: async () => null }, orderLimit: { max: 100, windowMs: 60_000 }, live: { watch: hub.watch, maxPerUser: MAX_PER_USER, heartbeatMs: 150 } },
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  // undici (fetch) may hold a spare connection that never carries a request, which Node's close
  // does not count as idle: drop every socket once the streams were ended.
  const closing = app?.close();
  app?.server.closeAllConnections();
  await closing;
});

test('the first event is the order as GET /orders/:id shows it, then one per change in the same shape, each with its version as id; the stream ends after `sent`', async () => {
  const order = newOrder();
  const shown = await (await fetch(`${base}/orders/${order.id}`, { headers: { cookie: 'handoff_session=ada' } })).json();
  const stream = await open(order.id);
  expect(stream.status).toBe(200);
  expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const first = await listening(stream);
  expect(JSON.parse(first.data!)).toEqual(shown);
  expect(first.id).toBe('10.0');
  expect(shown).not.toHaveProperty('revision');
  expect(shown).not.toHaveProperty('userId');

  const steps = [change(order, 'paid', 11), change(order, 'generating', 12, 0), change(order, 'generating', 12, 1), change(order, 'generating', 12, 2), change(order, 'generating', 12, 3), change(order, 'ready', 13, 3), change(order, 'sent', 14, 3)];
  for (const step of steps) hub.dispatch(step);
  const seen = [];
  for (let item = await stream.next(); item; item = await stream.next()) seen.push({ ...data(item), eventId: item.id });
  expect(seen.map((e) => `${e.eventId} ${e.status} ${e.tickets.generated}`)).toEqual(['11.0 paid 0', '12.0 generating 0', '12.1 generating 1', '12.2 generating 2', '12.3 generating 3', '13.3 ready 3', '14.3 sent 3']);
  // Everything a change does not carry is as first read.
  expect(seen.at(-1)).toMatchObject({ event: 'Live Test', attendees: shown.attendees, amount: shown.amount, updatedAt: new Date(14_000).toISOString() });
  await stream.ended;
  expect(hub.listened()).toBe(0);
});

test('a change that lands while the order is being read is sent after it; an older or repeated event never moves the view back', async () => {
  const order = newOrder();
  let release!: () => void;
  gate = new Promise<void>((resolve) => (release = resolve));
  const opening = open(order.id);
  // The stream listens before it reads: this change arrives during the read.
  await expect.poll(() => hub.listened()).toBeGreaterThan(0);
  hub.dispatch(change(order, 'paid', 11));
  release();
  gate = undefined;
  const stream = await opening;
  expect(data(await stream.next())).toMatchObject({ status: 'pending_payment' });
  expect(data(await stream.next())).toMatchObject({ status: 'paid' });
  hub.dispatch(change(order, 'generating', 12, 2));
  hub.dispatch(change(order, 'generating', 12, 1));
  hub.dispatch(change(order, 'paid', 11));
  hub.dispatch(change(order, 'generating', 12, 2));
  hub.dispatch(change(order, 'failed', 13, 2));
  const rest = [];
  for (let item = await stream.next(); item; item = await stream.next()) rest.push(`${item.id} ${data(item).status}`);
  expect(rest).toEqual(['12.2 generating', '13.2 failed']);
});

test('Last-Event-ID resumes: what the client has is not sent again; a finished order it already has answers 204', async () => {
  const order = newOrder();
  const first = await open(order.id);
  await listening(first);
  hub.dispatch(change(order, 'paid', 11));
  const paid = await first.next();
  first.close();
  // Meanwhile the order moved on (ticketing's answer now shows it).
  orders.set(order.id, { ...order, status: 'generating', tickets: { total: 3, generated: 1 }, revision: 12 });

  const resumed = await open(order.id, 'ada', { 'last-event-id': paid!.id! });
  const next = await resumed.next();
  expect(next?.id).toBe('12.1');
  expect(data(next)).toMatchObject({ status: 'generating', tickets: { generated: 1 } });
  resumed.close();

  // Up to date already: the stream waits for the next change instead of repeating the last.
  const current = await open(order.id, 'ada', { 'last-event-id': '12.1' });
  await expect.poll(() => hub.listened()).toBeGreaterThan(0);
  hub.dispatch(change(order, 'generating', 12, 2));
  expect((await current.next())?.id).toBe('12.2');
  current.close();

  orders.set(order.id, { ...order, status: 'sent', tickets: { total: 3, generated: 3 }, revision: 14 });
  const finished = await open(order.id, 'ada', { 'last-event-id': '14.3' });
  expect(finished.status).toBe(204);
});

test('another user\'s order is a 404 problem, no session a 401 problem; neither opens a stream', async () => {
  const order = newOrder('usr_ada');
  const stranger = await open(order.id, 'bob');
  expect(stranger.status).toBe(404);
  expect(stranger.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(JSON.parse(await stranger.body())).toMatchObject({ code: 'not_found', status: 404 });
  const nobody = await open(order.id, 'nobody');
  expect(nobody.status).toBe(401);
  expect(JSON.parse(await nobody.body())).toMatchObject({ code: 'unauthenticated' });
  expect(hub.listened()).toBe(0);
});

test(`at most ${MAX_PER_USER} open views per user: the next is a 429 problem, other users are not affected, and closing one frees a place`, async () => {
  const order = newOrder('usr_cy');
  const streams = [];
  for (let i = 0; i < MAX_PER_USER; i++) {
    const stream = await open(order.id, 'cy');
    await listening(stream);
    streams.push(stream);
  }
  const refused = await open(order.id, 'cy');
  expect(refused.status).toBe(429);
  expect(JSON.parse(await refused.body())).toMatchObject({ code: 'rate_limited', detail: expect.stringMatching(/at most 3 live order views/i) });
  const bobs = newOrder('usr_bob');
  const other = await open(bobs.id, 'bob');
  expect(other.status).toBe(200);
  other.close();

  streams.pop()!.close();
  // The server notices the closed connection on its own time; then the place is free.
  let again: SseStream | undefined;
  await expect
    .poll(async () => {
      again = await open(order.id, 'cy');
      return again.status;
    })
    .toBe(200);
  await listening(again!);
  for (const stream of [...streams, again!]) stream.close();
});

test('an idle stream gets heartbeat comments', async () => {
  const order = newOrder();
  const stream = await open(order.id);
  await listening(stream);
  expect(await stream.next({ comments: true })).toMatchObject({ kind: 'comment', text: 'keep-alive' });
  expect(await stream.next({ comments: true })).toMatchObject({ kind: 'comment', text: 'keep-alive' });
  stream.close();
});

test('after a gap in the feed, open views read their order again and send what changed meanwhile', async () => {
  const order = newOrder();
  const stream = await open(order.id);
  await listening(stream);
  orders.set(order.id, { ...order, status: 'ready', tickets: { total: 3, generated: 3 }, revision: 13 });
  hub.gap();
  const next = await stream.next();
  expect(next?.id).toBe('13.3');
  expect(data(next)).toMatchObject({ status: 'ready' });
  stream.close();
});
