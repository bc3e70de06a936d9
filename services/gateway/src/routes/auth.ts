import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { z } from 'zod';
import { Email, type MagicLinkRequested } from '#shared/contracts/auth';
import type { Log } from '#shared/observability/logger';
import type { AuthClient } from '../auth-client.ts';
import { HttpProblem } from '#shared/http/problems';
import { firstIssue } from '#shared/http/zod-issues';
import { magicLinkChecks, type MagicLinkLimits } from '#shared/http/magic-link-limits';
import type { QuotaLimiter } from '#shared/http/rate-limit';
import { SESSION_COOKIE, sessionCookieOptions, sessionOf } from '../session.ts';
import { registerVerifyRoutes, userView } from './verify.ts';

export interface MagicLinkJobs {
  /** Resolves once JetStream stored the job (PubAck); throws when it could not. */
  requestMagicLink(job: MagicLinkRequested): Promise<void>;
}

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

const MagicLinkBody = z.object({ email: Email });

export const registerAuthRoutes = (app: FastifyInstance, deps: AuthRoutesDeps) => {
  app.post('/auth/magic-link', { bodyLimit: 1024 }, async (request, reply) => {
    const parsed = MagicLinkBody.safeParse(request.body);
    if (!parsed.success) throw new HttpProblem('invalid_request', firstIssue(parsed.error));
    const { email } = parsed.data;

    const checks = magicLinkChecks(email, request.ip, deps.config.rateLimits);
    const decision = await deps.limiter.take(checks).catch((error: unknown) => {
      // The counters live in NATS: without them no request is let through unchecked.
      deps.log.error({ err: error instanceof Error ? error.message : String(error) }, 'rate limit store unavailable');
      throw new HttpProblem('service_unavailable', 'The request could not be checked; nothing was sent.');
    });
    if (!decision.allowed) {
      const { retryAfterSeconds } = decision;
      deps.log.warn({ scopes: decision.refused.map((i) => checks[i]!.scope), email, ip: request.ip, retryAfterSeconds }, 'magic link rate-limited');
      throw new HttpProblem('rate_limited', `Too many sign-in requests; retry in ${retryAfterSeconds} s.`, {
        'retry-after': String(retryAfterSeconds),
      });
    }

    try {
      await deps.jobs.requestMagicLink({ v: 1, email, requestedAt: new Date().toISOString() });
    } catch (error) {
      await decision.release().catch(() => undefined);
      deps.log.error({ err: error instanceof Error ? error.message : String(error) }, 'magic-link job not stored');
      throw new HttpProblem('service_unavailable', 'The request could not be queued; nothing was sent.');
    }
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
