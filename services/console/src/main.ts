import { BUCKETS } from '#shared/contracts/buckets';
import { watchPauses } from '#shared/jobs/pause-watch';
import { createKvRateLimiter } from '#shared/http/rate-limit';
import { openBucket } from '#shared/nats/kv';
import { createRpcClient } from '#shared/nats/rpc';
import { defineService } from '#shared/service/run-service';
import { buildApp } from './app.ts';
import { consoleEnv } from './config.ts';
import { createAdminData } from './console-data.ts';
import { createJobRates } from './job-rates.ts';
import { createKvOperatorSessions } from './operator-sessions.ts';

/**
 * console: the operators' dashboard (queues and their pauses, rates, dead letters, replay, a job's
 * story), on its own port and NATS user, never on the public path. It owns the dead-letter and
 * job-event streams, the attempt log and the runtime pauses.
 */
export default defineService({
  name: 'console',
  env: consoleEnv,
  async start({ nc, js, jsm, publisher, config, isReady, metrics, log }) {
    const pauses = await openBucket(nc, BUCKETS.queuePauses);
    const pauseWatch = watchPauses(async () => pauses, log, { everyKey: true });
    const rates = createJobRates({ js, log });
    const data = createAdminData({
      jsm,
      publisher,
      rpc: createRpcClient(nc, { timeoutMs: config.RPC_TIMEOUT_MS }),
      control: { jsm, serverVersion: nc.info?.version, pauses: async () => pauses, by: 'console' },
      pauses: (key) => pauseWatch.lookup(key),
      rates,
    });
    const app = buildApp({
      data,
      token: config.ADMIN_TOKEN,
      consoleUrl: config.CONSOLE_URL,
      trustProxy: config.TRUST_PROXY,
      limiter: createKvRateLimiter(await openBucket(nc, BUCKETS.consoleLimits)),
      sessions: createKvOperatorSessions(await openBucket(nc, BUCKETS.consoleSessions)),
      isReady,
      log,
      metrics,
    });
    return {
      http: { app, port: config.CONSOLE_PORT, host: config.CONSOLE_HOST },
      close: () => {
        rates.stop();
        pauseWatch.close();
      },
    };
  },
});
