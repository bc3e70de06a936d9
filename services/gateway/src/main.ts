import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { BUCKETS } from '#shared/contracts/buckets';
import { STREAMS } from '#shared/contracts/streams';
import { SUBJECTS } from '#shared/contracts/subjects';
import { parseEnv } from '#shared/config/env';
import { installShutdown } from '#shared/service/shutdown';
import { connectNats } from '#shared/nats/connect';
import { watchConnection } from '#shared/nats/connection-state';
import { ensureBucket } from '#shared/nats/ensure';
import { createMessaging, ensureDeclarations } from '#shared/jobs/workers';
import { createPublisher } from '#shared/nats/publish';
import { createRpcClient } from '#shared/nats/rpc';
import { createLogger } from '#shared/observability/logger';
import { createMetrics } from '#shared/observability/metrics';
import { createAdminData } from './admin/data.ts';
import { buildApp } from './app.ts';
import { createAuthClient } from './auth-client.ts';
import { gatewayEnv } from './config.ts';
import { createKvRateLimiter } from './rate-limit.ts';
import { createTicketFiles } from '#shared/nats/object-reader';

const config = parseEnv(gatewayEnv, process.env);
const log = createLogger({ service: 'gateway', level: config.LOG_LEVEL });
const nc = await connectNats({ url: config.NATS_URL, name: 'gateway', user: config.NATS_USER, password: config.NATS_PASSWORD, log });
const connection = watchConnection(nc);
const messaging = await createMessaging(nc, { replicas: config.JS_REPLICAS, log });
// The gateway publishes to AUTH, so it must exist even before the auth service first starts.
await ensureDeclarations(messaging, { streams: [STREAMS.AUTH] });
const limiter = createKvRateLimiter(await ensureBucket(nc, BUCKETS.rateLimits, config.JS_REPLICAS));

let draining = false;
// The dashboard reads every stream and replays dead jobs to any subject: with NATS users in force
// it gets its own connection as an operator, and the public-facing connection keeps its few rights.
const adminNc =
  config.ADMIN_TOKEN && config.NATS_ADMIN_USER
    ? await connectNats({ url: config.NATS_URL, name: 'gateway-admin', user: config.NATS_ADMIN_USER, password: config.NATS_ADMIN_PASSWORD, log })
    : nc;
const adminJs = jetstream(adminNc);

const app = buildApp({
  jobs: {
    requestMagicLink: async (job) =>
      void (await messaging.publisher.publish(SUBJECTS.magicLinkRequested, job, {
        retryForMs: config.PUBLISH_TIMEOUT_MS,
        timeoutMs: config.PUBLISH_TIMEOUT_MS,
      })),
  },
  auth: createAuthClient(createRpcClient(nc, { timeoutMs: config.AUTH_RPC_TIMEOUT_MS })),
  orders: { rpc: createRpcClient(nc, { timeoutMs: config.AUTH_RPC_TIMEOUT_MS }), tickets: createTicketFiles(nc) },
  limiter,
  admin: config.ADMIN_TOKEN
    ? {
        token: config.ADMIN_TOKEN,
        data: createAdminData({
          js: adminJs,
          jsm: await jetstreamManager(adminNc),
          publisher: createPublisher(adminJs, { retryForMs: 5_000 }),
          rpc: createRpcClient(adminNc, { timeoutMs: config.AUTH_RPC_TIMEOUT_MS }),
        }),
      }
    : undefined,
  isReady: () => !draining && connection.connected(),
  config: {
    publicUrl: config.PUBLIC_URL,
    appUrl: config.APP_URL,
    trustProxy: config.TRUST_PROXY,
    rateLimits: {
      email: { max: config.RATE_LIMIT_EMAIL_MAX, windowMs: config.RATE_LIMIT_EMAIL_WINDOW_MS },
      ip: { max: config.RATE_LIMIT_IP_MAX, windowMs: config.RATE_LIMIT_IP_WINDOW_MS },
    },
  },
  log,
  metrics: createMetrics({ service: 'gateway' }),
});
await app.listen({ port: config.GATEWAY_PORT, host: config.GATEWAY_HOST });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : config.GATEWAY_PORT;

installShutdown(async () => {
  draining = true;
  await app.close();
  if (adminNc !== nc) await adminNc.drain();
  await nc.drain();
}, log);
log.info({ port }, 'service ready');
