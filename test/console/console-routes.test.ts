import { afterEach, expect, test } from 'vitest';
import type { PeekingRateLimiter } from '#shared/http/rate-limit';
import type { AdminData, ConsoleDeadLetter } from '../../services/console/src/console-data.ts';
import type { OperatorSessions } from '../../services/console/src/operator-sessions.ts';
import { buildApp, type ConsoleAppDeps } from '../../services/console/src/app.ts';
import { quietLog } from '../runtime-setup.ts';

// The console's routes with a plain fake of their data (no NATS): auth, CSRF, replay answers, events.
const TOKEN = 'a-test-admin-token-of-some-length';
const record = (id: number, subject = 'mail.send'): ConsoleDeadLetter => ({
  id,
  storedAt: new Date(Date.now() - 90_000).toISOString(),
  storedOn: 'dlq.MAIL.mailer-send',
  record: {
    v: 1, job: 'mail.send', jobId: `mail-${id}`, stream: 'MAIL', consumer: 'mailer-send', subject, streamSeq: id,
    payload: '{"to":"<script>alert(1)</script>"}', payloadEncoding: 'utf8', headers: {}, reason: 'exhausted', error: 'SMTP 421 try later',
    attempts: 10, maxAttempts: 10, firstAttemptAt: new Date().toISOString(), lastAttemptAt: new Date().toISOString(), deadAt: new Date().toISOString(), failures: [],
  },
});

const fakeData = () => {
  const dead = new Map([[7, record(7)]]);
  const data: AdminData = {
    queues: async () => [{ stream: 'MAIL', consumer: 'mailer-send', messages: 3, pending: 2, ackPending: 1, redelivered: 1, oldestUnackedMs: 65_000 }],
    deadLetters: async () => ({ total: dead.size, items: [...dead.values()] }),
    replay: async (id) => (dead.delete(id) ? { replayed: true, jobId: `mail-${id}`, subject: 'mail.send' } : { replayed: false }),
    latestOrders: async () => ({ ok: false, message: 'ticketing unavailable: it did not answer' }),
    order: async (id) => ({ ok: false, message: `no order ${id}` }),
    pause: async () => {
      throw new Error('not used here');
    },
    resume: async () => {
      throw new Error('not used here');
    },
    jobStory: async () => undefined,
    rates: () => [],
  };
  return { data, dead };
};

/** Sessions in a Map: what the console's bucket holds, without NATS. */
const memorySessions = (): OperatorSessions & { ids: Map<string, number> } => {
  const ids = new Map<string, number>();
  return {
    ids,
    start: async (id, expiresAt) => void ids.set(id, expiresAt),
    active: async (id, now = Date.now()) => (ids.get(id) ?? 0) > now,
    end: async (id) => void ids.delete(id),
  };
};
const allowAll: PeekingRateLimiter = { hit: async () => ({ allowed: true, remaining: 1 }), peek: async () => ({ allowed: true, remaining: 1 }) };

const apps: Array<ReturnType<typeof buildApp>> = [];
const make = (data: AdminData, consoleUrl = 'https://admin.example.test', limiter: ConsoleAppDeps['limiter'] = allowAll, sessions: OperatorSessions = memorySessions()) => {
  const deps: ConsoleAppDeps = { data, token: TOKEN, consoleUrl, trustProxy: false, limiter, sessions, isReady: () => true, log: quietLog, refreshMs: 100 };
  const app = buildApp(deps);
  apps.push(app);
  return app;
};
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

const signIn = async (app: ReturnType<typeof buildApp>) => {
  const res = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://admin.example.test' }, payload: `token=${encodeURIComponent(TOKEN)}` });
  expect(res.statusCode).toBe(303);
  expect(res.headers.location).toBe('/');
  return res.headers['set-cookie'] as string;
};

