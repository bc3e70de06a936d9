import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { BUCKETS } from '#shared/contracts/buckets';
import { MAX_ATTENDEES, MAX_ORDER_TICKETS, ORDERS_RPC, ORDERS_RPC_QUEUE, type Order, type OrderView } from '#shared/contracts/orders';
import { createKvRateLimiter } from '#shared/http/rate-limit';
import { ensureBucket } from '#shared/nats/ensure';
import { bucketUsage, recordBucket } from '#shared/nats/kv';
import { createRpcClient, serveRpc, rpcRoute, type RpcClient } from '#shared/nats/rpc';
import { buildApp } from '../../services/gateway/src/app.ts';
import { createOrdersRpc } from '../../services/ticketing/src/handlers/orders-rpc.ts';
import { createLatestOrders } from '../../services/ticketing/src/latest-orders.ts';
import { createOrderStore, type OrderStore } from '../../services/ticketing/src/orders-store.ts';
import { createProgressStore } from '../../services/ticketing/src/progress-store.ts';
import { createOrderDeadlines } from '../../services/ticketing/src/order-deadlines.ts';
import { magicLinkLimits } from '../gateway-fakes.ts';
import { quietLog } from '../jobs-runtime.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { uniqueName } from '../wait.ts';

// Ticketing's orders RPC (real store, real bucket) behind the real gateway app; sessions are faked:
// the cookie `handoff_session=<user id>` is that user.
const ORDER_LIMIT = { max: 3, windowMs: 3_600_000 };
let nats: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let ordersKv: KV;
let store: OrderStore;
let rpc: RpcClient;
let serving: { stop(): Promise<void> };
let app: FastifyInstance;

const session = (sessionId: string) => ({
  ok: true as const,
  session: { user: { id: sessionId, email: `${sessionId}@example.test`, createdAt: new Date().toISOString() }, expiresAt: new Date(Date.now() + 60_000).toISOString() },
});

// Deadlines are not what these tests are about: a scheduler that keeps them to itself.
const unscheduled = createOrderDeadlines({ scheduler: { schedule: async () => 'runner' }, reminderAfterMs: 60_000, expiresAfterMs: 120_000 });

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  ordersKv = await ensureBucket(nc, BUCKETS.orders, 1);
  store = createOrderStore(recordBucket(ordersKv, jsm, BUCKETS.orders.name));
  const handlers = createOrdersRpc({
    orders: store,
    latest: createLatestOrders({ jsm, bucket: BUCKETS.orders.name }),
    progress: createProgressStore(await ensureBucket(nc, BUCKETS.ticketProgress, 1)),
    price: { perTicket: 1000, currency: 'EUR' },
    deadlines: unscheduled,
    log: quietLog,
  });
  serving = serveRpc(nc, [rpcRoute(ORDERS_RPC.create, handlers.create), rpcRoute(ORDERS_RPC.get, handlers.get), rpcRoute(ORDERS_RPC.list, handlers.list)], { queue: ORDERS_RPC_QUEUE, log: quietLog });
  rpc = createRpcClient(nc, { timeoutMs: 5_000 });
  app = buildApp({
    jobs: { requestMagicLink: async () => undefined },
    auth: {
      verifyToken: async () => ({ ok: false, code: 'token_invalid', message: 'unused' }),
      getSession: async (sessionId) => session(sessionId),
      endSession: async () => ({ ok: true, ended: false }),
    },
    limiter: createKvRateLimiter(await ensureBucket(nc, BUCKETS.rateLimits, 1)),
    isReady: () => true,
    config: { publicUrl: 'http://127.0.0.1', appUrl: 'http://127.0.0.1/', trustProxy: false, rateLimits: magicLinkLimits(100) },
    log: quietLog,
    orders: { rpc, tickets: { get: async () => null }, orderLimit: ORDER_LIMIT },
  });
});

afterAll(async () => {
  await app?.close();
  await serving?.stop();
  await nc?.close();
  await nats?.stop();
});

const user = () => uniqueName('user').toLowerCase();
const post = (userId: string) =>
  app.inject({ method: 'POST', url: '/orders', cookies: { handoff_session: userId }, payload: { event: 'Gig', attendees: [{ name: 'Ada' }] } });
const list = (userId: string, query = '') => app.inject({ method: 'GET', url: `/orders${query}`, cookies: { handoff_session: userId } });
type Page = { orders: OrderView[]; nextCursor: string | null };

test('orders beyond the hourly limit get 429 with Retry-After and create nothing; another user is unaffected', async () => {
  const buyer = user();
  for (let i = 0; i < ORDER_LIMIT.max; i++) expect((await post(buyer)).statusCode).toBe(201);
  const refused = await post(buyer);
  expect(refused.statusCode).toBe(429);
  expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(refused.json()).toMatchObject({ code: 'rate_limited', status: 429 });
  expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(3_600);
  expect((await post(buyer)).statusCode).toBe(429);
  expect((await list(buyer)).json<Page>().orders).toHaveLength(ORDER_LIMIT.max);
  expect((await post(user())).statusCode).toBe(201);
});

