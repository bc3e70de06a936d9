import { Counter } from 'prom-client';
import { magicLinkLimitsFrom } from '#shared/config/magic-link-limits';
import { createKvRateLimiter } from '#shared/http/rate-limit';
import { AUTH_JOBS, AUTH_RPC_QUEUE } from '#shared/contracts/auth';
import { BUCKETS } from '#shared/contracts/buckets';
import { SUBJECTS } from '#shared/contracts/subjects';
import { worker } from '#shared/jobs/workers';
import { openBucket } from '#shared/nats/kv';
import { defineService } from '#shared/service/run-service';
import { authEnv } from './config.ts';
import { createOnMagicLinkRequested } from './handlers/magic-link-requested.ts';
import { createAuthRpc } from './handlers/rpc.ts';
import { createSessionStore } from './sessions.ts';
import { createTokenStore } from './tokens.ts';
import { createUserStore } from './users.ts';

/** auth: users, magic-link tokens (hashed, single use) and sessions; mail is a job for the mailer. */
export default defineService({
  name: 'auth',
  env: authEnv,
  async start({ nc, config, publisher, metrics, log }) {
    const users = createUserStore(await openBucket(nc, BUCKETS.users));
    const tokens = createTokenStore(await openBucket(nc, BUCKETS.magicTokens), { ttlMs: config.MAGIC_LINK_TTL_MS });
    const sessions = createSessionStore(await openBucket(nc, BUCKETS.sessions), { ttlMs: config.SESSION_TTL_MS });
    const mail = { send: async (job: { mailId: string }) => void (await publisher.publish(SUBJECTS.mailSend, job, { id: job.mailId })) };
    const dropped = new Counter({
      name: 'handoff_magic_links_dropped_total',
      help: 'Sign-in requests dropped without mail by the shared per-email limits (accepted by a gateway replica that could not see the others)',
      labelNames: ['scope'] as const,
      registers: [metrics.registry],
    });
    const limits = {
      limiter: createKvRateLimiter(await openBucket(nc, BUCKETS.magicLinkLimits)),
      rules: magicLinkLimitsFrom(config),
      dropped: (scopes: string[]) => scopes.forEach((scope) => dropped.inc({ scope })),
    };
    return {
      workers: [worker(AUTH_JOBS.magicLink, createOnMagicLinkRequested({ users, tokens, mail, limits }))],
      rpc: { queue: AUTH_RPC_QUEUE, routes: createAuthRpc({ users, tokens, sessions, log }) },
    };
  },
});
