import { AUTH_JOBS, AUTH_RPC_QUEUE } from '#shared/contracts/auth';
import { BUCKETS } from '#shared/contracts/buckets';
import type { JobSpec } from '#shared/contracts/spec';
import { SUBJECTS } from '#shared/contracts/subjects';
import { STREAMS } from '#shared/contracts/streams';
import { parseEnv } from '#shared/config/env';
import { installShutdown } from '#shared/service/shutdown';
import { connectNats } from '#shared/nats/connect';
import { watchConnection } from '#shared/nats/connection-state';
import { ensureBucket } from '#shared/nats/ensure';
import { createMessaging, ensureDeclarations, startWorkers, worker } from '#shared/jobs/workers';
import { serveRpc } from '#shared/nats/rpc';
import { startHealthServer } from '#shared/observability/health';
import { createJobObserver } from '#shared/jobs/observe-attempts';
import { createLogger } from '#shared/observability/logger';
import { consumerSampler, createMetrics } from '#shared/observability/metrics';
import { authEnv } from './config.ts';
import { createOnMagicLinkRequested } from './handlers/magic-link-requested.ts';
import { createAuthRpc } from './handlers/rpc.ts';
import { createSessionStore } from './sessions.ts';
import { createTokenStore } from './tokens.ts';
import { createUserStore } from './users.ts';

const config = parseEnv(authEnv, process.env);
const log = createLogger({ service: 'auth', level: config.LOG_LEVEL });
const nc = await connectNats({ url: config.NATS_URL, name: 'auth', user: config.NATS_USER, password: config.NATS_PASSWORD, log });
const connection = watchConnection(nc);
const messaging = await createMessaging(nc, { replicas: config.JS_REPLICAS, log });
const users = createUserStore(await ensureBucket(nc, BUCKETS.users, config.JS_REPLICAS));
const tokens = createTokenStore(await ensureBucket(nc, BUCKETS.magicTokens, config.JS_REPLICAS), { ttlMs: config.MAGIC_LINK_TTL_MS });
const sessions = createSessionStore(await ensureBucket(nc, BUCKETS.sessions, config.JS_REPLICAS), { ttlMs: config.SESSION_TTL_MS });

const workerList = [
  worker(
    AUTH_JOBS.magicLink,
    createOnMagicLinkRequested({
      users,
      tokens,
      mail: { send: async (mail) => void (await messaging.publisher.publish(SUBJECTS.mailSend, mail, { id: mail.mailId })) },
    }),
  ),
];
// MAIL belongs to the mailer, but auth publishes to it and must not depend on start order.
await ensureDeclarations(messaging, { streams: [STREAMS.AUTH, STREAMS.MAIL], jobs: workerList.map((w) => w.job as JobSpec<never>) });
const rpc = serveRpc(nc, createAuthRpc({ users, tokens, sessions, log }), { queue: AUTH_RPC_QUEUE, log });
const metrics = createMetrics({ service: 'auth', sampleConsumers: consumerSampler(messaging.jsm, workerList.map((w) => w.job)) });
const workers = await startWorkers(messaging, workerList, { log, observer: createJobObserver(metrics) });
let draining = false;
const health = await startHealthServer({ port: config.HEALTH_PORT, checks: { isReady: () => !draining && connection.connected(), metrics: () => metrics.render() }, log });

installShutdown(async () => {
  draining = true;
  await rpc.stop();
  await workers.stop(config.SHUTDOWN_GRACE_MS);
  await health.close();
  await nc.drain();
}, log);
log.info({ healthPort: health.port }, 'service ready');
