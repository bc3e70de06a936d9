import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { SessionView } from '#shared/contracts/auth';
import { ORDERS_RPC, type OrderView } from '#shared/contracts/orders';
import type { RpcClient } from '#shared/nats/rpc';
import { buildApp } from '../../services/gateway/src/app.ts';
import type { AuthClient } from '../../services/gateway/src/auth-client.ts';
import { quietLog } from '../runtime-setup.ts';
import { body, checkResponse, contentType, method, oddHeaders, query, segment } from './arbitraries.ts';
import { magicLinkLimits, openLimiter } from '../gateway-fakes.ts';

// Issue 9, fuzzing: every public route of the gateway in-process (buildApp + inject) with fakes
// that are always available, so any 5xx is the gateway's own failure, never a dependency's.
const SESSION = 's'.repeat(43);
const TOKEN = 't'.repeat(43);
const session: SessionView = { user: { id: 'usr_1', email: 'ada@example.test', createdAt: new Date(0).toISOString() }, expiresAt: new Date(Date.now() + 3_600_000).toISOString() };
const order = (id: string, total: number): OrderView => ({
  id,
  userId: 'usr_1',
  email: 'ada@example.test',
  event: 'Fuzz Live',
  attendees: Array.from({ length: total }, (_, i) => ({ name: `G${i}` })),
  amount: 2500 * total,
  currency: 'EUR',
  status: 'ready',
  createdAt: new Date(0).toISOString(),
  updatedAt: new Date(0).toISOString(),
  tickets: { total, generated: total },
});

const auth: AuthClient = {
  verifyToken: async (token) => (token === TOKEN ? { ok: true, sessionId: SESSION, session } : { ok: false, code: 'token_invalid', message: 'unknown token' }),
  getSession: async (id) => (id === SESSION ? { ok: true, session } : { ok: false, code: 'session_invalid', message: 'no session' }),
  endSession: async () => ({ ok: true, ended: true }),
};

/** Ticketing as its RPC server behaves: requests are validated against the contract, replies conform. */
const rpc: Pick<RpcClient, 'call'> = {
  call: (async (spec: (typeof ORDERS_RPC)[keyof typeof ORDERS_RPC], request: unknown) => {
    const parsed = spec.request.safeParse(request);
    if (!parsed.success) return { ok: false, code: 'bad_request', message: parsed.error.message };
    const req = parsed.data as { orderId?: string; attendees?: unknown[] };
    if (spec === ORDERS_RPC.create) return spec.reply.parse({ ok: true, order: order('ord_new', req.attendees?.length ?? 1) });
    if (spec === ORDERS_RPC.list) return spec.reply.parse({ ok: true, orders: [order('ord_1', 2)] });
    return req.orderId === 'ord_1' ? spec.reply.parse({ ok: true, order: order('ord_1', 2) }) : { ok: false, code: 'not_found', message: 'no order' };
  }) as RpcClient['call'],
};

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
let app: FastifyInstance;

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  app = buildApp({
    jobs: { requestMagicLink: async () => undefined },
    auth,
    limiter: openLimiter,
    isReady: () => true,
    config: {
      publicUrl: 'https://tickets.example.test',
      appUrl: 'https://tickets.example.test/',
      trustProxy: 1,
      rateLimits: magicLinkLimits(30),
    },
    log: quietLog,
    orders: { rpc, orderLimit: { max: 100_000, windowMs: 60_000 }, tickets: { get: async (name) => (name.endsWith('/1.pdf') ? new Uint8Array([0x25, 0x50, 0x44, 0x46]) : null) } },
  });
  await app.ready();
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await app?.close();
});

