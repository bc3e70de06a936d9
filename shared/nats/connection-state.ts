import type { NatsConnection } from '@nats-io/transport-node';

/**
 * Whether the connection can carry work right now, for readiness probes: false while it is
 * disconnected (the client is reconnecting), draining or closed.
 */
export const watchConnection = (nc: NatsConnection): { connected(): boolean } => {
  let up = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnecting') up = false;
      else if (status.type === 'reconnect') up = true;
    }
  })();
  return { connected: () => up && !nc.isClosed() && !nc.isDraining() };
};
