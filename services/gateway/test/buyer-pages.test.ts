import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import type { MagicLinkRequested, SessionView } from '#shared/contracts/auth';
import { ORDERS_RPC, type OrderView } from '#shared/contracts/orders';
import type { QuotaLimiter } from '#shared/http/rate-limit';
import { RpcUnavailableError, type RpcClient } from '#shared/nats/rpc';
import { magicLinkLimits, openLimiter } from '#test/gateway-fakes';
import { quietLog } from '#test/runtime-setup';
import { buildApp } from '../src/app.ts';
import type { AuthClient } from '../src/auth-client.ts';
import { PAGE_CSP } from '../src/page/html.ts';

// The buyer page without a browser and without script: every form posts to the page routes and
// gets a page back, refusals worded on it. Auth and ticketing are fakes.
const ORIGIN = 'https://tickets.example.test';
const session: SessionView = { user: { id: 'usr_ada', email: 'ada@example.test', createdAt: new Date(0).toISOString() }, expiresAt: new Date(Date.now() + 3_600_000).toISOString() };
const auth: AuthClient = {
  verifyToken: async () => ({ ok: false, code: 'token_invalid', message: 'no' }),
  getSession: async (id) => (id === 'ada' ? { ok: true, session } : { ok: false, code: 'session_invalid', message: 'no session' }),
  endSession: async () => ({ ok: true, ended: true }),
};

const orders = new Map<string, OrderView>();
let ticketingDown = false;
const created: unknown[] = [];
const rpc: Pick<RpcClient, 'call'> = {
  call: (async (spec: unknown, request: { orderId?: string; userId?: string; event?: string; attendees?: Array<{ name: string }> }) => {
    if (ticketingDown) throw new RpcUnavailableError('ticketing.rpc');
    if (spec === ORDERS_RPC.create) {
      created.push(request);
      const order = view(`ord_t${String(orders.size + 1).padStart(19, '0')}`, request.event!, request.attendees!.map((a) => a.name));
      orders.set(order.id, order);
      return { ok: true, order };
    }
    if (spec === ORDERS_RPC.list) return { ok: true, orders: [...orders.values()].filter((o) => o.userId === request.userId), nextCursor: null };
    const order = orders.get(request.orderId!);
    return order && order.userId === request.userId ? { ok: true, order } : { ok: false, code: 'not_found', message: 'no order' };
  }) as RpcClient['call'],
};
const view = (id: string, event: string, names: string[], userId = 'usr_ada'): OrderView => ({
  id,
  userId,
  email: 'ada@example.test',
  event,
  attendees: names.map((name) => ({ name })),
  amount: 2500 * names.length,
  currency: 'EUR',
  status: 'pending_payment',
  createdAt: new Date(0).toISOString(),
  updatedAt: new Date(0).toISOString(),
  tickets: { total: names.length, generated: 0 },
  revision: 3,
});

const requested: MagicLinkRequested[] = [];
let limited = false;
const limiter: QuotaLimiter = {
  ...openLimiter,
  take: async (checks) => (limited ? { allowed: false, retryAfterSeconds: 42, refused: checks.map((_, i) => i) } : openLimiter.take(checks)),
};
let app: FastifyInstance;

beforeAll(async () => {
  app = buildApp({
    jobs: { requestMagicLink: async (job) => void requested.push(job) },
    auth,
    limiter,
    isReady: () => true,
    config: { publicUrl: ORIGIN, appUrl: `${ORIGIN}/`, trustProxy: false, rateLimits: magicLinkLimits(100), checkoutUrl: 'https://pay.example.test/checkout?merchant=handoff' },
    log: quietLog,
    orders: { rpc, tickets: { get: async () => null }, orderLimit: { max: 100, windowMs: 60_000 } },
  });
  await app.ready();
});
afterAll(async () => app?.close());
beforeEach(() => {
  ticketingDown = false;
  limited = false;
});

