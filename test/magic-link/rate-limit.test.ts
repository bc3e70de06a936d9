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
import { magicLinkChecks, type MagicLinkLimits } from '#shared/http/magic-link-limits';
import { createKvRateLimiter } from '#shared/http/rate-limit';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { quietLog } from '../runtime-setup.ts';
import { uniqueEmail } from './helpers.ts';

// Two gateway "replicas" (two apps, two connections) sharing the rate_limits bucket.
const LIMITS: MagicLinkLimits = {
  emailNetwork: { max: 3, windowMs: 600_000 },
  email: { max: 6, windowMs: 600_000 },
  client: { max: 5, windowMs: 600_000 },
};
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
          rateLimits: LIMITS,
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
/** The counters a request for `email` from `ip` uses: [client, email+network, email]. */
const counters = (email: string, ip: string) => createKvRateLimiter(kv).counts(magicLinkChecks(email, ip, LIMITS));

test('per email and network: the 4th request from one network gets 429 with Retry-After, even spread over two replicas and addresses', async () => {
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

test('a flood for one email from one address is refused without consuming anything; the person signs in from their own network', async () => {
  const email = uniqueEmail('victim');
  const before = await queued();
  const statuses: number[] = [];
  for (let i = 0; i < 50; i++) statuses.push((await request(i % 2, email, '198.51.100.66')).statusCode);
  expect(statuses.filter((s) => s === 202)).toHaveLength(3);
  expect(statuses.filter((s) => s === 429)).toHaveLength(47);
  // Only the three that got through counted: the 47 refusals left every counter as it was.
  expect(await counters(email, '198.51.100.66')).toEqual([3, 3, 3]);

  expect((await request(0, email, '203.0.113.20')).statusCode).toBe(202);
  expect(await counters(email, '203.0.113.20')).toEqual([1, 1, 4]);
  expect(await queued()).toBe(before + 4);
});

test('the overall per-email cap holds across networks, and refusals by it count nowhere', async () => {
  const email = uniqueEmail('spread');
  for (let i = 0; i < 6; i++) expect((await request(i % 2, email, `172.16.${i}.1`)).statusCode).toBe(202);
  const capped = await request(0, email, '172.16.99.1');
  expect(capped.statusCode).toBe(429);
  expect(await counters(email, '172.16.99.1')).toEqual([0, 0, 6]);
  // The refused client's own quota is untouched: another address from it still gets through.
  expect((await request(1, uniqueEmail('other'), '172.16.99.1')).statusCode).toBe(202);
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

test('IPv6: addresses in one /64 share the client and network counters; another /64 does not', async () => {
  const email = uniqueEmail('six');
  for (let i = 1; i <= 3; i++) expect((await request(i % 2, email, `2001:db8:1:2::${i}`)).statusCode).toBe(202);
  expect((await request(0, email, '2001:db8:1:2:ffff:ffff:ffff:ffff')).statusCode).toBe(429);
  expect((await request(1, email, '2001:db8:1:3::1')).statusCode).toBe(202);
});

test('the shared counter loses no hit under concurrency: 30 concurrent requests from one address let exactly 5 through', async () => {
  const before = await queued();
  const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => request(i % 2, uniqueEmail(`burst${i}`), '10.0.3.1')));
  const statuses = responses.map((r) => r.statusCode);
  expect(statuses.filter((s) => s === 202)).toHaveLength(5);
  expect(statuses.filter((s) => s === 429)).toHaveLength(25);
  expect(await queued()).toBe(before + 5);
  expect((await createKvRateLimiter(kv).counts(magicLinkChecks('x@example.test', '10.0.3.1', LIMITS)))[0]).toBe(5);
});

test('30 concurrent requests for one email from one network let exactly 3 through and leave the counters at 3', async () => {
  const email = uniqueEmail('race');
  const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => request(i % 2, email, `10.0.4.${i + 1}`)));
  expect(responses.filter((r) => r.statusCode === 202)).toHaveLength(3);
  const [, network, overall] = await counters(email, '10.0.4.200');
  expect([network, overall]).toEqual([3, 3]);
});
