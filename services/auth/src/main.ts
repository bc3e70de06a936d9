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
  async start({ nc, config, publisher, log }) {
    const users = createUserStore(await openBucket(nc, BUCKETS.users));
    const tokens = createTokenStore(await openBucket(nc, BUCKETS.magicTokens), { ttlMs: config.MAGIC_LINK_TTL_MS });
    const sessions = createSessionStore(await openBucket(nc, BUCKETS.sessions), { ttlMs: config.SESSION_TTL_MS });
    const mail = { send: async (job: { mailId: string }) => void (await publisher.publish(SUBJECTS.mailSend, job, { id: job.mailId })) };
    return {
      workers: [worker(AUTH_JOBS.magicLink, createOnMagicLinkRequested({ users, tokens, mail }))],
      rpc: { queue: AUTH_RPC_QUEUE, routes: createAuthRpc({ users, tokens, sessions, log }) },
    };
  },
});
