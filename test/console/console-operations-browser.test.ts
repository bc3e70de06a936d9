/**
 * Issue 17, acceptance 5: the console as operators use it for what issue 17 adds, in Debian's
 * Chromium. The console and the mailer run as their own processes and NATS users on a server
 * running deploy/nats/server.conf; a burst of sign-in mails (some refused once) gives the rates
 * charts data; the Pause and Resume buttons stop and restart the mailer's queue; a job's page
 * shows its attempts. Screenshots go to test/artifacts/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { MAIL_JOBS, type MailSend } from '#shared/contracts/mail';
import { STREAMS } from '#shared/contracts/streams';
import { SUBJECTS } from '#shared/contracts/subjects';
import { connectNats } from '#shared/nats/connect';
import { createPublisher, type Publisher } from '#shared/nats/publish';
import { passwordOf, randomPasswords, singleServerConfig } from '../deploy/nats-config.ts';
import { to, uniqueEmail } from '../magic-link/helpers.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { repoRoot } from '../process.ts';
import { quietLog } from '../runtime-setup.ts';
import { startService, type RunningService } from '../services.ts';
import { startSmtpServer, type TestSmtpServer } from '../smtp-server.ts';
import { waitFor } from '../wait.ts';

const passwords = randomPasswords();
const TOKEN = `ops-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
let nats: NatsServer;
let smtp: TestSmtpServer;
let consoleService: RunningService;
let mailer: RunningService;
let jsm: JetStreamManager;
let publisher: Publisher;
let base: string;
let context: BrowserContext | undefined;
const connections: NatsConnection[] = [];
const profile = mkdtempSync(join(tmpdir(), 'handoff-chromium-ops-'));
const as = (user: string) => ({ NATS_URL: nats.url, NATS_USER: user, NATS_PASSWORD: passwordOf(passwords, user) });
const connectAs = async (user: string) => {
  const nc = await connectNats({ url: nats.url, name: user, user, password: passwordOf(passwords, user), log: quietLog });
  connections.push(nc);
  return nc;
};
const mail = (label: string): MailSend => ({
  v: 1,
  mailId: `${label}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`,
  to: uniqueEmail(label),
  content: { template: 'magic_link', token: 'B'.repeat(43), expiresAt: new Date(Date.now() + 3_600_000).toISOString() },
});
const send = (m: MailSend) => publisher.publish(SUBJECTS.mailSend, m, { id: m.mailId });
const shot = (page: { screenshot(o: object): Promise<unknown> }, name: string) => page.screenshot({ path: join(repoRoot, `test/artifacts/${name}.png`), fullPage: true });

beforeAll(async () => {
  [nats, smtp] = await Promise.all([startNatsServer({ config: singleServerConfig(passwords) }), startSmtpServer()]);
  consoleService = await startService('console', { ...as('console'), ADMIN_TOKEN: TOKEN, CONSOLE_PORT: '0', CONSOLE_HOST: '127.0.0.1' });
  base = `http://127.0.0.1:${consoleService.port}`;
  mailer = await startService('mailer', { ...as('mailer'), SMTP_URL: smtp.url, MAIL_RETRY_INITIAL_MS: '200', MAIL_RETRY_JITTER: '0' });
  jsm = await jetstreamManager(await connectAs('admin'));
  // Sign-in mail is what auth publishes: the test publishes it as auth's user.
  publisher = createPublisher(jetstream(await connectAs('auth')), { retryForMs: 5_000 });
}, 90_000);

afterAll(async () => {
  await context?.close();
  await mailer?.kill('SIGKILL');
  await consoleService?.stop();
  await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
  await smtp?.stop();
  await nats?.stop();
  rmSync(profile, { recursive: true, force: true });
});

test('in Chromium: rates charts fill after a burst of jobs; Pause holds a new job, Resume sends it once; a job\'s page shows its attempts', async () => {
  // A burst: 30 sign-in mails, the first 6 sends refused once (451), so some attempts fail.
  smtp.rejectNext(6, 451, 'Greylisted, try again later');
  const burst = Array.from({ length: 30 }, (_, i) => mail(`burst${i}`));
  await Promise.all(burst.map(send));
  for (const m of burst) await smtp.waitForMessages(1, { match: to(m.to), timeoutMs: 30_000 });

  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1360, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${base}/login`);
  await page.fill('#token', TOKEN);
  await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);

  // Rates: the mailer's queue has a done chart with data, a failed chart with the refusals, a p95.
  const chart = (kind: string) => page.locator(`#rates figure[data-chart="MAIL_mailer-send-${kind}"]`);
  await expect.poll(async () => Number((await chart('done').getAttribute('data-max').catch(() => null)) ?? 0), { timeout: 15_000 }).toBeGreaterThan(0);
  await expect.poll(async () => Number((await chart('failed').getAttribute('data-max')) ?? 0), { timeout: 15_000 }).toBeGreaterThan(0);
  expect(Number(await chart('p95').getAttribute('data-points'))).toBeGreaterThan(0);
  expect(await chart('done').locator('svg path').count()).toBe(1);
  expect(await page.locator('#rates').innerText()).toMatch(/30 done, 6 failed/);
  await shot(page, 'console-rates');

  // Pause the mailer's queue from its row.
  const row = page.locator('#queues tr[data-consumer="mailer-send"]');
  await row.locator(`button[data-action="pause"][data-queue="MAIL/mailer-send"]`).click();
  await expect.poll(() => row.locator('.state').innerText(), { timeout: 15_000 }).toMatch(/paused/);
  expect(await page.locator('#flash').innerText()).toContain('Paused MAIL/mailer-send until resumed');
  const held = mail('held');
  await send(held);
  await waitFor(async () => (await jsm.consumers.info(STREAMS.MAIL.name, MAIL_JOBS.send.consumer)).num_pending === 1, { what: 'the new job to wait' });
  expect(smtp.messages().filter(to(held.to))).toHaveLength(0);
  await shot(page, 'console-paused');

  await row.locator(`button[data-action="resume"][data-queue="MAIL/mailer-send"]`).click();
  await smtp.waitForMessages(1, { match: to(held.to), timeoutMs: 20_000 });
  await expect.poll(() => row.locator('.state').innerText(), { timeout: 15_000 }).toMatch(/active/);
  await waitFor(async () => (await jsm.streams.info(STREAMS.MAIL.name)).state.messages === 0, { what: 'the held job to be acked' });
  expect(smtp.messages().filter(to(held.to))).toHaveLength(1);

  // A job's page: one of the refused ones, with both attempts.
  const refused = await waitFor(
    async () => {
      for (const m of burst) {
        const res = await fetch(`${base}/jobs?id=${m.mailId}`, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'application/json' } });
        const story = (await res.json()) as { deliveries?: Array<{ outcome?: string }> };
        if (story.deliveries?.[0]?.outcome === 'failed' && story.deliveries.at(-1)?.outcome === 'ok') return m;
      }
      return undefined;
    },
    { what: 'a job that was refused once' },
  );
  await page.goto(`${base}/`);
  await page.fill('#job-lookup', refused.mailId);
  await Promise.all([page.waitForURL(/\/jobs\?id=/), page.locator('#job-lookup').press('Enter')]);
  expect(await page.locator('#job-id').innerText()).toBe(refused.mailId);
  expect(await page.locator('#attempts tr.attempt').count()).toBe(2);
  expect(await page.locator('#attempts').innerText()).toMatch(/451/);
  expect(await page.locator('#job-state').innerText()).toMatch(/done/);
  // The mailer exports no traces here, yet its attempts have trace ids (for logs and this page):
  // published without trace context, each attempt started a trace of its own.
  expect((await page.locator('#job-trace').innerText()).split('\n')).toEqual([expect.stringMatching(/^[0-9a-f]{32}$/), expect.stringMatching(/^[0-9a-f]{32}$/)]);
  expect(await page.locator('main').innerText()).not.toContain('B'.repeat(43));
  await shot(page, 'console-job');

  const unknown = await fetch(`${base}/jobs?id=nope`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(unknown.status).toBe(404);
  const filtered = await fetch(`${base}/?job=mail.send&reason=permanent`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(await filtered.text()).toContain('No dead letters match.');

  // Everything the page did, the console did as its own NATS user, never beyond its rights.
  expect(consoleService.output()).not.toMatch(/permissions? violation/i);
  expect(mailer.output()).not.toMatch(/permissions? violation/i);
});
