/**
 * Issue 16, acceptance 1: the buyer page as a person uses it, in Debian's Chromium, against
 * `npm start` (deploy/local/start.ts: every service, the dev inbox, the dev payment provider).
 * Sign in through the dev inbox's link, order 3 tickets, pay on the dev checkout, watch the order
 * reach "sent" without reloading, download a ticket and read it back. Screenshots of each step
 * go to test/artifacts/buyer-*.png.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runCli } from '../magic-link/helpers.ts';
import { pdfText } from '../pdf.ts';
import { repoRoot, type RunningProcess } from '../process.ts';
import { freePort, freeRun, startLauncher, type Ready } from './launcher.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'handoff-buyer-'));
const profile = mkdtempSync(join(tmpdir(), 'handoff-chromium-'));
const artifacts = join(repoRoot, 'test/artifacts');
let launcher: RunningProcess | undefined;
let ready: Ready;
let context: BrowserContext | undefined;

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  const started = await startLauncher({
    NATS_URL: `nats://127.0.0.1:${await freePort()}`,
    DATA_DIR: dataDir,
    GATEWAY_PORT: String(await freePort()),
    WEBHOOK_PORT: String(await freePort()),
    CONSOLE_PORT: String(await freePort()),
    INBOX_PORT: String(await freePort()),
    INBOX_SMTP_PORT: String(await freePort()),
    PAYMENTS_PORT: String(await freePort()),
    WORKER_HEALTH_PORT: String(await freeRun()),
    SHUTDOWN_GRACE_MS: '3000',
    LOG_LEVEL: 'warn',
    SMTP_URL: undefined,
    PAYMENT_CHECKOUT_URL: undefined,
    WEBHOOK_SECRET: undefined,
    ADMIN_TOKEN: undefined,
    PUBLIC_URL: undefined,
    APP_URL: undefined,
  });
  launcher = started.launcher;
  ready = started.ready;
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1000, height: 860 },
    acceptDownloads: true,
  });
}, 180_000);

afterAll(async () => {
  await context?.close();
  if (launcher) {
    launcher.child.kill('SIGINT');
    await Promise.race([launcher.exited, new Promise((r) => setTimeout(r, 15_000))]);
    await launcher.kill('SIGKILL');
  }
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
});

const shot = (page: Page, name: string) => page.screenshot({ path: join(artifacts, `buyer-${name}.png`), fullPage: true });

/** Refusals by the page's policy, and script errors, from any page of the shop. */
const watchConsole = (page: Page, problems: string[]) => {
  page.on('console', (m) => {
    // Browsers ask every origin for /favicon.ico; none of these pages has one.
    if (m.location().url.endsWith('/favicon.ico')) return;
    if (/Content Security Policy|Refused to/i.test(m.text()) || m.type() === 'error') problems.push(`${page.url()}: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
};

test('in Chromium: sign in through the dev inbox, order 3 tickets, pay on the dev checkout, watch the order reach "sent" live, download a ticket', async () => {
  const email = `buyer.${Date.now().toString(36)}@example.test`;
  const added = await runCli(['users', 'add', email, '--name', 'Browser Buyer'], { NATS_URL: ready.nats });
  expect(added.code, added.output).toBe(0);
  const shop = ready.gateway;
  const page = context!.pages()[0] ?? (await context!.newPage());
  const problems: string[] = [];
  watchConsole(page, problems);

  // 1. The buyer page: a sign-in form.
  await page.goto(`${shop}/`);
  await expect.poll(() => page.title()).toBe('Sign in · Handoff');
  await shot(page, '01-sign-in');
  await page.getByLabel('Email address').fill(email);
  await page.getByRole('button', { name: 'Email me a sign-in link' }).click();
  await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();
  expect(await page.getByRole('status').innerText()).toContain(email);
  await shot(page, '02-check-inbox');

  // 2. The dev inbox: the email arrives; its Sign in link opens the confirmation page.
  await page.goto(ready.inbox);
  const subject = page.getByRole('link', { name: 'Your sign-in link for Handoff' });
  await expect
    .poll(async () => {
      await page.reload();
      return subject.count();
    }, { timeout: 30_000 })
    .toBe(1);
  await subject.click();
  await page.frameLocator('iframe').getByRole('link', { name: 'Sign in', exact: true }).waitFor();
  await shot(page, '03-dev-inbox');
  await Promise.all([page.waitForURL(/\/auth\/verify\?token=/), page.frameLocator('iframe').getByRole('link', { name: 'Sign in', exact: true }).click()]);
  await shot(page, '04-confirm');
  await Promise.all([page.waitForURL(`${shop}/`), page.getByRole('button', { name: 'Sign in' }).click()]);
  await page.getByRole('heading', { name: 'Your tickets' }).waitFor();
  expect(await page.locator('.who').innerText()).toBe(`Signed in as ${email}`);
  expect(await page.getByText('No orders yet.').isVisible()).toBe(true);
  await shot(page, '05-signed-in');

  // 3. Order 3 tickets: two rows added in place by the script (no round trip).
  const event = `Handoff Live ${Date.now().toString(36)}`;
  const attendees = ['Ada Lovelace', 'Grace Hopper', 'Alan Turing'];
  await page.getByLabel('Event', { exact: true }).fill(event);
  await page.getByLabel('Attendee 1', { exact: true }).fill(attendees[0]!);
  let navigations = 0;
  const countNavigation = (frame: unknown) => void (frame === page.mainFrame() && navigations++);
  page.on('framenavigated', countNavigation);
  await page.getByRole('button', { name: 'Add attendee' }).click();
  await page.getByRole('button', { name: 'Add attendee' }).click();
  await page.getByLabel('Attendee 2', { exact: true }).fill(attendees[1]!);
  await page.getByLabel('Attendee 3', { exact: true }).fill(attendees[2]!);
  expect(navigations).toBe(0);
  expect(await page.getByRole('button', { name: /^Remove attendee/ }).count()).toBe(3);
  await shot(page, '06-order-form');
  await Promise.all([page.waitForURL(/\/my\/orders\/ord_[a-z0-9]+$/), page.getByRole('button', { name: 'Order tickets' }).click()]);
  const orderPage = page.url();
  const status = page.locator('#order-status');
  expect(await status.innerText()).toBe('Waiting for payment');
  await page.getByText('This status updates by itself.').waitFor();
  await shot(page, '07-order-pending');

  // Record every status this tab shows from now on, and every navigation: it must not reload.
  await page.evaluate(() => {
    const element = document.getElementById('order-status')!;
    const seen = [element.textContent ?? ''];
    new MutationObserver(() => seen.push(element.textContent ?? '')).observe(element, { childList: true, characterData: true, subtree: true });
    (window as unknown as { seenStatuses: string[] }).seenStatuses = seen;
  });
  navigations = 0;

  // 4. Pay: the Pay link opens the dev provider's checkout (here in a second tab, so this one
  // keeps its live view from before the payment); its Pay button returns the buyer to the order.
  const payLink = page.getByRole('link', { name: 'Pay €75.00' });
  const checkoutUrl = await payLink.getAttribute('href');
  expect(checkoutUrl).toMatch(new RegExp(`^${ready.payments}\\?order=ord_`));
  const payTab = await context!.newPage();
  watchConsole(payTab, problems);
  await payTab.goto(checkoutUrl!);
  await payTab.getByRole('button', { name: 'Pay €75.00' }).waitFor();
  expect(await payTab.getByRole('heading', { level: 1 }).innerText()).toBe(event);
  await shot(payTab, '08-checkout');
  await Promise.all([payTab.waitForURL(orderPage), payTab.getByRole('button', { name: 'Pay €75.00' }).click()]);

  // 5. The first tab follows the order live: generating k of 3 → … → sent, without reloading.
  await expect.poll(() => status.innerText(), { timeout: 30_000 }).not.toBe('Waiting for payment');
  await shot(page, '09-progress');
  await expect.poll(() => status.innerText(), { timeout: 90_000 }).toBe('Sent — your tickets are in your inbox and below');
  expect(navigations).toBe(0);
  const seen = await page.evaluate(() => (window as unknown as { seenStatuses: string[] }).seenStatuses);
  expect(seen[0]).toBe('Waiting for payment');
  expect(seen.some((s) => /^Generating tickets: [0-3] of 3$/.test(s))).toBe(true);
  expect(seen.at(-1)).toMatch(/^Sent/);
  expect(await page.locator('#order-pay').isHidden()).toBe(true);
  expect(await page.getByText('This order is complete.').isVisible()).toBe(true);
  await shot(page, '10-sent');

  // The tab the checkout returned to shows the same order, also sent, also live.
  await expect.poll(() => payTab.locator('#order-status').innerText(), { timeout: 30_000 }).toMatch(/^Sent/);
  await shot(payTab, '11-returned-from-checkout');
  await payTab.close();

  // 6. Download ticket 2 and read it back: the attendee's name and the event are on it.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: `Ticket 2 — ${attendees[1]} (PDF)` }).click()]);
  const pdf = readFileSync((await download.path())!);
  expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
  const text = await pdfText(new Uint8Array(pdf));
  expect(text).toContain(attendees[1]);
  expect(text).toContain(event);

  // 7. Back home, the order is listed as sent.
  await page.getByRole('link', { name: '← All orders' }).click();
  await page.getByRole('cell', { name: event }).waitFor();
  expect(await page.getByRole('row', { name: new RegExp(event) }).innerText()).toMatch(/3\s+€75\.00\s+Sent/);
  await shot(page, '12-orders');
  expect(problems).toEqual([]);
});
