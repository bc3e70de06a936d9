import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance } from 'fastify';
import type { TrustProxy } from '#shared/config/trust-proxy';
import { createApp } from '#shared/http/create-app';
import type { Log } from '#shared/observability/logger';
import type { Metrics } from '#shared/observability/metrics';
import type { MagicLinkLimits } from '#shared/http/magic-link-limits';
import type { QuotaLimiter, RateRule } from '#shared/http/rate-limit';
import type { ObjectReader } from '#shared/nats/object-reader';
import type { RpcClient } from '#shared/nats/rpc';
import type { AuthClient } from './auth-client.ts';
import { createMagicLinkRequests } from './magic-links.ts';
import { createOrderActions } from './order-actions.ts';
import type { OrderWatch } from './order-watch.ts';
import { registerAuthRoutes, type MagicLinkJobs } from './routes/auth.ts';
import { registerOrderEvents } from './routes/order-events.ts';
import { registerOrderRoutes } from './routes/orders.ts';
import { registerPageRoutes } from './routes/pages.ts';
import { createRequireSession } from './session.ts';

export interface AppDeps {
  jobs: MagicLinkJobs;
  auth: AuthClient;
  /** The shared counters of every limit (rate_limits bucket). */
  limiter: QuotaLimiter;
  /**
   * The counters of sign-in requests, when not `limiter`: main.ts passes this replica's in-memory
   * ones (no round trip), the auth worker's shared counters bound the mail across replicas.
   */
  magicLinkLimiter?: QuotaLimiter;
  isReady(): boolean;
  config: {
    publicUrl: string;
    appUrl: string;
    trustProxy: TrustProxy;
    rateLimits: MagicLinkLimits;
    /** The payment provider's hosted checkout, where the buyer page sends a buyer to pay. */
    checkoutUrl?: string;
  };
  log: Log;
  /** Request metrics; absent in unit tests. */
  metrics?: Metrics;
  /** Orders and ticket downloads; main.ts always passes them, tests of other routes may not. */
  orders?: {
    /** Request/reply to ticketing, the owner of orders. */
    rpc: Pick<RpcClient, 'call'>;
    tickets: ObjectReader;
    /** Orders one user may create per window. */
    orderLimit: RateRule;
    /** Live order views (GET /orders/:id/events): the process's one feed of order changes. */
    live?: { watch: OrderWatch; maxPerUser: number; heartbeatMs: number };
  };
}

/** Where the dev payment provider of `npm start` takes checkouts (PAYMENT_CHECKOUT_URL's default). */
export const DEV_CHECKOUT_URL = 'http://localhost:3003/checkout';

/**
 * Every response that sets no policy of its own gets one that allows nothing: a JSON body or a
 * PDF opened in a browser can run nothing and be framed nowhere.
 */
const DEFAULT_HEADERS = { 'content-security-policy': "default-src 'none'; frame-ancestors 'none'", 'x-content-type-options': 'nosniff' } as const;

/** The gateway's public HTTP surface; it never listens, so tests drive it with `inject()`. */
export const buildApp = (deps: AppDeps): FastifyInstance => {
  const app = createApp({ bodyLimit: 64 * 1024, trustProxy: deps.config.trustProxy, isReady: deps.isReady, log: deps.log, metrics: deps.metrics, logRequests: true });
  // JSON only: a text body is a 415, not a string that fails validation later. (The sign-in
  // page's form post is parsed on POST /auth/verify alone: routes/verify.ts; the buyer page's
  // forms in their own scope: routes/pages.ts.)
  app.removeContentTypeParser('text/plain');
  void app.register(fastifyCookie);
  app.addHook('onSend', async (_request, reply) => {
    for (const [name, value] of Object.entries(DEFAULT_HEADERS)) if (!reply.hasHeader(name)) reply.header(name, value);
  });

  const secureCookies = new URL(deps.config.publicUrl).protocol === 'https:';
  const requireSession = createRequireSession({ auth: deps.auth, secureCookies });
  const authDeps = {
    jobs: deps.jobs,
    auth: deps.auth,
    limiter: deps.magicLinkLimiter ?? deps.limiter,
    requireSession,
    config: { appUrl: deps.config.appUrl, publicUrl: deps.config.publicUrl, secureCookies, rateLimits: deps.config.rateLimits },
    log: deps.log,
  };
  registerAuthRoutes(app, authDeps);
  const actions = deps.orders && createOrderActions({ rpc: deps.orders.rpc, limiter: deps.limiter, orderLimit: deps.orders.orderLimit });
  if (deps.orders && actions) {
    registerOrderRoutes(app, { actions, tickets: deps.orders.tickets, requireSession });
    const live = deps.orders.live;
    if (live) registerOrderEvents(app, { actions, watch: live.watch, requireSession, maxPerUser: live.maxPerUser, heartbeatMs: live.heartbeatMs, log: deps.log });
  }
  registerPageRoutes(app, {
    auth: deps.auth,
    magicLinks: createMagicLinkRequests(authDeps),
    orders: actions,
    config: { publicUrl: deps.config.publicUrl, checkoutUrl: deps.config.checkoutUrl ?? DEV_CHECKOUT_URL, secureCookies },
  });
  return app;
};
