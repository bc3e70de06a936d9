/**
 * The dashboard as an operator uses it (issue 12, acceptance 6): the console service as its own
 * process, connected as its own `console` NATS user to a nats-server running
 * deploy/nats/server.conf; the contracts' mail.send job run as the mailer's user, dead-lettering
 * until healed; a stand-in for ticketing's orders on the ticketing user; Debian's Chromium
 * driving the page. The test reads the DLQ as the operators' `admin` user.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { OrderView } from '#shared/contracts/orders';
import { SUBJECTS } from '#shared/contracts/subjects';
import { getDeadLetter, listDeadLetters } from '#shared/jobs/dead-letter';
import { openJobsRuntime } from '#shared/jobs/workers';
import { connectNats } from '#shared/nats/connect';
import { createPublisher } from '#shared/nats/publish';
import { buildApp as buildGatewayApp } from '../../services/gateway/src/app.ts';
import { passwordOf, randomPasswords, singleServerConfig } from '../deploy/nats-config.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { repoRoot } from '../process.ts';
import { quietLog } from '../runtime-setup.ts';
import { startService, type RunningService } from '../services.ts';
import { waitFor } from '../wait.ts';
import { createDeadJobFixture, type DeadJobFixture } from './dead-job.ts';
import { magicLinkLimits, openLimiter } from '../gateway-fakes.ts';

const passwords = randomPasswords();
const TOKEN = `admin-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
let nats: NatsServer;
let consoleService: RunningService;
let jsm: JetStreamManager;
let dead: DeadJobFixture;
let base: string;
let context: BrowserContext | undefined;
const connections: NatsConnection[] = [];
const profile = mkdtempSync(join(tmpdir(), 'handoff-chromium-'));

const connectAs = async (user: string) => {
  const nc = await connectNats({ url: nats.url, name: user, user, password: passwordOf(passwords, user), log: quietLog });
  connections.push(nc);
  return nc;
};

const jobId = (label: string) => `${label}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

const deadLetterOf = async (id: string) => (await listDeadLetters(jsm)).find((d) => d.record.jobId === id);

beforeAll(async () => {
  nats = await startNatsServer({ config: singleServerConfig(passwords) });
  consoleService = await startService('console', {
    NATS_URL: nats.url,
    NATS_USER: 'console',
    NATS_PASSWORD: passwordOf(passwords, 'console'),
    ADMIN_TOKEN: TOKEN,
    CONSOLE_PORT: '0',
    CONSOLE_HOST: '127.0.0.1',
  });
  base = `http://127.0.0.1:${consoleService.port}`;
  const admin = await connectAs('admin');
  jsm = await jetstreamManager(admin);
  const auth = await connectAs('auth');
  dead = await createDeadJobFixture(await openJobsRuntime(await connectAs('mailer'), quietLog), { enqueue: createPublisher(jetstream(auth), { retryForMs: 5_000 }) });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await dead?.stop();
  await consoleService?.stop();
  await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
  await nats?.stop();
  rmSync(profile, { recursive: true, force: true });
});

test('the public gateway has no operator routes: every /admin path is the ordinary 404 problem', async () => {
  const off = buildGatewayApp({
    jobs: { requestMagicLink: async () => undefined },
    auth: {
      verifyToken: async () => ({ ok: false, code: 'token_invalid', message: 'unused' }),
      getSession: async () => ({ ok: false, code: 'session_invalid', message: 'unused' }),
      endSession: async () => ({ ok: true, ended: false }),
    },
    limiter: openLimiter,
    isReady: () => true,
    config: { publicUrl: 'http://127.0.0.1', appUrl: 'http://127.0.0.1/', trustProxy: false, rateLimits: magicLinkLimits(5) },
    log: quietLog,
  });
  for (const [method, url] of [['GET', '/admin'], ['GET', '/admin/login'], ['GET', '/admin/events'], ['POST', '/admin/dlq/1/replay']] as const) {
    const res = await off.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.statusCode, url).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'not_found', status: 404 });
  }
  await off.close();
});

test('without the token, or with a wrong one, the dashboard, its events and replay answer 401 problem', async () => {
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  for (const [path, init] of [
    ['/', {}],
    ['/', { headers: bearer(`${TOKEN}x`) }],
    ['/events', {}],
    ['/snapshot', { headers: bearer('nope') }],
    ['/dlq/1/replay', { method: 'POST', headers: { ...bearer(TOKEN.slice(0, -1)), origin: base } }],
    ['/', { headers: { cookie: `handoff_admin=${Date.now() + 60_000}.forged` } }],
  ] as const) {
    const res = await fetch(`${base}${path}`, init);
    expect(res.status, path).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ code: 'unauthenticated', status: 401 });
  }
  const login = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
    body: new URLSearchParams({ token: 'wrong-token' }),
    redirect: 'manual',
  });
  expect(login.status).toBe(401);
  expect(login.headers.get('set-cookie')).toBeNull();
  expect(await login.text()).toContain('That is not the admin token.');
});

test('the page still renders when ticketing does not answer, and says so', async () => {
  const res = await fetch(`${base}/`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  const page = await res.text();
  expect(page).toContain('ticketing unavailable');
  expect(page).toMatch(/<h2>Queues/);
});

test('a cross-site replay is refused even with a valid admin cookie', async () => {
  const id = jobId('csrf');
  await dead.enqueue(id);
  const stored = await waitFor(() => deadLetterOf(id), { timeoutMs: 15_000, what: 'the dead letter' });
  const login = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
    body: new URLSearchParams({ token: TOKEN }),
    redirect: 'manual',
  });
  expect(login.status).toBe(303);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
  const attempts: Array<Record<string, string>> = [{ cookie, origin: 'https://evil.example' }, { cookie }, { cookie, referer: 'https://evil.example/page' }];
  for (const headers of attempts) {
    const res = await fetch(`${base}/dlq/${stored.id}/replay`, { method: 'POST', headers, redirect: 'manual' });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'cross_origin' });
  }
  expect(await getDeadLetter(jsm, stored.id)).toBeDefined();
});

test('in Chromium: sign in, see the dead letter, press Replay, it leaves the list and the job completes', async () => {
  // Ticketing's answer to "latest orders", from a stand-in on the real subject.
  const now = new Date().toISOString();
  const orders: OrderView[] = [
    { id: 'ord_a1b2c3d4e5f6g7h8i9j0', userId: 'u1', email: 'ada@example.test', event: 'Handoff Live 2026', attendees: [{ name: 'Ada' }, { name: 'Grace' }, { name: 'Alan' }], amount: 7500, currency: 'EUR', status: 'generating', createdAt: now, updatedAt: now, tickets: { total: 3, generated: 2 } },
    { id: 'ord_k1l2m3n4o5p6q7r8s9t0', userId: 'u2', email: 'grace@example.test', event: 'Handoff Live 2026', attendees: [{ name: 'Grace' }], amount: 2500, currency: 'EUR', status: 'sent', createdAt: now, updatedAt: now, tickets: { total: 1, generated: 1 } },
  ];
  const ticketing = await connectAs('ticketing');
  const responder = ticketing.subscribe(SUBJECTS.ordersList, { callback: (_e, msg) => void msg.respond(JSON.stringify({ ok: true, orders })) });

  const first = jobId('replay-me');
  const second = jobId('stays-dead');
  await dead.enqueue(first);
  await dead.enqueue(second);
  const stored = await waitFor(() => deadLetterOf(first), { timeoutMs: 15_000, what: 'the first dead letter' });
  await waitFor(() => deadLetterOf(second), { timeoutMs: 15_000, what: 'the second dead letter' });

  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1360, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());

  const refused = await page.goto(`${base}/`);
  expect(refused?.status()).toBe(401);

  await page.goto(`${base}/login`);
  await page.fill('#token', TOKEN);
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
  const cookies = await context.cookies(`${base}/`);
  const adminCookie = cookies.find((c) => c.name === 'handoff_admin');
  expect(adminCookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
  expect(adminCookie?.value).not.toContain(TOKEN);

  const row = page.locator(`#dl-${stored.id}`);
  await expect.poll(() => row.count()).toBe(1);
  expect(await row.innerText()).toContain(first);
  expect(await row.innerText()).toContain('550 5.1.1 mailbox unavailable');
  expect(await page.locator('#orders').innerText()).toContain('ord_a1b2c3d4e5f6g7h8i9j0');
  expect(await page.locator('#queues').innerText()).toContain(dead.job.consumer);
  // The payload is a preview that expands.
  await row.locator('summary').click();
  expect(await row.locator('pre').innerText()).toContain('a job that needs a fix before it can run');
  expect(await row.locator('pre').innerText()).not.toContain('tok_');

  dead.heal();
  await row.getByRole('button', { name: 'Replay' }).click();
  await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(0);
  await dead.waitCompleted(first);
  expect(await getDeadLetter(jsm, stored.id)).toBeUndefined();
  expect(await page.locator('#flash').innerText()).toContain(`Replayed dead letter ${stored.id}`);

  // Live: a job that dies now appears without a reload, through the event stream.
  const third = jobId('arrives-live');
  dead.breakAgain();
  await dead.enqueue(third);
  const thirdStored = await waitFor(() => deadLetterOf(third), { timeoutMs: 15_000, what: 'the live dead letter' });
  await expect.poll(() => page.locator(`#dl-${thirdStored.id}`).count(), { timeout: 10_000 }).toBe(1);
  await expect.poll(() => page.locator('#live-text').innerText()).toMatch(/live · updated/);
  expect(await page.locator('#dead-letters').innerText()).toContain(second);

  await page.screenshot({ path: join(repoRoot, 'test/artifacts/console.png'), fullPage: true });
  await responder.drain();

  // Sign out: the page goes back to the login form, and the old cookie is refused by the server.
  await Promise.all([page.waitForURL(`${base}/login`), page.getByRole('button', { name: 'Sign out' }).click()]);
  const old = await fetch(`${base}/snapshot`, { headers: { cookie: `handoff_admin=${adminCookie!.value}` } });
  expect(old.status).toBe(401);
  // Everything the page did, the console did as its own NATS user, and never beyond its rights.
  expect(consoleService.output()).not.toMatch(/permissions? violation/i);
});
