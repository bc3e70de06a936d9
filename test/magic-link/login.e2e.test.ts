import { afterAll, beforeAll, expect, test } from 'vitest';
import { STREAMS } from '#shared/contracts/streams';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { startService, type RunningService } from '../services.ts';
import { startSmtpServer, type TestSmtpServer } from '../smtp-server.ts';
import { waitFor } from '../wait.ts';
import { Kvm } from '@nats-io/kv';
import { BUCKETS } from '#shared/contracts/buckets';
import { magicLinkChecks, type MagicLinkLimits } from '#shared/http/magic-link-limits';
import { createKvRateLimiter } from '#shared/http/rate-limit';
import { inspect, linkIn, runCli, sessionCookie, signInWith, to, tokenOf, uniqueEmail, type Inspector } from './helpers.ts';
import { ensureConsoleState } from '../jobs-runtime.ts';

// gateway, auth and mailer as separate processes against a fresh nats-server and a real SMTP server.
let nats: NatsServer;
let smtp: TestSmtpServer;
let inspector: Inspector;
let gateway: RunningService;
let auth: RunningService;
let mailer: RunningService;
let base: string;
const APP_URL = 'http://app.example.test/welcome';
const MINUTE = 60_000;
// The gateway's limits below, as rules: 2 per email and network, 4 per email, 100 per client.
const LIMITS: MagicLinkLimits = {
  emailNetwork: { max: 2, windowMs: 15 * MINUTE },
  email: { max: 4, windowMs: 60 * MINUTE },
  client: { max: 100, windowMs: 15 * MINUTE },
};
const secretsSeen: string[] = [];

const workerEnv = () => ({ NATS_URL: nats.url, SHUTDOWN_GRACE_MS: '2000' });
const startAuth = () => startService('auth', workerEnv());
const startMailer = () =>
  startService('mailer', { ...workerEnv(), SMTP_URL: smtp.url, PUBLIC_URL: base, MAIL_RETRY_INITIAL_MS: '200', MAIL_RETRY_MAX_MS: '2000', SMTP_TIMEOUT_MS: '2000' });

beforeAll(async () => {
  [nats, smtp] = await Promise.all([startNatsServer(), startSmtpServer()]);
  await ensureConsoleState(nats.url);
  inspector = await inspect(nats.url);
  gateway = await startService('gateway', {
    NATS_URL: nats.url,
    GATEWAY_PORT: '0',
    GATEWAY_HOST: '127.0.0.1',
    PUBLIC_URL: 'http://127.0.0.1',
    APP_URL,
    // Clients are told apart by X-Forwarded-For, as behind a proxy: one test plays several networks.
    TRUST_PROXY: '1',
    RATE_LIMIT_EMAIL_NETWORK_MAX: String(LIMITS.emailNetwork.max),
    RATE_LIMIT_EMAIL_MAX: String(LIMITS.email.max),
    RATE_LIMIT_IP_MAX: String(LIMITS.client.max),
    // The counters below are read from the shared rate_limits bucket: the gateway's kv mode. The
    // default per-replica counting is proven in replica-limits.test.ts.
    RATE_LIMIT_MAGIC_LINK_STORE: 'kv',
  });
  base = `http://127.0.0.1:${gateway.port}`;
  [auth, mailer] = await Promise.all([startAuth(), startMailer()]);
});

afterAll(async () => {
  await Promise.all([gateway, auth, mailer].map((s) => s?.kill('SIGKILL')));
  await inspector?.close();
  await smtp?.stop();
  await nats?.stop();
});

const requestLink = (email: string, from?: string) =>
  fetch(`${base}/auth/magic-link`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(from ? { 'x-forwarded-for': from } : {}) },
    body: JSON.stringify({ email }),
  });

const addUser = async (email: string, name?: string) => {
  const result = await runCli(['users', 'add', email, ...(name ? ['--name', name] : [])], { NATS_URL: nats.url });
  expect(result.code, result.output).toBe(0);
  return result.output;
};

test('the CLI adds a user once; adding the same address again says so and changes nothing', async () => {
  const email = uniqueEmail('cli');
  const first = await addUser(email, 'Grace Hopper');
  expect(first).toMatch(/added user/);
  const id = /id ([0-9a-f-]{36})/.exec(first)?.[1];
  const second = await addUser(email.toUpperCase(), 'Someone Else');
  expect(second).toMatch(/already exists; nothing changed/);
  expect(second).toContain(`id ${id}`);
  expect(second).toContain('Grace Hopper');

  const unreachable = await runCli(['users', 'add', email], { NATS_URL: 'nats://127.0.0.1:1', CLI_CONNECT_TIMEOUT_MS: '1000' });
  expect(unreachable.code).toBe(1);
  expect(unreachable.output).toMatch(/cannot reach NATS at nats:\/\/127\.0\.0\.1:1/);
  const bad = await runCli(['users', 'add', 'not-an-email'], { NATS_URL: nats.url });
  expect(bad.code).toBe(2);
  expect(bad.output).toMatch(/not a valid email address/);
});

