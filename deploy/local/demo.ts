/**
 * `npm run demo`, against a running system (`npm start`): the whole story as a buyer lives it —
 * signing in, ordering, paying on the (dev) payment provider's checkout, watching the order's
 * live view — each step printed with its timing. Exit 0 only when everything happened.
 */
import { z } from 'zod';
import { connect } from '@nats-io/transport-node';
import { parseEnv } from '#shared/config/env';
import { AUTH_RPC } from '#shared/contracts/auth';
import { createRpcClient } from '#shared/nats/rpc';

const config = parseEnv(
  z.object({
    GATEWAY_URL: z.string().default('http://localhost:3000'),
    INBOX_URL: z.string().default('http://127.0.0.1:8025'),
    NATS_URL: z.string().default('nats://127.0.0.1:4222'),
    DEMO_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
  }),
  process.env,
);

interface InboxMail {
  id: number;
  to: string[];
  subject: string;
  text: string;
  attachments: Array<{ filename: string; contentType: string; size: number; url: string }>;
}

const started = Date.now();
let stepStart = Date.now();
const step = (text: string) => {
  stepStart = Date.now();
  process.stdout.write(`→ ${text} … `);
};
const ok = (detail = '') => process.stdout.write(`ok (${Date.now() - stepStart} ms)${detail ? ` — ${detail}` : ''}\n`);

const until = async <T>(what: string, check: () => Promise<T | undefined>): Promise<T> => {
  const deadline = Date.now() + config.DEMO_TIMEOUT_MS;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

const inbox = async (): Promise<InboxMail[]> => (await (await fetch(`${config.INBOX_URL}/api/messages`)).json()) as InboxMail[];

/** An order's live view (GET /orders/:id/events), read in the background until the server ends it. */
const watchOrder = async (url: string, cookie: string) => {
  const response = await fetch(url, { headers: { accept: 'text/event-stream', cookie } });
  if (response.status !== 200 || !response.body) throw new Error(`GET ${url}: expected a stream, got ${response.status} ${await response.text()}`);
  const seen: Array<{ status: string; tickets: { total: number; generated: number } }> = [];
  const ended = (async () => {
    let buffer = '';
    const decoder = new TextDecoder();
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const data = buffer.slice(0, end).split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
        buffer = buffer.slice(end + 2);
        if (data) seen.push(JSON.parse(data) as (typeof seen)[number]);
      }
    }
    return seen;
  })();
  return { seen, ended };
};

/** Undoes the pages' escaping (`&#38;` and friends). */
const unescape = (text: string) => text.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c)));
const hiddenFields = (html: string) => new URLSearchParams([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, unescape(m[2]!)]));

const expectStatus = async (response: Response, status: number, what: string) => {
  if (response.status !== status) throw new Error(`${what}: expected ${status}, got ${response.status} ${await response.text()}`);
};

