import type { FastifyInstance } from 'fastify';
import type { Metrics } from '#shared/observability/metrics';

/**
 * Probes and request metrics for an HTTP service: `/healthz` (alive), `/readyz` (connected to
 * NATS, not draining). `/metrics` is served only on the internal health port (see
 * shared/observability/health.ts), never on a public one. Requests are counted by route pattern,
 * never by raw URL, so ids do not explode the label space.
 */
export const registerOperations = (app: FastifyInstance, deps: { metrics?: Metrics; isReady: () => boolean }): void => {
  app.addHook('onResponse', async (request, reply) => {
    if (!deps.metrics) return;
    const labels = { route: request.routeOptions.url ?? 'unmatched', method: request.method };
    deps.metrics.http.requests.inc({ ...labels, status: String(reply.statusCode) });
    deps.metrics.http.duration.observe(labels, reply.elapsedTime / 1000);
  });
  app.get('/healthz', { config: { otel: false } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { otel: false } }, async (_request, reply) => {
    const ready = deps.isReady();
    return reply.code(ready ? 200 : 503).send({ ready });
  });
};
