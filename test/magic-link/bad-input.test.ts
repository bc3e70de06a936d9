import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { BUCKETS } from '#shared/contracts/buckets';
import { STREAMS } from '#shared/contracts/streams';
import { SUBJECTS } from '#shared/contracts/subjects';
import { ensureBucket, ensureStream } from '#shared/nats/ensure';
import { createPublisher } from '#shared/nats/publish';
import { createRpcClient } from '#shared/nats/rpc';
import { buildApp } from '../../services/gateway/src/app.ts';
import { createAuthClient } from '../../services/gateway/src/auth-client.ts';
import { createKvRateLimiter } from '#shared/http/rate-limit';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { quietLog } from '../runtime-setup.ts';
import { uniqueEmail } from './helpers.ts';
import { magicLinkLimits } from '../gateway-fakes.ts';

// The gateway app with its real publisher and limiter on a real AUTH stream.
let server: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let app: FastifyInstance;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  jsm = await jetstreamManager(nc);
  await ensureStream({ jsm, log: quietLog, replicas: 1 }, STREAMS.AUTH);
  const publisher = createPublisher(jetstream(nc));
  app = buildApp({
    jobs: { requestMagicLink: async (job) => void (await publisher.publish(SUBJECTS.magicLinkRequested, job)) },
    auth: createAuthClient(createRpcClient(nc, { timeoutMs: 500 })),
    limiter: createKvRateLimiter(await ensureBucket(nc, BUCKETS.rateLimits, 1)),
    isReady: () => !nc.isClosed(),
    config: {
      publicUrl: 'http://localhost:3000',
      appUrl: 'http://localhost:3000/',
      trustProxy: false,
      rateLimits: magicLinkLimits(100),
    },
    log: quietLog,
  });
});

afterAll(async () => {
  await app?.close();
  await nc?.close();
  await server?.stop();
});

const queued = async () => (await jsm.streams.info(STREAMS.AUTH.name)).state.messages;
const post = (payload: string, contentType: string) =>
  app.inject({ method: 'POST', url: '/auth/magic-link', payload, headers: { 'content-type': contentType } });

const cases: [string, string, string, number, string][] = [
  ['invalid JSON', '{"email":', 'application/json', 400, 'invalid_json'],
  ['an empty JSON body', '', 'application/json', 400, 'invalid_json'],
  ['a missing email', '{}', 'application/json', 400, 'invalid_request'],
  ['a malformed email', '{"email":"not-an-address"}', 'application/json', 400, 'invalid_request'],
  ['an email that is not a string', '{"email":42}', 'application/json', 400, 'invalid_request'],
  ['a JSON array', '["a@example.test"]', 'application/json', 400, 'invalid_request'],
  ['an oversized body', JSON.stringify({ email: 'big@example.test', pad: 'x'.repeat(4_000) }), 'application/json', 413, 'payload_too_large'],
  ['a text/plain body', 'email=a@example.test', 'text/plain', 415, 'unsupported_media_type'],
  ['a form body', 'email=a%40example.test', 'application/x-www-form-urlencoded', 415, 'unsupported_media_type'],
];

test.each(cases)('%s gets a %i problem response and queues nothing', async (_name, payload, contentType, status, code) => {
  const response = await post(payload, contentType);
  expect(response.statusCode).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(response.json()).toMatchObject({ code, status, instance: '/auth/magic-link', type: expect.stringContaining(code.replaceAll('_', '-')) });
  expect(await queued()).toBe(0);
});

test('a well-formed request is queued (202) with the address normalised', async () => {
  const email = uniqueEmail('Valid').replace('valid', 'VaLiD');
  const response = await post(JSON.stringify({ email: `  ${email} ` }), 'application/json; charset=utf-8');
  expect(response.statusCode).toBe(202);
  expect(await queued()).toBe(1);
  const m = await jsm.streams.getMessage(STREAMS.AUTH.name, { last_by_subj: SUBJECTS.magicLinkRequested });
  expect(m?.json()).toMatchObject({ v: 1, email: email.toLowerCase() });
});

test('unknown routes answer a 404 problem; probes answer', async () => {
  const missing = await app.inject({ method: 'GET', url: '/nope?token=secret' });
  expect(missing.statusCode).toBe(404);
  expect(missing.json()).toMatchObject({ code: 'not_found', instance: '/nope' });
  expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ ready: true });
});
