import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { SUBJECTS } from '#shared/contracts/subjects';
import { magicLinkChecks, type MagicLinkLimits } from '#shared/http/magic-link-limits';
import { createMemoryRateLimiter } from '#shared/http/memory-rate-limit';
import { defaultInboxPrefix } from '#shared/nats/connect';
import { createGroupCommit, type GroupCommit } from '#shared/nats/group-commit';
import { createPublisher } from '#shared/nats/publish';
import { createRpcClient } from '#shared/nats/rpc';
import { buildApp } from '../../services/gateway/src/app.ts';
import { createAuthClient } from '../../services/gateway/src/auth-client.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { quietLog } from '../runtime-setup.ts';
import { uniqueEmail } from './helpers.ts';

// A gateway whose jobs cannot be stored (no AUTH stream on this server): group commit must not
// answer 202 for them, and the in-memory counters must give the request's counts back.
const LIMITS: MagicLinkLimits = {
  emailNetwork: { max: 1, windowMs: 600_000 },
  email: { max: 1, windowMs: 600_000 },
  client: { max: 1, windowMs: 600_000 },
};
let server: NatsServer;
let nc: NatsConnection;
let gc: GroupCommit;
let app: FastifyInstance;
const limiter = createMemoryRateLimiter();

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url, inboxPrefix: defaultInboxPrefix('gateway') });
  gc = createGroupCommit(nc, { inboxPrefix: defaultInboxPrefix('gateway'), timeoutMs: 1_000 });
  const publisher = createPublisher(jetstream(nc), { send: gc.send });
  app = buildApp({
    jobs: { requestMagicLink: async (job) => void (await publisher.publish(SUBJECTS.magicLinkRequested, job, { retryForMs: 300 })) },
    auth: createAuthClient(createRpcClient(nc, { timeoutMs: 500 })),
    limiter,
    isReady: () => true,
    config: { publicUrl: 'http://localhost:3000', appUrl: 'http://localhost:3000/', trustProxy: false, rateLimits: LIMITS },
    log: quietLog,
  });
});

afterAll(async () => {
  await app?.close();
  gc?.close();
  await nc?.close();
  await server?.stop();
});

test('a job that gets no PubAck is answered 503, never 202, and its counts are given back', async () => {
  const email = uniqueEmail('unstored');
  const responses = await Promise.all([0, 1].map((i) => app.inject({ method: 'POST', url: '/auth/magic-link', payload: { email: i === 0 ? email : uniqueEmail('other') }, remoteAddress: `10.7.${i}.1` })));
  for (const response of responses) {
    expect(response.statusCode).toBe(503);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ code: 'service_unavailable', detail: 'The request could not be queued; nothing was sent.' });
  }
  expect(await limiter.counts(magicLinkChecks(email, '10.7.0.1', LIMITS))).toEqual([0, 0, 0]);
});
