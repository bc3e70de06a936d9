import { afterAll, beforeAll, expect, test } from 'vitest';
import { STREAMS } from '#shared/contracts/streams';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { startService, type RunningService } from '../services.ts';
import { startSmtpServer, type TestSmtpServer } from '../smtp-server.ts';
import { waitFor } from '../wait.ts';
import { inspect, linkIn, runCli, to, tokenOf, uniqueEmail, type Inspector } from './helpers.ts';
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
    RATE_LIMIT_EMAIL_MAX: '2',
    RATE_LIMIT_IP_MAX: '100',
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

const requestLink = (email: string) =>
  fetch(`${base}/auth/magic-link`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });

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

  const verified = await fetch(link, { redirect: 'manual' });
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