test('end to end: the emailed link signs the user in and /me shows them', async () => {
  const email = uniqueEmail('ada');
  await addUser(email, 'Ada Lovelace');

  const response = await requestLink(email);
  expect(response.status).toBe(202);

  const [mail] = await smtp.waitForMessages(1, { match: to(email) });
  const link = linkIn(mail!);
  expect(link.startsWith(`${base}/auth/verify?token=`)).toBe(true);
  expect(mail!.parsed.html).toContain(link.replaceAll('&', '&amp;'));
  expect(mail!.parsed.subject).toMatch(/sign-in link/i);
  expect(mail!.parsed.messageId).toMatch(/^<magic-link-[A-Za-z0-9_-]+@handoff\.localhost>$/);

  const verified = await signInWith(link);
  expect(verified.status).toBe(303);
  expect(verified.headers.get('location')).toBe(APP_URL);
  const setCookie = verified.headers.get('set-cookie') ?? '';
  expect(setCookie).toMatch(/^handoff_session=[A-Za-z0-9_-]{43};/);
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/SameSite=Lax/);
  expect(setCookie).not.toMatch(/Secure/);
  const cookie = setCookie.split(';')[0]!;

  const me = await fetch(`${base}/me`, { headers: { cookie } });
  expect(me.status).toBe(200);
  expect(await me.json()).toMatchObject({ user: { email, name: 'Ada Lovelace' } });

  const logout = await fetch(`${base}/auth/logout`, { method: 'POST', headers: { cookie } });
  expect(logout.status).toBe(204);
  const after = await fetch(`${base}/me`, { headers: { cookie } });
  expect(after.status).toBe(401);
  expect(after.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(await after.json()).toMatchObject({ code: 'unauthenticated', status: 401 });

  secretsSeen.push(tokenOf(link), cookie.split('=')[1]!, email);
});

test('a known and an unknown address get the same answer; the unknown one is acked without an email', async () => {
  const known = uniqueEmail('known');
  const unknown = uniqueEmail('nobody');
  await addUser(known);

  const a = await requestLink(known);
  const b = await requestLink(unknown);
  expect(b.status).toBe(a.status);
  expect(b.status).toBe(202);
  expect(await b.text()).toBe(await a.text());

  await smtp.waitForMessages(1, { match: to(known) });
  await inspector.queuesDrained();
  expect(smtp.messages().filter(to(unknown))).toHaveLength(0);
  // Acked, not dead-lettered: nothing for the AUTH consumer in the DLQ.
  expect(await inspector.streamMessages(STREAMS.DLQ.name)).toBe(0);
  expect(auth.output()).toMatch(/magic link requested for an unknown address; no email/);
  secretsSeen.push(known, unknown);
});

