import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { z } from 'zod';
import { Email, type MagicLinkRequested, type SessionView } from '#shared/contracts/auth';
import type { Log } from '#shared/observability/logger';
import type { AuthClient } from '../auth-client.ts';
import { HttpProblem } from '#shared/http/problems';
import { firstIssue } from '#shared/http/zod-issues';
import type { RateLimiter, RateRule } from '#shared/http/rate-limit';
import { SESSION_COOKIE, sessionCookieOptions, sessionOf } from '../session.ts';

export interface MagicLinkJobs {
  /** Resolves once JetStream stored the job (PubAck); throws when it could not. */
  requestMagicLink(job: MagicLinkRequested): Promise<void>;
}

export interface AuthRoutesDeps {
  jobs: MagicLinkJobs;
  auth: AuthClient;
  limiter: RateLimiter;
  requireSession: preHandlerAsyncHookHandler;
  config: {
    appUrl: string;
    secureCookies: boolean;
    rateLimits: { email: RateRule; ip: RateRule };
  };
  log: Log;
}

/** One body for known and unknown addresses alike: the answer must not reveal who has an account. */
export const MAGIC_LINK_ACCEPTED = {
  status: 'accepted',
  message: 'If an account exists for this address, a sign-in link is on its way.',
} as const;

const MagicLinkBody = z.object({ email: Email });
const VerifyQuery = z.object({ token: z.string().min(16).max(256) });


const userView = (session: SessionView) => ({
  user: { id: session.user.id, email: session.user.email, ...(session.user.name ? { name: session.user.name } : {}) },
  expiresAt: session.expiresAt,
});

export const registerAuthRoutes = (app: FastifyInstance, deps: AuthRoutesDeps) => {
  app.post('/auth/magic-link', { bodyLimit: 1024 }, async (request, reply) => {
    const parsed = MagicLinkBody.safeParse(request.body);
    if (!parsed.success) throw new HttpProblem('invalid_request', firstIssue(parsed.error));
    const { email } = parsed.data;

    // Both limits are checked at once (two KV round trips in parallel, not in sequence).
    const checks = [
      ['ip', request.ip, deps.config.rateLimits.ip],
      ['email', email, deps.config.rateLimits.email],
    ] as const;
    const decisions = await Promise.all(checks.map(([scope, subject, rule]) => deps.limiter.hit(scope, subject, rule))).catch((error: unknown) => {
      // The counters live in NATS: without them no request is let through unchecked.
      deps.log.error({ err: error instanceof Error ? error.message : String(error) }, 'rate limit store unavailable');
      throw new HttpProblem('service_unavailable', 'The request could not be checked; nothing was sent.');
    });
    const refused = decisions.flatMap((d, i) => (d.allowed ? [] : [{ scope: checks[i]![0], retryAfterSeconds: d.retryAfterSeconds }]));
    if (refused.length > 0) {
      const retryAfterSeconds = Math.max(...refused.map((r) => r.retryAfterSeconds));
      deps.log.warn({ scopes: refused.map((r) => r.scope), email, ip: request.ip, retryAfterSeconds }, 'magic link rate-limited');
      throw new HttpProblem('rate_limited', `Too many sign-in requests; retry in ${retryAfterSeconds} s.`, {
        'retry-after': String(retryAfterSeconds),
      });
    }

    try {
      await deps.jobs.requestMagicLink({ v: 1, email, requestedAt: new Date().toISOString() });
    } catch (error) {
      deps.log.error({ err: error instanceof Error ? error.message : String(error) }, 'magic-link job not stored');
      throw new HttpProblem('service_unavailable', 'The request could not be queued; nothing was sent.');
    }
    return reply.code(202).send(MAGIC_LINK_ACCEPTED);
  });

  app.get('/auth/verify', async (request, reply) => {
    // The token sits in the URL: keep it out of caches and of the Referer of the next page.
    reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
    const parsed = VerifyQuery.safeParse(request.query);
    if (!parsed.success) throw new HttpProblem('token_invalid', 'The link has no valid token.');
    const result = await deps.auth.verifyToken(parsed.data.token);
    if (!result.ok) {
      const code = result.code === 'token_expired' || result.code === 'token_used' ? result.code : 'token_invalid';
      throw new HttpProblem(code, result.message);
    }
    reply.setCookie(SESSION_COOKIE, result.sessionId, {
      ...sessionCookieOptions(deps.config.secureCookies),
      expires: new Date(result.session.expiresAt),
    });
    if (request.headers.accept?.includes('application/json')) return reply.code(200).send(userView(result.session));
    return reply.redirect(deps.config.appUrl, 303);
  });

  app.get('/me', { preHandler: deps.requireSession }, async (request) => userView(sessionOf(request)));

  app.post('/auth/logout', async (request, reply) => {
    const sessionId = request.cookies[SESSION_COOKIE];
    if (sessionId) await deps.auth.endSession(sessionId);
    reply.clearCookie(SESSION_COOKIE, sessionCookieOptions(deps.config.secureCookies));
    return reply.code(204).send();
  });
};
