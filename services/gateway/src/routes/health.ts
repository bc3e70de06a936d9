import type { FastifyInstance } from 'fastify';

/** Probes: `/healthz` (the process answers), `/readyz` (NATS connected and not draining). */
export const registerHealthRoutes = (app: FastifyInstance, deps: { isReady(): boolean }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = deps.isReady();
    return reply.code(ready ? 200 : 503).send({ ready });
  });
};