const path = fc.oneof(
  fc.constantFrom('/auth/magic-link', '/auth/verify', '/me', '/auth/logout', '/orders', '/healthz', '/readyz'),
  // The buyer page and its form posts.
  fc.constantFrom('/', '/sign-in', '/sign-out', '/my/orders', '/my/orders/ord_1', '/my/orders/ord_missing', '/orders/ord_1/events'),
  segment.map((id) => `/orders/${id}`),
  fc.tuple(segment, segment).map(([id, n]) => `/orders/${id}/tickets/${n}`),
  fc.constantFrom('/orders/ord_1', '/orders/ord_1/tickets/1', '/orders/ord_1/tickets/2', '/orders/ord_1/tickets/3'),
  fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`),
  fc.constantFrom('//orders', '/orders/', '/auth//verify', '/ME', '/%2e%2e/orders', '/auth/verify/'),
);

const cookie = fc.option(
  fc.oneof(
    fc.constant(`handoff_session=${SESSION}`),
    fc.constant(`handoff_session=${SESSION}; other=1; handoff_session=bogus`),
    fc.string({ maxLength: 80 }).map((v) => `handoff_session=${encodeURIComponent(v)}`),
    fc.constantFrom('handoff_session=', 'handoff_session', '=;=;', `handoff_session="${SESSION}"`, `handoff_session=${'x'.repeat(5_000)}`, 'handoff_session=%E0%A4%A'),
  ),
  { nil: undefined },
);

const anyRequest = fc.record({
  method,
  path,
  query: fc.oneof(query, fc.constant(`?token=${TOKEN}`)),
  cookie,
  contentType,
  body,
  headers: oddHeaders,
});

const json = (v: unknown) => Buffer.from(JSON.stringify(v));
/** Requests that get past the door (right method, path, type and cookie) with bodies that are nearly right. */
const plausibleRequest = fc.oneof(
  fc.record({
    method: fc.constant('POST' as const),
    path: fc.constant('/auth/magic-link'),
    query: fc.constant(''),
    cookie: fc.constant(undefined),
    contentType: fc.constant('application/json'),
    body: fc.oneof(
      fc.tuple(fc.stringMatching(/^[a-z0-9.]{1,20}$/), fc.constantFrom('', ' ', '\t')).map(([local, pad]) => json({ email: `${pad}${local}@Example.test${pad}` })),
      fc.emailAddress().map((email) => json({ email })),
      body,
    ),
    headers: oddHeaders,
  }),
  fc.record({
    method: fc.constant('POST' as const),
    path: fc.constant('/auth/logout'),
    query: fc.constant(''),
    cookie,
    contentType: fc.constant(undefined),
    body: fc.constant(undefined),
    headers: oddHeaders,
  }),
  fc.record({
    method: fc.constant('POST' as const),
    path: fc.constant('/orders'),
    query: fc.constant(''),
    cookie: fc.constant(`handoff_session=${SESSION}`),
    contentType: fc.constant('application/json; charset=utf-8'),
    body: fc.oneof(
      fc.record({ event: fc.string({ minLength: 1, maxLength: 250 }), attendees: fc.array(fc.record({ name: fc.string({ minLength: 0, maxLength: 250 }) }), { minLength: 0, maxLength: 110 }) }).map(json),
      body,
    ),
    headers: oddHeaders,
  }),
);

const request = fc.oneof({ weight: 4, arbitrary: anyRequest }, { weight: 1, arbitrary: plausibleRequest });

test('gateway: thousands of hostile requests to every public route get no 5xx, and every 4xx is problem+json with a code', async () => {
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const headers: Record<string, string> = { ...r.headers };
      if (r.cookie !== undefined) headers.cookie = r.cookie;
      if (r.contentType !== undefined) headers['content-type'] = r.contentType;
      const withBody = r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD';
      const status = await checkResponse(app, { method: r.method, url: `${r.path}${r.query}`, headers, ...(withBody ? { payload: r.body } : {}) }, { htmlPaths: /^\/(auth\/verify|sign-in|sign-out|my\/orders(\/[^/]*)?)?$/ });
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }),
    { numRuns: 4_000 },
  );
  console.log(`gateway fuzz: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
  // The generator reaches past validation too: sign-ins, orders and downloads succeed some of the time.
  for (const ok of [200, 201, 202, 204]) expect(statuses.get(ok) ?? 0, `status ${ok}`).toBeGreaterThan(0);
  expect(unhandled).toEqual([]);
}, 120_000);
