import fastifyCookie from '@fastify/cookie';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerOperations } from '#shared/http/operations';
import type { Log } from '#shared/observability/logger';
import type { Metrics } from '#shared/observability/metrics';
import type { AuthClient } from './auth-client.ts';
import type { AdminData } from './admin/data.ts';
import { registerAdminRoutes } from './admin/routes.ts';
import { createErrorHandler, HttpProblem, sendProblem } from './errors.ts';
import type { RateLimiter, RateRule } from './rate-limit.ts';
import { registerAuthRoutes, type MagicLinkJobs } from './routes/auth.ts';
import { registerOrderRoutes, type OrderRoutesDeps } from './routes/orders.ts';
import { createRequireSession } from './session.ts';

export interface AppDeps {
  jobs: MagicLinkJobs;
  auth: AuthClient;
  limiter: RateLimiter;
  isReady(): boolean;
  config: {
    publicUrl: string;
    appUrl: string;
    trustProxy: boolean;
    rateLimits: { email: RateRule; ip: RateRule };
  };
  log: Log;
  /** Request metrics and `/metrics`; absent in unit tests. */
  metrics?: Metrics;
  /** Orders and ticket downloads; main.ts always passes them, tests of other routes may not. */
  orders?: Omit<OrderRoutesDeps, 'requireSession'>;
  /** The /admin dashboard; absent (ADMIN_TOKEN unset) → every /admin path is a 404. */
  admin?: { token: string; data: AdminData; refreshMs?: number };
}

/** The gateway's HTTP surface; it never listens, so tests drive it with `inject()`. */
export const buildApp = (deps: AppDeps): FastifyInstance => {
  const app = Fastify({
    logger: false,
    trustProxy: deps.config.trustProxy,
    bodyLimit: 64 * 1024,
    // Errors raised before routing (a malformed URL such as `/orders/%ZZ`) skip the error handler;
    // without this they answer fastify's own application/json (found by test/fuzz/gateway.fuzz.test.ts).
    frameworkErrors: (error, request, reply) => sendProblem(reply, request, new HttpProblem('bad_request', error.message)),
  });
  // JSON only: a form post or text body is a 415, not a string that fails validation later.
  app.removeContentTypeParser('text/plain');
  void app.register(fastifyCookie);
  app.setErrorHandler(createErrorHandler(deps.log));
  app.setNotFoundHandler((request, reply) => sendProblem(reply, request, new HttpProblem('not_found')));

  // fastify's request log would print URLs, and /auth/verify carries a token in its query.
  app.addHook('onResponse', async (request, reply) => {
    deps.log.info(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });

  const secureCookies = new URL(deps.config.publicUrl).protocol === 'https:';
  const requireSession = createRequireSession({ auth: deps.auth, secureCookies });
  registerOperations(app, { isReady: deps.isReady, metrics: deps.metrics });
  registerAuthRoutes(app, {
    jobs: deps.jobs,
    auth: deps.auth,
    limiter: deps.limiter,
    requireSession,
    config: { appUrl: deps.config.appUrl, secureCookies, rateLimits: deps.config.rateLimits },
    log: deps.log,
  });
  if (deps.orders) registerOrderRoutes(app, { ...deps.orders, requireSession });
  if (deps.admin) registerAdminRoutes(app, { ...deps.admin, publicUrl: deps.config.publicUrl, secureCookies, limiter: deps.limiter, log: deps.log });
  return app;
};