test('the login cookie is HttpOnly, SameSite=Strict, Secure on https, scoped to the console, and holds no token', async () => {
  const setCookie = await signIn(make(fakeData().data));
  expect(setCookie).toMatch(/^handoff_admin=[A-Za-z0-9_-]{22}\.\d+\.[A-Za-z0-9_-]{43};/);
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/SameSite=Strict/);
  expect(setCookie).toMatch(/Secure/);
  expect(setCookie).toMatch(/Path=\//);
  expect(setCookie).not.toContain(TOKEN);
});

test('a cookie whose expiry was moved forward, or that has passed, is refused', async () => {
  const app = make(fakeData().data);
  const cookie = (await signIn(app)).split(';')[0]!;
  const [, value] = cookie.split('=');
  const [session, expires, mac] = value!.split('.');
  const extended = `handoff_admin=${session}.${Number(expires) + 1}.${mac}`;
  expect((await app.inject({ url: '/', headers: { cookie: extended } })).statusCode).toBe(401);
  expect((await app.inject({ url: '/', headers: { cookie: `handoff_admin=${session}.${Date.now() - 1}.${mac}` } })).statusCode).toBe(401);
  expect((await app.inject({ url: '/', headers: { cookie } })).statusCode).toBe(200);
});

test('the dashboard escapes what it shows and forbids inline scripts other than its own', async () => {
  const res = await make(fakeData().data).inject({ url: '/', headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.statusCode).toBe(200);
  expect(res.body).not.toContain('<script>alert(1)</script>');
  expect(res.body).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
  expect(res.body).toContain('ticketing unavailable');
  expect(res.body).toMatch(/1m 5s/);
  const csp = String(res.headers['content-security-policy']);
  const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
  expect(nonce).toBeTruthy();
  expect(res.body).toContain(`<script nonce="${nonce}">`);
  expect(csp).toContain("frame-ancestors 'none'");
  const lookup = await apps[0]!.inject({ url: '/?order=ord_missing', headers: { authorization: `Bearer ${TOKEN}` } });
  expect(lookup.body).toMatch(/id="lookup-result"><p class="notice">no order ord_missing<\/p>/);
});

test('replay: a script with the bearer token needs no Origin; a form post is redirected; an unknown id is a 404 problem', async () => {
  const { data, dead } = fakeData();
  dead.set(8, record(8));
  const app = make(data);
  const json = await app.inject({ method: 'POST', url: '/dlq/7/replay', headers: { authorization: `Bearer ${TOKEN}`, accept: 'application/json' } });
  expect(json.statusCode).toBe(200);
  expect(json.json()).toEqual({ replayed: true, id: 7, jobId: 'mail-7', subject: 'mail.send' });
  const cookie = (await signIn(app)).split(';')[0]!;
  const form = await app.inject({ method: 'POST', url: '/dlq/8/replay', headers: { cookie, origin: 'https://admin.example.test' } });
  expect(form.statusCode).toBe(303);
  expect(form.headers.location).toBe('/?replayed=8');
  const again = await app.inject({ method: 'POST', url: '/dlq/8/replay', headers: { cookie, origin: 'https://admin.example.test' } });
  expect(again.statusCode).toBe(404);
  expect(again.json()).toMatchObject({ code: 'not_found' });
  const evilBearer = await app.inject({ method: 'POST', url: '/dlq/7/replay', headers: { authorization: `Bearer ${TOKEN}`, origin: 'https://evil.example' } });
  expect(evilBearer.statusCode).toBe(403);
});

test('the event stream sends snapshots until the console closes, and does not hold the close up', async () => {
  const app = make(fakeData().data, 'http://127.0.0.1');
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const res = await fetch(`http://127.0.0.1:${port}/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const reader = res.body!.getReader();
  let text = '';
  while ((text.match(/^data: /gm) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value);
  const first = JSON.parse(/^data: (.*)$/m.exec(text)![1]!) as { deadLetterCount: number; html: Record<string, string> };
  expect(first.deadLetterCount).toBe(1);
  expect(first.html.queues).toContain('mailer-send');
  await app.close();
  expect((await reader.read()).done).toBe(true);
});

test('sign-in attempts are rate-limited per client address', async () => {
  const hits: string[] = [];
  const app = make(fakeData().data, undefined, {
    hit: async (scope, subject, rule) => (hits.push(`${scope}:${subject}:${rule.max}`), hits.length > 2 ? { allowed: false, retryAfterSeconds: 42 } : { allowed: true, remaining: 1 }),
    peek: allowAll.peek,
  });
  const attempt = () => app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'token=guess' });
  expect((await attempt()).statusCode).toBe(401);
  expect((await attempt()).statusCode).toBe(401);
  const limited = await attempt();
  expect(limited.statusCode).toBe(429);
  expect(limited.headers['retry-after']).toBe('42');
  expect(limited.json()).toMatchObject({ code: 'rate_limited' });
  expect(hits[0]).toBe('admin-login:127.0.0.1:20');
});

test('sign-out ends the session: the old cookie is refused afterwards, even replayed from a copy', async () => {
  const sessions = memorySessions();
  const app = make(fakeData().data, undefined, allowAll, sessions);
  const cookie = (await signIn(app)).split(';')[0]!;
  expect(sessions.ids.size).toBe(1);
  expect((await app.inject({ url: '/', headers: { cookie } })).statusCode).toBe(200);
  const out = await app.inject({ method: 'POST', url: '/logout', headers: { cookie, origin: 'https://admin.example.test' } });
  expect(out.statusCode).toBe(303);
  expect(out.headers.location).toBe('/login');
  expect(sessions.ids.size).toBe(0);
  const after = await app.inject({ url: '/', headers: { cookie } });
  expect(after.statusCode).toBe(401);
  expect(after.json()).toMatchObject({ code: 'unauthenticated' });
});

test('a wrong bearer token is counted against the client address; once over the limit even the right token is refused first', async () => {
  const counted: string[] = [];
  let blocked = false;
  const limiter: PeekingRateLimiter = {
    peek: async () => (blocked ? { allowed: false, retryAfterSeconds: 60 } : { allowed: true, remaining: 1 }),
    hit: async (scope, subject, rule) => (counted.push(`${scope}:${subject}:${rule.max}`), { allowed: true, remaining: 1 }),
  };
  const app = make(fakeData().data, undefined, limiter);
  const as = (token: string) => app.inject({ url: '/snapshot', headers: { authorization: `Bearer ${token}` }, remoteAddress: '192.0.2.7' });
  expect((await as('wrong-token')).statusCode).toBe(401);
  expect((await as(TOKEN)).statusCode).toBe(200);
  expect(counted).toEqual(['console-bearer:192.0.2.7:20']);
  blocked = true;
  const refused = await as(TOKEN);
  expect(refused.statusCode).toBe(429);
  expect(refused.headers['retry-after']).toBe('60');
  expect(refused.json()).toMatchObject({ code: 'rate_limited' });
  expect(counted).toHaveLength(1);
});

test('a dead letter whose record names another target than its queue shows why it cannot be replayed, and no Replay button', async () => {
  const { data, dead } = fakeData();
  dead.set(9, record(9, 'payments.event.received'));
  const page = await make(data).inject({ url: '/', headers: { authorization: `Bearer ${TOKEN}` } });
  const row = (id: number) => new RegExp(`<tr id="dl-${id}"[\\s\\S]*?</tr>`).exec(page.body)?.[0] ?? '';
  expect(row(9)).toContain('not replayable');
  expect(row(9)).toContain('subject &#34;payments.event.received&#34; (expected &#34;mail.send&#34;)');
  expect(row(9)).not.toContain('action="/dlq/9/replay"');
  expect(row(7)).toContain('action="/dlq/7/replay"');
  expect(row(7)).toContain('stored on <span class="mono">dlq.MAIL.mailer-send</span>');
});
