import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Log } from './logger.ts';

export interface HealthChecks {
  /** Ready to take work: connected to NATS, declarations ensured, not draining. */
  isReady(): boolean;
  /** Prometheus text exposition; absent → 404 on /metrics. */
  metrics?(): Promise<string>;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The small HTTP server a worker runs for probes and metrics: `/healthz` (the process answers),
 * `/readyz` (it can do its job), `/metrics`. HTTP services serve the same routes from their app.
 */
export const startHealthServer = async (options: { port: number; checks: HealthChecks; log: Log }): Promise<HealthServer> => {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (path === '/readyz') {
      const ready = options.checks.isReady();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ready }));
    } else if (path === '/metrics' && options.checks.metrics) {
      options.checks.metrics().then(
        (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"status":"not found"}');
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port, '0.0.0.0', resolve));
  const port = (server.address() as AddressInfo).port;
  options.log.info({ port }, 'health server listening');
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};