const form = (fields: Array<[string, string]>) => new URLSearchParams(fields).toString();
/** A form post as a browser sends it from one of our pages. */
const post = (url: string, fields: Array<[string, string]>, headers: Record<string, string> = {}): InjectOptions => ({
  method: 'POST',
  url,
  headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, 'sec-fetch-site': 'same-origin', ...headers },
  payload: form(fields),
});
const signedIn = { cookie: 'handoff_session=ada' };
const inputs = (html: string, name: string) => [...html.matchAll(new RegExp(`name="${name}"[^>]*value="([^"]*)"`, 'g'))].map((m) => m[1]);

/** What every page must hold to: its policy, no inline code, its own assets. */
const expectStrictPage = (res: { headers: Record<string, unknown>; body: string }) => {
  expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(res.headers['content-security-policy']).toBe(PAGE_CSP);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)/);
  expect(res.body).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  expect(res.body).toMatch(/<script type="module" src="\/assets\/buyer-[0-9a-f]{12}\.js"><\/script>/);
};

test('/ without a session is the sign-in form; its script and stylesheet are served from the policy\'s own origin, cached for good', async () => {
  const res = await app.inject({ url: '/' });
  expect(res.statusCode).toBe(200);
  expectStrictPage(res);
  expect(res.body).toContain('<form method="post" action="/sign-in">');
  for (const [, url, type] of [...res.body.matchAll(/(?:src|href)="(\/assets\/buyer-[0-9a-f]{12}\.(js|css))"/g)]) {
    const asset = await app.inject({ url: url! });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['content-type']).toBe(type === 'js' ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  }
});

test('signing in by form: "check your inbox" and a queued link; a bad address, a limit and a foreign page each get words, and queue nothing', async () => {
  const ok = await app.inject(post('/sign-in', [['email', 'Ada@Example.test']]));
  expect(ok.statusCode).toBe(200);
  expectStrictPage(ok);
  expect(ok.body).toContain('Check your inbox');
  expect(requested.at(-1)).toMatchObject({ email: 'ada@example.test' });
  const queued = requested.length;

  const bad = await app.inject(post('/sign-in', [['email', 'not an address']]));
  expect(bad.statusCode).toBe(400);
  expect(bad.body).toMatch(/role="alert">Enter a valid email address\./);
  expect(inputs(bad.body, 'email')).toEqual(['not an address']);

  limited = true;
  const many = await app.inject(post('/sign-in', [['email', 'ada@example.test']]));
  expect(many.statusCode).toBe(429);
  expect(many.body).toContain('Too many sign-in requests; retry in 42 s.');

  limited = false;
  const foreign = await app.inject(post('/sign-in', [['email', 'ada@example.test']], { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }));
  expect(foreign.statusCode).toBe(403);
  expect(foreign.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(foreign.body).toContain('Use the forms on this site.');
  expect(requested).toHaveLength(queued);
});

test('the order form without script: Add and Remove come back as the same form with one row more or less, values kept', async () => {
  const added = await app.inject({ ...post('/my/orders', [['event', 'Gig & Co'], ['attendee', 'Ada'], ['op', 'add']]), headers: { ...post('/', []).headers, ...signedIn } });
  expect(added.statusCode).toBe(200);
  expectStrictPage(added);
  expect(inputs(added.body, 'attendee')).toEqual(['Ada', '']);
  expect(inputs(added.body, 'event')).toEqual(['Gig &#38; Co']);
  expect(added.body).toContain('aria-label="Remove attendee 2"');

  const removed = await app.inject({ ...post('/my/orders', [['event', 'Gig'], ['attendee', 'Ada'], ['attendee', 'Bob'], ['attendee', 'Cy'], ['op', 'remove:1']]), headers: { ...post('/', []).headers, ...signedIn } });
  expect(inputs(removed.body, 'attendee')).toEqual(['Ada', 'Cy']);
  expect(created).toHaveLength(0);
});

test('ordering by form: a blank name or ticketing being down is said on the form with what was typed; a good order redirects to its page with a Pay link', async () => {
  const withSession = (fields: Array<[string, string]>) => ({ ...post('/my/orders', fields), headers: { ...post('/', []).headers, ...signedIn } });
  const blank = await app.inject(withSession([['event', 'Gig'], ['attendee', 'Ada'], ['attendee', ' '], ['op', 'order']]));
  expect(blank.statusCode).toBe(400);
  expect(blank.body).toContain('Attendee 2 needs a name (or remove the row).');

  ticketingDown = true;
  const down = await app.inject(withSession([['event', 'Gig'], ['attendee', 'Ada']]));
  expect(down.statusCode).toBe(503);
  expect(down.body).toContain('The ticketing service did not answer.');
  expect(inputs(down.body, 'attendee')).toEqual(['Ada']);
  ticketingDown = false;

  const ok = await app.inject(withSession([['event', 'Gig'], ['attendee', 'Ada'], ['attendee', 'Bob'], ['op', 'order']]));
  expect(ok.statusCode).toBe(303);
  const location = ok.headers.location as string;
  expect(location).toMatch(/^\/my\/orders\/ord_t\d{19}$/);
  expect(created.at(-1)).toMatchObject({ userId: 'usr_ada', event: 'Gig', attendees: [{ name: 'Ada' }, { name: 'Bob' }] });

  const page = await app.inject({ url: location, headers: signedIn });
  expect(page.statusCode).toBe(200);
  expectStrictPage(page);
  expect(page.body).toContain('Waiting for payment');
  const pay = new URL(/<a class="button" href="([^"]+)">Pay €50\.00<\/a>/.exec(page.body)![1]!.replaceAll('&#38;', '&'));
  expect(`${pay.origin}${pay.pathname}`).toBe('https://pay.example.test/checkout');
  expect(Object.fromEntries(pay.searchParams)).toEqual({
    merchant: 'handoff',
    order: location.split('/').at(-1),
    amount: '5000',
    currency: 'EUR',
    description: 'Gig',
    return: `${ORIGIN}${location}`,
  });
  // No tickets to download yet; the live view is on.
  expect(page.body).toMatch(/<div id="order-tickets" hidden>/);
  expect(page.body).toContain('data-live="true"');
});

