import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { STREAMS } from '#shared/contracts/streams';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { startProcess } from '../process.ts';
import { startService, type RunningService } from '../services.ts';
import { newWebhookSecret, paymentSucceeded, postWebhook, signWebhook, type SignedWebhook } from '../tickets/webhooks.ts';
import { uniqueName } from '../wait.ts';

// Issue 9, webhooks: the attacks test/tickets/webhook-ingest.test.ts does not cover, against the
// real webhook-ingest process: whatever it answers, the PAYMENTS stream must not grow.
const SECRET = newWebhookSecret();
let nats: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let ingest: RunningService;
let base: string;

beforeAll(async () => {
  nats = await startNatsServer();
  ingest = await startService('webhook-ingest', { NATS_URL: nats.url, WEBHOOK_PORT: '0', WEBHOOK_HOST: '127.0.0.1', WEBHOOK_SECRET: SECRET });
  base = `http://127.0.0.1:${ingest.port}`;
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
}, 60_000);

afterAll(async () => {
  await ingest?.kill('SIGKILL');
  await nc?.close();
  await nats?.stop();
});

const stored = async () => (await jsm.streams.info(STREAMS.PAYMENTS.name)).state.messages;
const MINUTE = 60_000;
const order = () => paymentSucceeded(uniqueName('ord'), 2500);

const expectRejected = async (hook: SignedWebhook, code: string) => {
  const res = await postWebhook(base, hook);
  expect(res, JSON.stringify(hook.headers)).toMatchObject({ status: 401, body: { status: 401, code } });
};

test('a captured request replayed after the tolerance (its old timestamp and signature) gets 401 and is not stored', async () => {
  const before = await stored();
  // What an eavesdropper kept from six minutes ago, byte for byte…
  const captured = signWebhook(SECRET, uniqueName('evt'), order(), new Date(Date.now() - 6 * MINUTE));
  await expectRejected(captured, 'timestamp_out_of_tolerance');
  // …and the same capture with a fresh timestamp pasted in: the signature covers the timestamp.
  await expectRejected({ ...captured, headers: { ...captured.headers, 'webhook-timestamp': String(Math.floor(Date.now() / 1000)) } }, 'signature_invalid');
  // A timestamp from the future is as unacceptable as one from the past.
  await expectRejected(signWebhook(SECRET, uniqueName('evt'), order(), new Date(Date.now() + 6 * MINUTE)), 'timestamp_out_of_tolerance');
  expect(await stored()).toBe(before);
});

test('a valid signature moved onto another body, or onto another webhook-id, gets 401 and is not stored', async () => {
  const before = await stored();
  const genuine = signWebhook(SECRET, uniqueName('evt'), order());
  await expectRejected({ ...genuine, body: order() }, 'signature_invalid');
  // One byte more (a trailing newline) is another body.
  await expectRejected({ ...genuine, body: `${genuine.body}\n` }, 'signature_invalid');
  await expectRejected({ ...genuine, headers: { ...genuine.headers, 'webhook-id': uniqueName('evt') } }, 'signature_invalid');
  expect(await stored()).toBe(before);
});

test('a truncated signature, or one carrying only unknown versions (v2, v1a), gets 401 and is not stored', async () => {
  const before = await stored();
  const genuine = signWebhook(SECRET, uniqueName('evt'), order());
  const signature = genuine.headers['webhook-signature'] ?? '';
  const digest = signature.slice('v1,'.length);
  const variants = [
    signature.slice(0, -1),
    signature.slice(0, signature.length / 2),
    `v1,${digest.slice(0, 8)}`,
    'v1,',
    `v2,${digest}`,
    `v1a,${digest}`,
    `v2,${digest} v3,${digest}`,
    digest,
  ];
  for (const value of variants) await expectRejected({ ...genuine, headers: { ...genuine.headers, 'webhook-signature': value } }, 'signature_invalid');
  expect(await stored()).toBe(before);
  // The untouched request still goes through: the rejections above were about the signature alone.
  expect((await postWebhook(base, genuine)).status).toBe(200);
  expect(await stored()).toBe(before + 1);
});

test('a WEBHOOK_SECRET shorter than 24 bytes stops the real service at start, naming the variable on stderr and not the secret', async () => {
  const launch = fileURLToPath(new URL('../../services/launch.ts', import.meta.url));
  const short = `whsec_${randomBytes(16).toString('base64')}`;
  for (const secret of [short, `${newWebhookSecret()} ${short}`]) {
    const proc = startProcess(launch, { args: ['webhook-ingest'], env: { NATS_URL: nats.url, WEBHOOK_PORT: '0', WEBHOOK_HOST: '127.0.0.1', WEBHOOK_SECRET: secret }, name: 'short-secret' });
    let stderr = '';
    proc.child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await proc.exited;
    expect(code, proc.output()).not.toBe(0);
    expect(stderr).toMatch(/WEBHOOK_SECRET: every secret must decode to at least 24 bytes/);
    expect(stderr).not.toContain(short.slice('whsec_'.length));
    expect(proc.output()).not.toMatch(/service ready/);
  }
});
