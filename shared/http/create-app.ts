import Fastify, { type FastifyInstance } from 'fastify';
import type { TrustProxy } from '#shared/config/trust-proxy';
import type { Log } from '#shared/observability/logger';
import type { Metrics } from '#shared/observability/metrics';
import { createErrorHandler, sendProblem } from './errors.ts';
import { registerOperations } from './operations.ts';
import { HttpProblem } from './problems.ts';

export interface AppOptions {
  bodyLimit: number;
  /** Which proxies may name the client: none, a hop count, or their addresses/CIDRs. */
  trustProxy?: TrustProxy;
  isReady(): boolean;
  log: Log;
  metrics?: Metrics;
  /** One info line per request (method, route pattern, status, ms); never the URL, which may carry a token. */
  logRequests?: boolean;
}

/**
 * A fastify instance with what every Handoff HTTP service shares: problem+json for every error
 * (including those raised before routing, such as a malformed URL), a problem for unknown routes,
 * `/healthz` and `/readyz`, and request metrics. It never listens: the bootstrap does.
 */
export const createApp = (options: AppOptions): FastifyInstance => {
  const app = Fastify({
    logger: false,
    // A hop count as a function: fastify takes numbers at run time, its types do not.
    trustProxy: typeof options.trustProxy === 'number' ? ((_address: string, hop: number) => hop < (options.trustProxy as number)) : (options.trustProxy ?? false),
    bodyLimit: options.bodyLimit,
    // Errors raised before routing (`/orders/%ZZ`) skip the error handler; without this they
    // answer fastify's own application/json (found by the fuzz tests).
    frameworkErrors: (error, request, reply) => sendProblem(reply, request, new HttpProblem('bad_request', error.message)),
  });
  app.setErrorHandler(createErrorHandler(options.log));
  app.setNotFoundHandler((request, reply) => sendProblem(reply, request, new HttpProblem('not_found')));
  if (options.logRequests) {
    app.addHook('onResponse', async (request, reply) => {
      options.log.info(
        { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
        'request',
      );
    });
  }
  registerOperations(app, { isReady: options.isReady, metrics: options.metrics });
  return app;
};