test('an order page needs its owner: another user\'s order is a 404 page, no session the sign-in form (401)', async () => {
  const theirs = view('ord_t9999999999999999999', 'Not yours', ['Eve'], 'usr_eve');
  orders.set(theirs.id, theirs);
  const other = await app.inject({ url: `/my/orders/${theirs.id}`, headers: signedIn });
  expect(other.statusCode).toBe(404);
  expectStrictPage(other);
  expect(other.body).toContain('No such order');
  expect(other.body).not.toContain('Not yours');
  const anonymous = await app.inject({ url: `/my/orders/${theirs.id}` });
  expect(anonymous.statusCode).toBe(401);
  expect(anonymous.body).toContain('Sign in to see this order.');
});

test('a finished order lists its tickets for download and opens no live view; signing out ends the session', async () => {
  const done = { ...view('ord_t8888888888888888888', 'Done Gig', ['Ada', 'Bob']), status: 'sent' as const, tickets: { total: 2, generated: 2 } };
  orders.set(done.id, done);
  const page = await app.inject({ url: `/my/orders/${done.id}`, headers: signedIn });
  expect(page.body).toContain(`<a href="/orders/${done.id}/tickets/2" download>Ticket 2 — Bob (PDF)</a>`);
  expect(page.body).toContain('data-live="false"');
  expect(page.body).toMatch(/<p id="order-pay" hidden>/);
  const home = await app.inject({ url: '/', headers: signedIn });
  expect(home.body).toMatch(/<td><a href="\/my\/orders\/ord_t8888888888888888888">Done Gig<\/a><\/td><td class="num">2<\/td><td class="num">€50\.00<\/td><td>Sent<\/td>/);

  const out = await app.inject({ ...post('/sign-out', []), headers: { ...post('/', []).headers, ...signedIn } });
  expect(out.statusCode).toBe(303);
  expect(out.headers.location).toBe('/');
  expect(String(out.headers['set-cookie'])).toMatch(/^handoff_session=;.*Expires=Thu, 01 Jan 1970/);
});

test('JSON answers and ticket PDFs carry a policy that allows nothing', async () => {
  const res = await app.inject({ url: '/orders', headers: signedIn });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
  expect(res.headers['x-content-type-options']).toBe('nosniff');
});
