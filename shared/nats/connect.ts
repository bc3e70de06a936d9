import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Log } from '#shared/observability/logger';

export interface ConnectOptions {
  /** One URL or a comma-separated list (cluster seeds). */
  url: string;
  /** Connection name shown in the server's monitoring: the service name. */
  name: string;
  user?: string;
  password?: string;
  /** Prefix of this connection's reply subjects; default `_INBOX_<name>` (see below). */
  inboxPrefix?: string;
  log: Log;
}

/**
 * Each service gets its own inbox prefix so the server's per-user permissions
 * (deploy/nats/accounts.conf) can let it subscribe to its own replies only: no service can read
 * another's replies (session lookups, PubAcks) by subscribing to `_INBOX.>`.
 */
export const defaultInboxPrefix = (name: string): string => `_INBOX_${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;

/**
 * Connects and keeps reconnecting forever: a worker that gives up after a broker failover is one
 * of the anchors' best-known failures. Status changes are logged so an operator sees outages.
 */
export const connectNats = async (options: ConnectOptions): Promise<NatsConnection> => {
  const nc = await connect({
    servers: options.url.split(',').map((s) => s.trim()),
    name: options.name,
    user: options.user,
    pass: options.password,
    inboxPrefix: options.inboxPrefix ?? defaultInboxPrefix(options.name),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 250,
    waitOnFirstConnect: true,
    pingInterval: 10_000,
    // Each request would otherwise build two Error objects just to keep an async stack trace, a
    // large share of a busy gateway's CPU.
    noAsyncTraces: true,
  });
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'ping' || status.type === 'reconnecting') continue;
      const level = status.type === 'disconnect' || status.type === 'error' ? 'warn' : 'info';
      const { type, ...rest } = status as { type: string } & Record<string, unknown>;
      options.log[level]({ nats: type, ...safeStatus(rest) }, `nats ${type}`);
    }
  })();
  options.log.info({ server: nc.getServer() }, 'nats connected');
  return nc;
};

const safeStatus = (rest: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    out[key] = value instanceof Error ? value.message : value;
  }
  return out;
};
