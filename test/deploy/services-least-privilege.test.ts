/**
 * Acceptance 2 (the services' side): all five services as real processes against a nats-server
 * running deploy/nats/server.conf, each connected as its own user with only its own permissions.
 * A user signs in by email, orders two tickets, pays through a signed webhook, receives the
 * tickets by email, watches the order's live view to the end and downloads one — and no service
 * ever hits a permissions violation.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { AUTH_RPC } from '#shared/contracts/auth';
import { connectNats } from '#shared/nats/connect';
import { createRpcClient } from '#shared/nats/rpc';
import { linkIn, sessionCookie, signInWith, to, uniqueEmail } from '../magic-link/helpers.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { quietLog } from '../runtime-setup.ts';
import { startService, type RunningService } from '../services.ts';
import { startSmtpServer, type TestSmtpServer } from '../smtp-server.ts';
import { openSse } from '../sse.ts';
import { newWebhookSecret, paymentSucceeded, postWebhook, signWebhook } from '../tickets/webhooks.ts';
import { uniqueName, waitFor } from '../wait.ts';
import { passwordOf, randomPasswords, singleServerConfig } from './nats-config.ts';

const passwords = randomPasswords();
const WEBHOOK_SECRET = newWebhookSecret();
let nats: NatsServer;
let smtp: TestSmtpServer;
const services: RunningService[] = [];
let base: string;
let hooks: string;

const as = (user: string) => ({ NATS_URL: nats.url, NATS_USER: user, NATS_PASSWORD: passwordOf(passwords, user), SHUTDOWN_GRACE_MS: '2000' });

beforeAll(async () => {
  [nats, smtp] = await Promise.all([startNatsServer({ config: singleServerConfig(passwords) }), startSmtpServer()]);
  // The owners of streams and buckets first: readers (gateway, mailer → tickets) open what exists.
  const [ticketing, ingest] = await Promise.all([
    startService('ticketing', { ...as('ticketing'), TICKET_SIGNING_KEY: 'least-privilege-signing-key-0123456789' }),
    startService('webhook-ingest', { ...as('webhook-ingest'), WEBHOOK_PORT: '0', WEBHOOK_HOST: '127.0.0.1', WEBHOOK_SECRET }),
  ]);
  const gateway = await startService('gateway', { ...as('gateway'), GATEWAY_PORT: '0', GATEWAY_HOST: '127.0.0.1', PUBLIC_URL: 'http://127.0.0.1' });
  base = `http://127.0.0.1:${gateway.port}`;
  hooks = `http://127.0.0.1:${ingest.port}`;
  const [auth, mailer] = await Promise.all([
    startService('auth', as('auth')),
    startService('mailer', { ...as('mailer'), SMTP_URL: smtp.url, PUBLIC_URL: base }),
  ]);
  services.push(ticketing, ingest, gateway, auth, mailer);
}, 120_000);

afterAll(async () => {
  await Promise.all(services.map((s) => s.kill('SIGKILL')));
  await smtp?.stop();
  await nats?.stop();
});

test('sign-in, order, payment webhook, tickets email, live view and download work with every service on its own NATS user', async () => {
  // Adding users is an operator's job: the admin user calls auth, as the CLI does.
  const email = uniqueEmail('least');
  const admin = await connectNats({ url: nats.url, name: 'cli', user: 'admin', password: passwordOf(passwords, 'admin'), log: quietLog });
  try {
    const added = await createRpcClient(admin, { timeoutMs: 10_000 }).call(AUTH_RPC.addUser, { email, name: 'Least Privilege' });
    expect(added.ok).toBe(true);
  } finally {
    await admin.close();
  }

  const asked = await fetch(`${base}/auth/magic-link`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
  expect(asked.status).toBe(202);
  const [mail] = await smtp.waitForMessages(1, { match: to(email), timeoutMs: 30_000 });
  const verified = await signInWith(linkIn(mail!));
  expect(verified.status).toBe(303);
  const cookie = sessionCookie(verified);

  const created = await fetch(`${base}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({ event: uniqueName('Gig'), attendees: [{ name: 'Ada' }, { name: 'Grace' }] }),
  });
  expect(created.status).toBe(201);
  const order = (await created.json()) as { id: string; amount: number; currency: string };
  // The live view: the gateway follows ticketing's order-change events under its own user.
  const live = await openSse(`${base}/orders/${order.id}/events`, { cookie });
  expect(live.status).toBe(200);
  expect(JSON.parse((await live.next())!.data!)).toMatchObject({ status: 'pending_payment' });

  const paid = await postWebhook(hooks, signWebhook(WEBHOOK_SECRET, uniqueName('evt'), paymentSucceeded(order.id, order.amount, order.currency)));
  expect(paid.status).toBe(200);

  const [tickets] = await smtp.waitForMessages(1, {
    match: (m) => m.envelope.to.includes(email) && (m.parsed.attachments ?? []).length > 0,
    timeoutMs: 60_000,
  });
  expect(tickets!.parsed.attachments.filter((a) => a.contentType === 'application/pdf')).toHaveLength(2);

  await waitFor(
    async () => ((await (await fetch(`${base}/orders/${order.id}`, { headers: { cookie } })).json()) as { status: string }).status === 'sent',
    { timeoutMs: 30_000, intervalMs: 250, what: 'the order to be sent' },
  );
  const statuses: string[] = [];
  for (let item = await live.next({ timeoutMs: 60_000 }); item; item = await live.next({ timeoutMs: 60_000 })) statuses.push((JSON.parse(item.data!) as { status: string }).status);
  expect(statuses.at(-1)).toBe('sent');
  const pdf = await fetch(`${base}/orders/${order.id}/tickets/1`, { headers: { cookie } });
  expect(pdf.status).toBe(200);
  expect(Buffer.from(await pdf.arrayBuffer()).subarray(0, 5).toString()).toBe('%PDF-');

  for (const service of services) expect(service.output(), service.name).not.toMatch(/permissions? violation/i);
});
