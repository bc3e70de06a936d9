import { createHash } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { STREAMS } from '#shared/contracts/streams';
import { watchConnection } from '#shared/nats/connection-state';
import { ensureStream } from '#shared/nats/ensure';
import { createPublisher } from '#shared/nats/publish';
import { buildApp } from '../../services/webhook-ingest/src/app.ts';
import { createEventStore } from '../../services/webhook-ingest/src/store-event.ts';
import { createSignatureVerifier } from '../../services/webhook-ingest/src/verify-signature.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { quietLog } from '../runtime-setup.ts';
import { uniqueName, waitFor } from '../wait.ts';
import { newWebhookSecret, paymentSucceeded, signRaw, signWebhook, type SignedWebhook } from './webhooks.ts';

const SECRET = newWebhookSecret();
const OLD_SECRET = newWebhookSecret();
let server: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let app: FastifyInstance;
const warnings: Array<Record<string, unknown>> = [];
let conflicts = 0;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  jsm = await jetstreamManager(nc);
  await ensureStream({ jsm, log: quietLog, replicas: 1 }, STREAMS.PAYMENTS);
  const connection = watchConnection(nc);
  app = buildApp({
    verify: createSignatureVerifier([SECRET, OLD_SECRET]),
    store: createEventStore(createPublisher(jetstream(nc)), jsm, { timeoutMs: 1_500 }),
    isReady: connection.connected,
    log: { ...quietLog, warn: (fields: object, msg?: string) => void warnings.push({ ...fields, msg }) },
    idConflicts: { inc: () => void conflicts++ },
  });
});
afterAll(async () => {
  await app?.close();
  await nc?.close();
  await server?.stop();
});

const post = (hook: SignedWebhook) => app.inject({ method: 'POST', url: '/webhooks/payments', headers: hook.headers, payload: hook.body });
const stored = async () => (await jsm.streams.info(STREAMS.PAYMENTS.name)).state.messages;

test('a correctly signed event is stored byte for byte with its id as Nats-Msg-Id, then answered 200', async () => {
  const id = uniqueName('evt');
  // Odd spacing and key order: the stored bytes must be the provider's, not a re-serialisation.
  const body = `{ "type":"payment.succeeded",  "timestamp": 1, "data": {"currency":"EUR","orderId":"${uniqueName('o')}","amount":7500} }`;
  const res = await post(signWebhook(SECRET, id, body));
  expect(res.statusCode).toBe(200);
  expect(res.json()).toMatchObject({ received: true, id, duplicate: false });
  const msg = await jsm.streams.getMessage(STREAMS.PAYMENTS.name, { last_by_subj: STREAMS.PAYMENTS.subjects[0] });
  expect(new TextDecoder().decode(msg?.data)).toBe(body);
  expect(msg?.header.get('Nats-Msg-Id')).toBe(id);
});

test('the same webhook delivered five times is stored once and acknowledged every time', async () => {
  const hook = signWebhook(SECRET, uniqueName('evt'), paymentSucceeded(uniqueName('o'), 2500));
  const before = await stored();
  const answers = [];
  for (let i = 0; i < 5; i++) answers.push(await post(hook));
  expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 200, 200]);
  expect(answers.map((a) => a.json<{ duplicate: boolean }>().duplicate)).toEqual([false, true, true, true, true]);
  expect(await stored()).toBe(before + 1);
});

test('key rotation: an event signed with the old secret, or carrying several signatures of which one matches, is accepted', async () => {
  expect((await post(signWebhook(OLD_SECRET, uniqueName('evt'), paymentSucceeded('o1', 1)))).statusCode).toBe(200);
  const hook = signWebhook(SECRET, uniqueName('evt'), paymentSucceeded('o2', 1));
  const other = signWebhook(newWebhookSecret(), hook.headers['webhook-id'] ?? '', hook.body).headers['webhook-signature'];
  hook.headers['webhook-signature'] = `${other} ${hook.headers['webhook-signature']}`;
  expect((await post(hook)).statusCode).toBe(200);
});

test('forged, wrong-body, stale, unknown-key and unsigned events get 401 problems and nothing is published', async () => {
  const before = await stored();
  const body = paymentSucceeded(uniqueName('o'), 2500);
  const forged = signWebhook(SECRET, uniqueName('evt'), body);
  forged.headers['webhook-signature'] = `v1,${Buffer.from('x'.repeat(32)).toString('base64')}`;
  const otherBody = signWebhook(SECRET, uniqueName('evt'), paymentSucceeded(uniqueName('o'), 1));
  otherBody.body = body;
  const stale = signWebhook(SECRET, uniqueName('evt'), body, new Date(Date.now() - 10 * 60_000));
  const unknownKey = signWebhook(newWebhookSecret(), uniqueName('evt'), body);
  const unsigned = signWebhook(SECRET, uniqueName('evt'), body);
  delete unsigned.headers['webhook-signature'];

  const cases: Array<[SignedWebhook, string]> = [
    [forged, 'signature_invalid'],
    [otherBody, 'signature_invalid'],
    [stale, 'timestamp_out_of_tolerance'],
    [unknownKey, 'signature_invalid'],
    [unsigned, 'signature_missing'],
  ];
  for (const [hook, code] of cases) {
    const res = await post(hook);
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 401, code });
  }
  expect(await stored()).toBe(before);
});

