import fastifyCookie from '@fastify/cookie';
import type { FastifyInstance } from 'fastify';
import type { TrustProxy } from '#shared/config/trust-proxy';
import { createApp } from '#shared/http/create-app';
import type { PeekingRateLimiter } from '#shared/http/rate-limit';
import type { Log } from '#shared/observability/logger';
import type { Metrics } from '#shared/observability/metrics';
import type { AdminData } from './console-data.ts';
import type { OperatorSessions } from './operator-sessions.ts';
import { registerAdminRoutes } from './routes.ts';

export interface ConsoleAppDeps {
  data: AdminData;
  token: string;
  consoleUrl: string;
  trustProxy: TrustProxy;
  limiter: PeekingRateLimiter;
  sessions: OperatorSessions;
  isReady(): boolean;
  log: Log;
  metrics?: Metrics;
  /** How often the live view pushes a snapshot (default 2 s). */
  refreshMs?: number;
}

/** The operators' console; it never listens, so tests drive it with `inject()`. */
export const buildApp = (deps: ConsoleAppDeps): FastifyInstance => {
  const app = createApp({ bodyLimit: 16 * 1024, trustProxy: deps.trustProxy, isReady: deps.isReady, log: deps.log, metrics: deps.metrics, logRequests: true });
  void app.register(fastifyCookie);
  registerAdminRoutes(app, {
    data: deps.data,
    token: deps.token,
    publicUrl: deps.consoleUrl,
    secureCookies: new URL(deps.consoleUrl).protocol === 'https:',
    limiter: deps.limiter,
    sessions: deps.sessions,
    log: deps.log,
    refreshMs: deps.refreshMs,
  });
  return app;
};
