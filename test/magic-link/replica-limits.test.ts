import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { AUTH_RPC } from '#shared/contracts/auth';
import { BUCKETS } from '#shared/contracts/buckets';
import { STREAMS } from '#shared/contracts/streams';
import { SUBJECTS } from '#shared/contracts/subjects';
import type { MagicLinkLimits } from '#shared/http/magic-link-limits';
import { createMemoryRateLimiter } from '#shared/http/memory-rate-limit';
import { createKvRateLimiter } from '#shared/http/rate-limit';
import { defaultInboxPrefix } from '#shared/nats/connect';
import { ensureBucket } from '#shared/nats/ensure';
import { createGroupCommit, type GroupCommit } from '#shared/nats/group-commit';
import { createPublisher } from '#shared/nats/publish';
import { createRpcClient } from '#shared/nats/rpc';
import { buildApp } from '../../services/gateway/src/app.ts';
import { createAuthClient } from '../../services/gateway/src/auth-client.ts';
import { ensureConsoleState } from '../jobs-runtime.ts';
import { startNatsServer, type NatsServer } from '../nats-server.ts';
import { quietLog } from '../runtime-setup.ts';
import { startService, type RunningService } from '../services.ts';
import { waitFor } from '../wait.ts';
import { uniqueEmail } from './helpers.ts';

// Two gateway replicas as deployed by default: each counts sign-in requests in its own memory.
// The auth worker (a real process, no mailer: mail jobs stay in MAIL to be counted) holds the
// shared per-email counters that bound the mail across replicas.
const LIMITS: MagicLinkLimits = {
  emailNetwork: { max: 3, windowMs: 600_000 },
  email: { max: 6, windowMs: 600_000 },
  client: { max: 100, windowMs: 600_000 },
};
let server: NatsServer;
let connections: NatsConnection[];
let groupCommits: GroupCommit[];
let jsm: JetStreamManager;
let replicas: FastifyInstance[];
let auth: RunningService;

beforeAll(async () => {
  server = await startNatsServer();
  await ensureConsoleState(server.url);
  auth = await startService('auth', {
    NATS_URL: server.url,
    RATE_LIMIT_EMAIL_NETWORK_MAX: String(LIMITS.emailNetwork.max),
    RATE_LIMIT_EMAIL_MAX: String(LIMITS.email.max),
  });
  connections = await Promise.all([0, 1].map(() => connect({ servers: server.url, inboxPrefix: defaultInboxPrefix('gateway') })));
  jsm = await jetstreamManager(connections[0]!);
  // The mailer owns MAIL; it does not run here, so its jobs wait in the stream to be counted.
  await jsm.streams.add({ name: STREAMS.MAIL.name, subjects: [...STREAMS.MAIL.subjects], retention: 'workqueue' as never });
  groupCommits = connections.map((nc) => createGroupCommit(nc, { inboxPrefix: defaultInboxPrefix('gateway') }));
  replicas = await Promise.all(
    connections.map(async (nc, i) => {
      const publisher = createPublisher(jetstream(nc), { send: groupCommits[i]!.send });
      return buildApp({
        jobs: { requestMagicLink: async (job) => void (await publisher.publish(SUBJECTS.magicLinkRequested, job)) },
        auth: createAuthClient(createRpcClient(nc, { timeoutMs: 2_000 })),
        limiter: createKvRateLimiter(await ensureBucket(nc, BUCKETS.rateLimits, 1)),
        magicLinkLimiter: createMemoryRateLimiter(),
        isReady: () => true,
        config: { publicUrl: 'http://localhost:3000', appUrl: 'http://localhost:3000/', trustProxy: false, rateLimits: LIMITS },
        log: quietLog,
      });
    }),
  );
});

afterAll(async () => {
  await Promise.all(replicas?.map((app) => app.close()) ?? []);
  for (const gc of groupCommits ?? []) gc.close();
  await Promise.all(connections?.map((nc) => nc.close()) ?? []);
  await auth?.kill('SIGKILL');
  await server?.stop();
});

const request = (replica: number, email: string, ip: string) =>
  replicas[replica]!.inject({ method: 'POST', url: '/auth/magic-link', payload: { email }, remoteAddress: ip });
const addUser = async (email: string) =>
  expect(await createRpcClient(connections[0]!, { timeoutMs: 5_000 }).call(AUTH_RPC.addUser, { email })).toMatchObject({ ok: true });
/** Mail jobs for `email` waiting in MAIL (the mailer is not running). */
const mailsTo = async (email: string) => {
  const info = await jsm.streams.info(STREAMS.MAIL.name, { subjects_filter: '>' } as never);
  let n = 0;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage(STREAMS.MAIL.name, { seq }).catch(() => null);
    if ((msg?.json() as { to?: string } | undefined)?.to === email) n++;
  }
  return n;
};
const authQueueDrained = () =>
  waitFor(async () => (await jsm.streams.info(STREAMS.AUTH.name)).state.messages === 0, { timeoutMs: 30_000, what: 'the auth worker to take every job' });
/** The auth worker's "dropped" lines so far (its log is written asynchronously: wait for them). */
const drops = () => auth.output().split('\n').filter((l) => l.includes('"outcome":"dropped"')).length;

test('each replica answers its own 429s, and across both no more mails than the per-email-and-network limit are queued; the rest are dropped', async () => {
  const email = uniqueEmail('replicas');
  await addUser(email);
  const dropsBefore = drops();
  const statuses: number[][] = [[], []];
  for (let i = 0; i < 10; i++) statuses[i % 2]!.push((await request(i % 2, email, `10.9.1.${i}`)).statusCode);
  // One replica alone is exact: 3 accepted, then 429s.
  expect(statuses[0]).toEqual([202, 202, 202, 429, 429]);
  expect(statuses[1]).toEqual([202, 202, 202, 429, 429]);

  await authQueueDrained();
  await waitFor(async () => (await mailsTo(email)) >= 3 && drops() - dropsBefore >= 3, { timeoutMs: 10_000, what: 'three mail jobs and three drops' });
  expect(drops() - dropsBefore).toBe(3);
  expect(await mailsTo(email)).toBe(3);
});

test('the overall per-email cap holds across replicas and networks: 8 accepted requests bring 6 mails', async () => {
  const email = uniqueEmail('spread');
  await addUser(email);
  const dropsBefore = drops();
  const statuses = [];
  for (let i = 0; i < 8; i++) statuses.push((await request(i % 2, email, `172.20.${i}.1`)).statusCode);
  // Each replica saw only 4 of them: under its per-email cap of 6, so all 8 were accepted.
  expect(statuses).toEqual(Array(8).fill(202));

  await authQueueDrained();
  await waitFor(async () => (await mailsTo(email)) >= 6 && drops() - dropsBefore >= 2, { timeoutMs: 10_000, what: 'six mail jobs and two drops' });
  expect(drops() - dropsBefore).toBe(2);
  expect(await mailsTo(email)).toBe(6);
});