const main = async () => {
  const email = `demo+${Date.now().toString(36)}@example.com`;

  step(`add user ${email}`);
  const nc = await connect({ servers: config.NATS_URL, timeout: 3_000 });
  const added = await createRpcClient(nc, { timeoutMs: 5_000 }).call(AUTH_RPC.addUser, { email, name: 'Demo User' });
  await nc.close();
  if (!added.ok) throw new Error(`adding the user failed: ${added.message}`);
  ok(added.created ? 'created' : 'already there');

  step('ask for a magic link');
  const asked = await fetch(`${config.GATEWAY_URL}/auth/magic-link`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
  await expectStatus(asked, 202, 'POST /auth/magic-link');
  ok('202 Accepted, answered before any email was sent');

  step('wait for the email in the inbox');
  const mail = await until('the magic-link email', async () => (await inbox()).find((m) => m.to.includes(email)));
  const link = /https?:\/\/\S+\/auth\/verify\?token=[A-Za-z0-9_-]+/.exec(mail.text)?.[0];
  if (!link) throw new Error('the email has no sign-in link');
  ok(`"${mail.subject}"`);

  step('open the link (a confirmation page; mail scanners fetch it too, and it spends nothing)');
  const page = await fetch(link);
  await expectStatus(page, 200, 'GET /auth/verify');
  const token = /name="token" value="([^"]+)"/.exec(await page.text())?.[1];
  if (!token) throw new Error('the confirmation page has no sign-in form');
  ok('"Sign in" button shown, token not used yet');

  step('press "Sign in" (a same-origin form post)');
  const verifyUrl = new URL('/auth/verify', page.url);
  const verified = await fetch(verifyUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: verifyUrl.origin, 'sec-fetch-site': 'same-origin' },
    body: new URLSearchParams({ token }),
    redirect: 'manual',
  });
  await expectStatus(verified, 303, 'POST /auth/verify');
  const cookie = verified.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  if (!cookie) throw new Error('no session cookie');
  const me = await fetch(`${config.GATEWAY_URL}/me`, { headers: { cookie } });
  await expectStatus(me, 200, 'GET /me');
  ok(`303 to ${verified.headers.get('location')}, session cookie set, /me knows the user`);

  step('create an order of 3 tickets');
  const created = await fetch(`${config.GATEWAY_URL}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({ event: 'Handoff Live 2026', attendees: [{ name: 'Ada Lovelace' }, { name: 'Grace Hopper' }, { name: 'Alan Turing' }] }),
  });
  await expectStatus(created, 201, 'POST /orders');
  const order = (await created.json()) as { id: string; status: string; amount: number; currency: string };
  ok(`${order.id}: ${order.status}, ${(order.amount / 100).toFixed(2)} ${order.currency}`);

  step('open the order\'s live view (GET /orders/:id/events)');
  const live = await watchOrder(`${config.GATEWAY_URL}/orders/${order.id}/events`, cookie);
  await until('the first event of the live view', async () => live.seen[0]);
  ok(`first event: ${live.seen[0]!.status}`);

  step('open the order page and follow its Pay link');
  const orderPage = await fetch(`${config.GATEWAY_URL}/my/orders/${order.id}`, { headers: { cookie } });
  await expectStatus(orderPage, 200, 'GET /my/orders/:id');
  const payHref = /<a class="button" href="([^"]+)">Pay /.exec(await orderPage.text())?.[1];
  const payLink = payHref && unescape(payHref);
  if (!payLink) throw new Error('the order page has no Pay link');
  const checkout = await fetch(payLink);
  await expectStatus(checkout, 200, 'the checkout page');
  const fields = hiddenFields(await checkout.text());
  ok(`the payment provider's checkout: ${(Number(fields.get('amount')) / 100).toFixed(2)} ${fields.get('currency')} for ${fields.get('order')}`);

  step('press Pay (the provider sends a signed payment.succeeded to webhook-ingest)');
  const paid = await fetch(new URL('/checkout', checkout.url), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: fields, redirect: 'manual' });
  await expectStatus(paid, 303, 'POST /checkout (Pay)');
  ok(`303 back to ${paid.headers.get('location')}`);

  step('wait for the tickets email');
  const tickets = await until('the tickets email', async () => (await inbox()).find((m) => m.to.includes(email) && m.attachments.length > 0));
  const pdfs = tickets.attachments.filter((a) => a.contentType === 'application/pdf');
  if (pdfs.length !== 3) throw new Error(`expected 3 PDF tickets, got ${pdfs.length}`);
  ok(`"${tickets.subject}" with ${pdfs.map((p) => p.filename).join(', ')}`);

  step('the live view, pushed as it happened');
  const events = await Promise.race([live.ended, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the live view did not end')), config.DEMO_TIMEOUT_MS))]);
  const final = events.at(-1);
  if (final?.status !== 'sent') throw new Error(`the live view ended at ${final?.status ?? 'nothing'}`);
  ok(events.map((e) => (e.status === 'generating' ? `generating ${e.tickets.generated}/${e.tickets.total}` : e.status)).join(' → '));

  process.stdout.write(`demo complete in ${Date.now() - started} ms\n`);
};

main().catch((error: unknown) => {
  process.stdout.write(`FAILED\n${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
