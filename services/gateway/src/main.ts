import { BUCKETS, OBJECT_STORES } from '#shared/contracts/buckets';
import { SUBJECTS } from '#shared/contracts/subjects';
import { defaultInboxPrefix } from '#shared/nats/connect';
import { createGroupCommit } from '#shared/nats/group-commit';
import { openBucket } from '#shared/nats/kv';
import { createPublisher } from '#shared/nats/publish';
import { createObjectReader } from '#shared/nats/object-reader';
import { createRpcClient } from '#shared/nats/rpc';
import { defineService } from '#shared/service/run-service';
import { buildApp } from './app.ts';
import { createAuthClient } from './auth-client.ts';
import { gatewayEnv } from './config.ts';
import { magicLinkLimitsFrom } from '#shared/config/magic-link-limits';
import { createMemoryRateLimiter } from '#shared/http/memory-rate-limit';
import { createKvRateLimiter } from '#shared/http/rate-limit';
import { startOrderWatch } from './order-watch.ts';

/** gateway: the public API. It answers at once and leaves slow work to jobs; it holds no operator power. */
export default defineService({
  name: 'gateway',
  env: gatewayEnv,
  async start({ name, nc, js, jsm, config, isReady, metrics, log }) {
    const rpc = createRpcClient(nc, { timeoutMs: config.AUTH_RPC_TIMEOUT_MS });
    // One feed of order changes for the whole process, fanned out to its live order views.
    const changes = startOrderWatch({ js, jsm, log });
    // Sign-in jobs of one event-loop turn go out together and wait for their PubAcks under one timer.
    const groupCommit = createGroupCommit(nc, { inboxPrefix: defaultInboxPrefix(name), timeoutMs: config.PUBLISH_TIMEOUT_MS });
    const jobs = createPublisher(js, { send: groupCommit.send });
    const limiter = createKvRateLimiter(await openBucket(nc, BUCKETS.rateLimits));
    const app = buildApp({
      jobs: {
        requestMagicLink: async (job) =>
          void (await jobs.publish(SUBJECTS.magicLinkRequested, job, { retryForMs: config.PUBLISH_TIMEOUT_MS, timeoutMs: config.PUBLISH_TIMEOUT_MS })),
      },
      auth: createAuthClient(rpc),
      orders: {
        rpc,
        tickets: createObjectReader(nc, OBJECT_STORES.tickets),
        orderLimit: { max: config.RATE_LIMIT_ORDERS_MAX, windowMs: config.RATE_LIMIT_ORDERS_WINDOW_MS },
        live: { watch: changes.watch, maxPerUser: config.ORDER_EVENTS_MAX_PER_USER, heartbeatMs: config.ORDER_EVENTS_HEARTBEAT_MS },
      },
      limiter,
      magicLinkLimiter: config.RATE_LIMIT_MAGIC_LINK_STORE === 'memory' ? createMemoryRateLimiter() : limiter,
      isReady,
      config: {
        publicUrl: config.PUBLIC_URL,
        appUrl: config.APP_URL,
        trustProxy: config.TRUST_PROXY,
        checkoutUrl: config.PAYMENT_CHECKOUT_URL,
        rateLimits: magicLinkLimitsFrom(config),
      },
      log,
      metrics,
    });
    return {
      http: { app, port: config.GATEWAY_PORT, host: config.GATEWAY_HOST },
      close: async () => {
        groupCommit.close();
        await changes.stop();
      },
    };
  },
});