test('the (N+1)th request for one address in the window gets 429 with Retry-After and no extra email', async () => {
  const email = uniqueEmail('limited');
  await addUser(email);
  for (let i = 0; i < 2; i++) expect((await requestLink(email)).status).toBe(202);

  const limited = await requestLink(email);
  expect(limited.status).toBe(429);
  expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(limited.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(await limited.json()).toMatchObject({ code: 'rate_limited', status: 429 });

  await smtp.waitForMessages(2, { match: to(email) });
  await inspector.queuesDrained();
  expect(smtp.messages().filter(to(email))).toHaveLength(2);
});

test('a stranger flooding one address from one network cannot stop the person: after 50 requests, one from their network brings their email', async () => {
  const email = uniqueEmail('victim');
  await addUser(email);
  const kv = await new Kvm(inspector.nc).open(BUCKETS.rateLimits.name);
  const counts = (from: string) => createKvRateLimiter(kv).counts(magicLinkChecks(email, from, LIMITS));

  const statuses: number[] = [];
  for (let i = 0; i < 50; i++) statuses.push((await requestLink(email, '198.51.100.7')).status);
  expect(statuses.filter((s) => s === 202)).toHaveLength(2);
  expect(statuses.filter((s) => s === 429)).toHaveLength(48);
  // [client, email+network, email]: the 48 refusals consumed nothing anywhere.
  expect(await counts('198.51.100.7')).toEqual([2, 2, 2]);

  const mine = await requestLink(email, '203.0.113.9');
  expect(mine.status).toBe(202);
  expect(await counts('203.0.113.9')).toEqual([1, 1, 3]);
  const mails = await smtp.waitForMessages(3, { match: to(email), timeoutMs: 30_000 });
  await inspector.queuesDrained();
  expect(smtp.messages().filter(to(email))).toHaveLength(3);
  const signedIn = await signInWith(linkIn(mails[2]!));
  expect(signedIn.status).toBe(303);
  expect((await fetch(`${base}/me`, { headers: { cookie: sessionCookie(signedIn) } })).status).toBe(200);
  secretsSeen.push(...mails.map((m) => tokenOf(linkIn(m))));
});

test('a link fetched twice by a scanner still signs the person in; then a second POST is 410 and a cross-origin POST 403', async () => {
  const email = uniqueEmail('scanned');
  await addUser(email);
  expect((await requestLink(email)).status).toBe(202);
  const [mail] = await smtp.waitForMessages(1, { match: to(email) });
  const link = linkIn(mail!);

  for (let i = 0; i < 2; i++) {
    const scanned = await fetch(link, { redirect: 'manual' });
    expect(scanned.status).toBe(200);
    expect(scanned.headers.get('content-type')).toMatch(/^text\/html/);
    expect(scanned.headers.get('set-cookie')).toBeNull();
    expect(scanned.headers.get('cache-control')).toBe('no-store');
    expect(scanned.headers.get('referrer-policy')).toBe('no-referrer');
    expect(scanned.headers.get('x-robots-tag')).toMatch(/noindex/);
    expect(scanned.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(await scanned.text()).toMatch(/<button type="submit">Sign in<\/button>/);
  }
  const form = (headers: Record<string, string>) =>
    fetch(`${base}/auth/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ token: tokenOf(link) }),
      redirect: 'manual',
    });
  const forgeries: Record<string, string>[] = [{ origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, { origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }, {}];
  for (const headers of forgeries) {
    const forged = await form(headers);
    expect(forged.status, JSON.stringify(headers)).toBe(403);
    expect(forged.headers.get('set-cookie')).toBeNull();
  }

  const person = await signInWith(link);
  expect(person.status).toBe(303);
  expect(person.headers.get('location')).toBe(APP_URL);
  const cookie = sessionCookie(person);
  expect((await (await fetch(`${base}/me`, { headers: { cookie } })).json())).toMatchObject({ user: { email } });

  const again = await signInWith(link);
  expect(again.status).toBe(410);
  expect(again.headers.get('content-type')).toMatch(/^text\/html/);
  expect(await again.text()).toContain('This sign-in link has already been used');
  expect(again.headers.get('set-cookie')).toBeNull();
  secretsSeen.push(tokenOf(link), cookie.split('=')[1]!);
});

test('a JSON client posts the token: 200 {user, expiresAt} with the cookie, then 410 token_used; a bad token is a 400 problem', async () => {
  const email = uniqueEmail('api');
  await addUser(email, 'Api Client');
  expect((await requestLink(email)).status).toBe(202);
  const [mail] = await smtp.waitForMessages(1, { match: to(email) });
  const token = tokenOf(linkIn(mail!));
  const post = (body: unknown) =>
    fetch(`${base}/auth/verify`, { method: 'POST', headers: { accept: 'application/json', 'content-type': 'application/json' }, body: JSON.stringify(body) });

  const first = await post({ token });
  expect(first.status).toBe(200);
  const body = (await first.json()) as { user: { email: string; name: string }; expiresAt: string };
  expect(body).toMatchObject({ user: { email, name: 'Api Client' } });
  expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now());
  expect(sessionCookie(first)).toMatch(/^handoff_session=/);

  const second = await post({ token });
  expect(second.status).toBe(410);
  expect(second.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(await second.json()).toMatchObject({ code: 'token_used', status: 410 });
  for (const bad of [{ token: 'A'.repeat(43) }, { token: 'short' }, {}]) {
    const res = await post(bad);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'token_invalid' });
  }
  secretsSeen.push(token, sessionCookie(first).split('=')[1]!);
});

test('the gateway answers 202 while SMTP, auth and mailer are down; once back, the email arrives exactly once', async () => {
  const email = uniqueEmail('patient');
  await addUser(email);
  expect(await Promise.all([auth.stop(), mailer.stop()])).toEqual([0, 0]);
  await smtp.refuse(true);

  const response = await requestLink(email);
  expect(response.status).toBe(202);
  expect(await inspector.streamMessages(STREAMS.AUTH.name)).toBe(1);

  [auth, mailer] = await Promise.all([startAuth(), startMailer()]);
  // The mail job now fails against the refused port and is retried until SMTP returns.
  await waitFor(() => /"outcome":"failed"/.test(mailer.output()) || undefined, { timeoutMs: 30_000, what: 'a failed send attempt' });
  await smtp.refuse(false);

  const [mail] = await smtp.waitForMessages(1, { match: to(email), timeoutMs: 30_000 });
  await inspector.queuesDrained();
  expect(smtp.messages().filter(to(email))).toHaveLength(1);
  secretsSeen.push(tokenOf(linkIn(mail!)));
});

test('service logs never contain a raw token, a session id or a full email address', async () => {
  expect(secretsSeen.length).toBeGreaterThan(4);
  const logs = [gateway, auth, mailer].map((s) => s.output()).join('\n');
  expect(logs).toMatch(/\*\*\*@example\.test/);
  for (const secret of secretsSeen) expect(logs).not.toContain(secret);
});