test('correctly signed but malformed bodies get 400 problems and nothing is published', async () => {
  const before = await stored();
  const bodies = [
    '{"type": "payment.succeeded", ',
    JSON.stringify({ type: 'payment.succeeded', timestamp: 1, data: { amount: 100, currency: 'EUR' } }),
    JSON.stringify({ type: 'payment.succeeded', timestamp: 1, data: { orderId: 'o', amount: '100', currency: 'EUR' } }),
    JSON.stringify({ hello: 'world' }),
    '',
  ];
  for (const body of bodies) {
    const res = await post(signWebhook(SECRET, uniqueName('evt'), body));
    expect(res.statusCode, body).toBe(400);
    expect(res.json()).toMatchObject({ status: 400, code: 'body_malformed' });
  }
  expect(await stored()).toBe(before);
});

test('timestamps that are not digits only (1700000000junk and friends) get 401 timestamp_invalid and nothing is stored', async () => {
  const before = await stored();
  const genuine = signWebhook(SECRET, uniqueName('evt'), paymentSucceeded(uniqueName('o'), 2500));
  const now = genuine.headers['webhook-timestamp']!;
  // `${now}junk` is what a parseInt-based check reads as `now`, so the signature would match.
  for (const timestamp of [`${now}junk`, '1700000000junk', ` ${now}`, `${now} `, `+${now}`, `${now}.0`, '1.7e9', '-1', '0x6553f100', '１７００００００００', '']) {
    const res = await post({ ...genuine, headers: { ...genuine.headers, 'webhook-timestamp': timestamp } });
    expect(res.statusCode, JSON.stringify(timestamp)).toBe(401);
    expect(res.json()).toMatchObject({ code: timestamp === '' ? 'signature_missing' : 'timestamp_invalid' });
  }
  expect(await stored()).toBe(before);
  expect((await post(genuine)).statusCode).toBe(200);
});

test('a body that is not valid UTF-8 is refused (400 when signed over its exact bytes, 401 when signed over a lossy decoding) and nothing is stored', async () => {
  const before = await stored();
  const json = Buffer.from(paymentSucceeded(uniqueName('o'), 2500));
  const broken = Buffer.concat([json.subarray(0, 20), Buffer.from([0xc3, 0x28, 0xff]), json.subarray(20)]);
  const exact = signRaw(SECRET, uniqueName('evt'), broken);
  const res = await app.inject({ method: 'POST', url: '/webhooks/payments', headers: exact.headers, payload: exact.body });
  expect(res.statusCode).toBe(400);
  expect(res.json()).toMatchObject({ code: 'body_malformed', detail: 'the body is not valid UTF-8' });
  // Signed over what a lossy decoding makes of the bytes: the signature is checked over the bytes themselves.
  const lossy = signRaw(SECRET, uniqueName('evt'), broken, { over: Buffer.from(broken.toString('utf8')) });
  const res2 = await app.inject({ method: 'POST', url: '/webhooks/payments', headers: lossy.headers, payload: lossy.body });
  expect(res2.statusCode).toBe(401);
  expect(res2.json()).toMatchObject({ code: 'signature_invalid' });
  expect(await stored()).toBe(before);
});

test('the same webhook-id with a different body is answered as a duplicate, not stored, logged at warn with both digests and counted', async () => {
  const id = uniqueName('evt');
  const first = signWebhook(SECRET, id, paymentSucceeded(uniqueName('o'), 2500));
  expect((await post(first)).json()).toMatchObject({ duplicate: false });
  const sha = (body: string) => createHash('sha256').update(body).digest('hex');
  const kept = await jsm.streams.getMessage(STREAMS.PAYMENTS.name, { last_by_subj: STREAMS.PAYMENTS.subjects[0] });
  expect(kept?.header.get('Webhook-Body-Sha256')).toBe(sha(first.body));
  const before = await stored();
  const retry = await post(first);
  expect(retry.json()).toMatchObject({ duplicate: true });
  expect(conflicts).toBe(0);

  const other = signWebhook(SECRET, id, paymentSucceeded(uniqueName('o'), 9900));
  const res = await post(other);
  expect(res.statusCode).toBe(200);
  expect(res.json()).toMatchObject({ received: true, id, duplicate: true });
  expect(await stored()).toBe(before);
  expect(conflicts).toBe(1);
  expect(warnings.filter((w) => w.eventId === id)).toEqual([
    expect.objectContaining({ storedSha256: sha(first.body), receivedSha256: sha(other.body), msg: expect.stringMatching(/different body/) }),
  ]);
});

test('other event types are acknowledged', async () => {
  const body = JSON.stringify({ type: 'payment.refunded', timestamp: 1, data: { orderId: 'x' } });
  expect((await post(signWebhook(SECRET, uniqueName('evt'), body))).statusCode).toBe(200);
});

test('with nats-server down the webhook gets 503 and readyz fails; after a restart the same webhook gets 200', async () => {
  const hook = signWebhook(SECRET, uniqueName('evt'), paymentSucceeded(uniqueName('o'), 2500));
  await server.kill();
  const down = await post(hook);
  expect(down.statusCode).toBe(503);
  expect(down.json()).toMatchObject({ status: 503, code: 'service_unavailable' });
  expect(down.headers['retry-after']).toBeDefined();
  expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);

  await server.restart();
  await waitFor(async () => (await app.inject({ url: '/readyz' })).statusCode === 200, { timeoutMs: 20_000, what: 'ingest ready again' });
  const up = await post(hook);
  expect(up.statusCode).toBe(200);
  expect(up.json()).toMatchObject({ duplicate: false });
});
