import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance } from 'fastify';
import type { TrustProxy } from '#shared/config/trust-proxy';
import { createApp } from '#shared/http/create-app';
import type { Log } from '#shared/observability/logger';
import type { Metrics } from '#shared/observability/metrics';
import type { AuthClient } from './auth-client.ts';
import type { MagicLinkLimits } from '#shared/http/magic-link-limits';
import type { QuotaLimiter } from '#shared/http/rate-limit';
import { registerAuthRoutes, type MagicLinkJobs } from './routes/auth.ts';
import { registerOrderRoutes, type OrderRoutesDeps } from './routes/orders.ts';
import { createRequireSession } from './session.ts';

export interface AppDeps {
  jobs: MagicLinkJobs;
  auth: AuthClient;
  /** The shared counters of every limit (rate_limits bucket). */
  limiter: QuotaLimiter;
  isReady(): boolean;
  config: {
    publicUrl: string;
    appUrl: string;
    trustProxy: TrustProxy;
    rateLimits: MagicLinkLimits;
  };
  log: Log;
  /** Request metrics; absent in unit tests. */
  metrics?: Metrics;
  /** Orders and ticket downloads; main.ts always passes them, tests of other routes may not. */
  orders?: Omit<OrderRoutesDeps, 'requireSession' | 'limiter'>;
}

/** The gateway's public HTTP surface; it never listens, so tests drive it with `inject()`. */
export const buildApp = (deps: AppDeps): FastifyInstance => {
  const app = createApp({ bodyLimit: 64 * 1024, trustProxy: deps.config.trustProxy, isReady: deps.isReady, log: deps.log, metrics: deps.metrics, logRequests: true });
  // JSON only: a text body is a 415, not a string that fails validation later. (The sign-in
  // page's form post is parsed on POST /auth/verify alone: routes/verify.ts.)
  app.removeContentTypeParser('text/plain');
  void app.register(fastifyCookie);

  const secureCookies = new URL(deps.config.publicUrl).protocol === 'https:';
  const requireSession = createRequireSession({ auth: deps.auth, secureCookies });
  registerAuthRoutes(app, {
    jobs: deps.jobs,
    auth: deps.auth,
    limiter: deps.limiter,
    requireSession,
    config: { appUrl: deps.config.appUrl, publicUrl: deps.config.publicUrl, secureCookies, rateLimits: deps.config.rateLimits },
    log: deps.log,
  });
  if (deps.orders) registerOrderRoutes(app, { ...deps.orders, limiter: deps.limiter, requireSession });
  return app;
};
