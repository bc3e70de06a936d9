import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
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

// Two gateway "replicas" (two apps, two connections) sharing the rate_limits bucket.
let server: NatsServer;
let connections: NatsConnection[];
let jsm: JetStreamManager;
let replicas: FastifyInstance[];
let kv: KV;

beforeAll(async () => {
  server = await startNatsServer();
  connections = await Promise.all([0, 1].map(() => connect({ servers: server.url })));
  jsm = await jetstreamManager(connections[0]!);
  await ensureStream({ jsm, log: quietLog, replicas: 1 }, STREAMS.AUTH);
  replicas = await Promise.all(
    connections.map(async (nc) => {
      const publisher = createPublisher(jetstream(nc));
      kv = await ensureBucket(nc, BUCKETS.rateLimits, 1);
      return buildApp({
        jobs: { requestMagicLink: async (job) => void (await publisher.publish(SUBJECTS.magicLinkRequested, job)) },
        auth: createAuthClient(createRpcClient(nc, { timeoutMs: 500 })),
        limiter: createKvRateLimiter(kv),
        isReady: () => true,
        config: {
          publicUrl: 'http://localhost:3000',
          appUrl: 'http://localhost:3000/',
          trustProxy: false,
          rateLimits: { email: { max: 3, windowMs: 600_000 }, ip: { max: 5, windowMs: 600_000 } },
        },
        log: quietLog,
      });
    }),
  );
});

afterAll(async () => {
  await Promise.all(replicas?.map((app) => app.close()) ?? []);
  await Promise.all(connections?.map((nc) => nc.close()) ?? []);
  await server?.stop();
});

const queued = async () => (await jsm.streams.info(STREAMS.AUTH.name)).state.messages;
const request = (replica: number, email: string, ip: string) =>
  replicas[replica]!.inject({
    method: 'POST',
    url: '/auth/magic-link',
    payload: { email },
    remoteAddress: ip,
  });

test('per email: the 4th request within the window gets 429 with Retry-After, even spread over two replicas', async () => {
  const email = uniqueEmail('mailbomb');
  const before = await queued();
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await request(i % 2, email, `10.0.1.${i}`)).statusCode);
  expect(statuses).toEqual([202, 202, 202]);

  const limited = await request(1, email.toUpperCase(), '10.0.1.9');
  expect(limited.statusCode).toBe(429);
  const retryAfter = Number(limited.headers['retry-after']);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(600);
  expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(limited.json()).toMatchObject({ code: 'rate_limited', status: 429 });
  // The limited request was not published, so it can never become an email.
  expect(await queued()).toBe(before + 3);
});

test('per client address: the 6th request from one address gets 429; another address is unaffected', async () => {
  const before = await queued();
  for (let i = 0; i < 5; i++) expect((await request(i % 2, uniqueEmail(`ip${i}`), '10.0.2.1')).statusCode).toBe(202);
  const limited = await request(0, uniqueEmail('ip-over'), '10.0.2.1');
  expect(limited.statusCode).toBe(429);
  expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  expect((await request(1, uniqueEmail('elsewhere'), '10.0.2.2')).statusCode).toBe(202);
  expect(await queued()).toBe(before + 6);
});

test('the shared counter loses no hit under concurrency: 30 concurrent requests from one address let exactly 5 through', async () => {
  const before = await queued();
  const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => request(i % 2, uniqueEmail(`burst${i}`), '10.0.3.1')));
  const statuses = responses.map((r) => r.statusCode);
  expect(statuses.filter((s) => s === 202)).toHaveLength(5);
  expect(statuses.filter((s) => s === 429)).toHaveLength(25);
  expect(await queued()).toBe(before + 5);
});
