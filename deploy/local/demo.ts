/**
 * `npm run demo`, against a running system (`npm start`): the whole story as a user and a payment
 * processor would live it, each step printed with its timing. Exit 0 only when everything happened.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { z } from 'zod';
import { connect } from '@nats-io/transport-node';
import { parseEnv } from '#shared/config/env';
import { AUTH_RPC } from '#shared/contracts/auth';
import { createRpcClient } from '#shared/nats/rpc';

const root = fileURLToPath(new URL('../../', import.meta.url));
const config = parseEnv(
  z.object({
    GATEWAY_URL: z.string().default('http://localhost:3000'),
    WEBHOOK_URL: z.string().default('http://localhost:3001/webhooks/payments'),
    INBOX_URL: z.string().default('http://127.0.0.1:8025'),
    NATS_URL: z.string().default('nats://127.0.0.1:4222'),
    DATA_DIR: z.string().default(join(root, '.data')),
    WEBHOOK_SECRET: z.string().optional(),
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

const webhookSecret = (): string => {
  if (config.WEBHOOK_SECRET) return config.WEBHOOK_SECRET;
  const file = join(config.DATA_DIR, 'dev-secrets.json');
  if (!existsSync(file)) throw new Error(`WEBHOOK_SECRET is not set and ${file} does not exist (is npm start running?)`);
  return (JSON.parse(readFileSync(file, 'utf8')) as { WEBHOOK_SECRET: string }).WEBHOOK_SECRET;
};

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

  step('the payment processor sends a signed payment.succeeded');
  const body = JSON.stringify({ type: 'payment.succeeded', timestamp: new Date().toISOString(), data: { orderId: order.id, amount: order.amount, currency: order.currency } });
  const msgId = `msg_demo_${order.id}`;
  const now = new Date();
  const signature = new Webhook(webhookSecret()).sign(msgId, now, body);
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const hook = await fetch(config.WEBHOOK_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': msgId, 'webhook-timestamp': timestamp, 'webhook-signature': signature },
    body,
  });
  await expectStatus(hook, 200, 'POST /webhooks/payments');
  ok('200 after the event was stored durably');

  step('wait for the tickets email');
  const tickets = await until('the tickets email', async () => (await inbox()).find((m) => m.to.includes(email) && m.attachments.length > 0));
  const pdfs = tickets.attachments.filter((a) => a.contentType === 'application/pdf');
  if (pdfs.length !== 3) throw new Error(`expected 3 PDF tickets, got ${pdfs.length}`);
  ok(`"${tickets.subject}" with ${pdfs.map((p) => p.filename).join(', ')}`);

  step('order status');
  const final = await until('the order to be sent', async () => {
    const res = await fetch(`${config.GATEWAY_URL}/orders/${order.id}`, { headers: { cookie } });
    const view = (await res.json()) as { status: string; tickets: { total: number; generated: number } };
    return view.status === 'sent' ? view : undefined;
  });
  ok(`${final.status}, ${final.tickets.generated}/${final.tickets.total} tickets`);

  process.stdout.write(`demo complete in ${Date.now() - started} ms\n`);
};

main().catch((error: unknown) => {
  process.stdout.write(`FAILED\n${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