test('GET /orders pages through 250 orders newest first: every order exactly once, and an order created meanwhile lands on the first page', async () => {
  const buyer = user();
  const created: string[] = [];
  for (let i = 0; i < 250; i += 25) {
    const batch = await Promise.all(Array.from({ length: 25 }, () => rpc.call(ORDERS_RPC.create, { userId: buyer, email: 'b@example.test', event: 'Gig', attendees: [{ name: 'Ada' }] })));
    for (const reply of batch) created.push(reply.ok ? reply.order.id : 'failed');
  }
  const first = (await list(buyer)).json<Page>();
  expect(first.orders).toHaveLength(20);
  expect(first.nextCursor).toEqual(expect.any(String));

  const seen: OrderView[] = [];
  let cursor: string | null = '';
  let pages = 0;
  while (cursor !== null) {
    const res = await list(buyer, `?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.statusCode).toBe(200);
    const page: Page = res.json();
    seen.push(...page.orders);
    cursor = page.nextCursor;
    if (++pages === 1) expect((await post(buyer)).statusCode).toBe(201);
  }
  expect(pages).toBe(3);
  expect(seen.map((o) => o.id).sort()).toEqual([...created].sort());
  const times = seen.map((o) => o.createdAt);
  expect(times).toEqual([...times].sort().reverse());
  expect(seen.every((o) => !('userId' in o))).toBe(true);
  const again = (await list(buyer, '?limit=1')).json<Page>();
  expect(again.orders[0]!.createdAt >= times[0]!).toBe(true);
  expect(created).not.toContain(again.orders[0]!.id);
});

test('listing a user’s orders 200 times creates no consumer on the orders bucket', async () => {
  const buyer = user();
  for (let i = 0; i < 5; i++) expect((await rpc.call(ORDERS_RPC.create, { userId: buyer, email: 'b@example.test', event: 'Gig', attendees: [{ name: 'Ada' }] })).ok).toBe(true);
  const consumers = async () => (await jsm.streams.info(`KV_${BUCKETS.orders.name}`)).state.consumer_count;
  expect(await consumers()).toBe(0);
  const created: string[] = [];
  const advisories = nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.CREATED.KV_${BUCKETS.orders.name}.>`, { callback: (_e, m) => void created.push(m.subject) });
  await nc.flush();
  for (let i = 0; i < 200; i++) expect((await list(buyer, '?limit=2')).json<Page>().orders).toHaveLength(2);
  await nc.flush();
  advisories.unsubscribe();
  expect(created).toEqual([]);
  expect(await consumers()).toBe(0);
});

test('orders with ids from before time-ordered ids come after the new ones, newest first by date', async () => {
  const buyer = user();
  const legacy = (n: number, day: string): Order => ({
    v: 1,
    id: `ord_${n.toString(16).padStart(20, '0')}`,
    userId: buyer,
    email: 'l@example.test',
    event: 'Old gig',
    attendees: [{ name: 'Ada' }],
    amount: 1000,
    currency: 'EUR',
    status: 'sent',
    createdAt: `2025-01-${day}T10:00:00.000Z`,
    updatedAt: `2025-01-${day}T10:00:00.000Z`,
  });
  for (const [n, day] of [[1, '03'], [2, '01'], [3, '02']] as const) await store.create(legacy(n, day));
  const fresh = await rpc.call(ORDERS_RPC.create, { userId: buyer, email: 'l@example.test', event: 'New gig', attendees: [{ name: 'Ada' }] });
  const ids: string[] = [];
  let cursor: string | null = '';
  while (cursor !== null) {
    const page: Page = (await list(buyer, `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)).json();
    ids.push(...page.orders.map((o) => o.id));
    cursor = page.nextCursor;
  }
  expect(ids).toEqual([fresh.ok ? fresh.order.id : '', 'ord_00000000000000000001', 'ord_00000000000000000003', 'ord_00000000000000000002']);
});

test('internal callers may order up to MAX_ORDER_TICKETS tickets over request/reply; buyers stay at MAX_ATTENDEES through the gateway', async () => {
  const names = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `Attendee ${i + 1}` }));
  const internal = await rpc.call(ORDERS_RPC.create, { userId: user(), email: 'group@example.test', event: 'Big night', attendees: names(MAX_ORDER_TICKETS) });
  if (!internal.ok) throw new Error(`internal order refused: ${internal.code} ${internal.message}`);
  expect(internal.order.tickets).toEqual({ total: MAX_ORDER_TICKETS, generated: 0 });
  expect((await store.read(internal.order.id))?.value.attendees).toHaveLength(MAX_ORDER_TICKETS);

  const beyond = await rpc.call(ORDERS_RPC.create, { userId: user(), email: 'group@example.test', event: 'Big night', attendees: names(MAX_ORDER_TICKETS + 1) });
  expect(beyond).toMatchObject({ ok: false, code: 'bad_request' });

  const buyer = user();
  const tooMany = await app.inject({ method: 'POST', url: '/orders', cookies: { handoff_session: buyer }, payload: { event: 'Gig', attendees: names(MAX_ATTENDEES + 1) } });
  expect(tooMany.statusCode).toBe(400);
  expect(tooMany.json()).toMatchObject({ code: 'invalid_request' });
  expect((await list(buyer)).json<Page>().orders).toEqual([]);
  const most = await app.inject({ method: 'POST', url: '/orders', cookies: { handoff_session: buyer }, payload: { event: 'Gig', attendees: names(MAX_ATTENDEES) } });
  expect(most.statusCode).toBe(201);
});

test('a page size above 100 or a cursor this list never returned is a 400 problem', async () => {
  const buyer = user();
  for (const query of ['?limit=101', '?limit=0', '?limit=x', '?cursor=bm9wZQ', `?cursor=${'x'.repeat(300)}`]) {
    const res = await list(buyer, query);
    expect(res.statusCode, query).toBe(400);
    expect(res.json()).toMatchObject({ code: 'invalid_request' });
  }
});

test('the orders bucket gets its max_bytes from the contracts, also when it existed before without one', async () => {
  expect((await ordersKv.status()).max_bytes).toBe(BUCKETS.orders.maxBytes);
  const spec = { ...BUCKETS.orders, name: uniqueName('orders_old') };
  await new Kvm(nc).create(spec.name, { history: 1 });
  expect((await (await new Kvm(nc).open(spec.name)).status()).max_bytes).toBe(-1);
  await ensureBucket(nc, spec, 1);
  expect((await (await new Kvm(nc).open(spec.name)).status()).max_bytes).toBe(BUCKETS.orders.maxBytes);
});

test('when the orders bucket is full, a new order is refused with storage_full (503 at the gateway) and existing orders still change', async () => {
  const spec = { ...BUCKETS.orders, name: uniqueName('orders_small'), maxBytes: 8 * 1024 };
  const small = await ensureBucket(nc, spec, 1);
  const smallStore = createOrderStore(small, undefined, bucketUsage(jsm, spec));
  const handlers = createOrdersRpc({ orders: smallStore, latest: async () => [], progress: { get: async () => undefined }, price: { perTicket: 1, currency: 'EUR' }, deadlines: unscheduled, log: quietLog });
  const attendees = Array.from({ length: 10 }, (_, i) => ({ name: `Attendee ${i} ${'x'.repeat(80)}` }));
  const replies = [];
  for (let i = 0; i < 12; i++) replies.push(await handlers.create({ userId: 'u', email: 'u@example.test', event: 'Big', attendees }));
  const stored = replies.flatMap((r) => (r.ok ? [r.order.id] : []));
  expect(stored.length).toBeGreaterThan(0);
  // Every order that was accepted is still there: none was evicted to make room for another (2.9
  // does that to a write in the last bytes below max_bytes, which the store keeps free).
  for (const id of stored) expect(await smallStore.get(id), id).toBeDefined();
  expect(replies.at(-1)).toMatchObject({ ok: false, code: 'storage_full' });
  expect((await smallStore.move(stored[0]!, 'paid'))?.changed).toBe(true);
});

test("the console's latest orders come from the bucket's tail: the most recently changed first, bounded reads", async () => {
  const buyer = user();
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) {
    const reply = await rpc.call(ORDERS_RPC.create, { userId: buyer, email: 'c@example.test', event: `Gig ${i}`, attendees: [{ name: 'Ada' }] });
    if (reply.ok) ids.push(reply.order.id);
  }
  await store.move(ids[3]!, 'paid');
  let reads = 0;
  const counting = { streams: { info: jsm.streams.info.bind(jsm.streams), getMessage: (...args: Parameters<JetStreamManager['streams']['getMessage']>) => (reads++, jsm.streams.getMessage(...args)) } };
  const latest = await createLatestOrders({ jsm: counting as never, bucket: BUCKETS.orders.name })(5);
  expect(latest.map((o) => o.id)).toEqual([ids[3], ids[39], ids[38], ids[37], ids[36]]);
  expect(reads).toBeLessThanOrEqual(5 * 10);
  const all = await rpc.call(ORDERS_RPC.list, { limit: 200 });
  expect(all.ok && all.orders.length).toBeLessThanOrEqual(200);
});
