import { BUCKETS } from '#shared/contracts/buckets';
import { createKvRateLimiter } from '#shared/http/rate-limit';
import { openBucket } from '#shared/nats/kv';
import { createRpcClient } from '#shared/nats/rpc';
import { defineService } from '#shared/service/run-service';
import { buildApp } from './app.ts';
import { consoleEnv } from './config.ts';
import { createAdminData } from './console-data.ts';
import { createKvOperatorSessions } from './operator-sessions.ts';

/**
 * console: the operators' dashboard (queues, dead letters, replay), on its own port and NATS user,
 * never on the public path. It owns the dead-letter stream and the attempt log.
 */
export default defineService({
  name: 'console',
  env: consoleEnv,
  async start({ nc, jsm, publisher, config, isReady, metrics, log }) {
    const app = buildApp({
      data: createAdminData({ jsm, publisher, rpc: createRpcClient(nc, { timeoutMs: config.RPC_TIMEOUT_MS }) }),
      token: config.ADMIN_TOKEN,
      consoleUrl: config.CONSOLE_URL,
      trustProxy: config.TRUST_PROXY,
      limiter: createKvRateLimiter(await openBucket(nc, BUCKETS.consoleLimits)),
      sessions: createKvOperatorSessions(await openBucket(nc, BUCKETS.consoleSessions)),
      isReady,
      log,
      metrics,
    });
    return { http: { app, port: config.CONSOLE_PORT, host: config.CONSOLE_HOST } };
  },
});
