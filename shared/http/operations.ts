import type { FastifyInstance } from 'fastify';
import type { Metrics } from '#shared/observability/metrics';

/**
 * Operational routes and request metrics for an HTTP service: `/healthz` (alive), `/readyz`
 * (connected to NATS with its declarations ensured, not draining), `/metrics` (Prometheus text).
 * Requests are counted by route pattern, never by raw URL, so ids do not explode the label space.
 */
export const registerOperations = (
  app: FastifyInstance,
  deps: { metrics?: Metrics; isReady: () => boolean },
): void => {
  app.addHook('onResponse', async (request, reply) => {
    if (!deps.metrics) return;
    const route = request.routeOptions.url ?? 'unmatched';
    if (route === '/metrics') return;
    const labels = { route, method: request.method };
    deps.metrics.http.requests.inc({ ...labels, status: String(reply.statusCode) });
    deps.metrics.http.duration.observe(labels, reply.elapsedTime / 1000);
  });
  app.get('/healthz', { config: { otel: false } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { otel: false } }, async (_request, reply) => {
    const ready = deps.isReady();
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  if (deps.metrics) {
    const metrics = deps.metrics;
    app.get('/metrics', { config: { otel: false } }, async (_request, reply) =>
      reply.type('text/plain; version=0.0.4; charset=utf-8').send(await metrics.render()),
    );
  }
};
