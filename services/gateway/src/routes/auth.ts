import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import type { Log } from '#shared/observability/logger';
import type { AuthClient } from '../auth-client.ts';
import type { MagicLinkLimits } from '#shared/http/magic-link-limits';
import type { QuotaLimiter } from '#shared/http/rate-limit';
import { createMagicLinkRequests, type MagicLinkJobs } from '../magic-links.ts';
import { SESSION_COOKIE, sessionCookieOptions, sessionOf } from '../session.ts';
import { registerVerifyRoutes, userView } from './verify.ts';

export type { MagicLinkJobs } from '../magic-links.ts';

export interface AuthRoutesDeps {
  jobs: MagicLinkJobs;
  auth: AuthClient;
  limiter: QuotaLimiter;
  requireSession: preHandlerAsyncHookHandler;
  config: {
    appUrl: string;
    publicUrl: string;
    secureCookies: boolean;
    rateLimits: MagicLinkLimits;
  };
  log: Log;
}

/** One body for known and unknown addresses alike: the answer must not reveal who has an account. */
export const MAGIC_LINK_ACCEPTED = {
  status: 'accepted',
  message: 'If an account exists for this address, a sign-in link is on its way.',
} as const;

export const registerAuthRoutes = (app: FastifyInstance, deps: AuthRoutesDeps) => {
  const magicLinks = createMagicLinkRequests(deps);
  app.post('/auth/magic-link', { bodyLimit: 1024 }, async (request, reply) => {
    await magicLinks.request(request.body, request.ip);
    return reply.code(202).send(MAGIC_LINK_ACCEPTED);
  });

  registerVerifyRoutes(app, { auth: deps.auth, config: deps.config, log: deps.log });

  app.get('/me', { preHandler: deps.requireSession }, async (request) => userView(sessionOf(request)));

  app.post('/auth/logout', async (request, reply) => {
    const sessionId = request.cookies[SESSION_COOKIE];
    if (sessionId) await deps.auth.endSession(sessionId);
    reply.clearCookie(SESSION_COOKIE, sessionCookieOptions(deps.config.secureCookies));
    return reply.code(204).send();
  });
};
