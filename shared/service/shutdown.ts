import type { Log } from '#shared/observability/logger';
import { flushTraces } from '#shared/observability/tracing';

/**
 * SIGTERM/SIGINT → run `drain` once, then exit 0 (1 if draining failed or outlived `deadlineMs`).
 * A second signal while draining exits at once: an operator pressing Ctrl-C twice means it.
 */
export const installShutdown = (
  drain: () => Promise<void>,
  log: Log,
  options: { deadlineMs?: number; proc?: NodeJS.Process } = {},
) => {
  const proc = options.proc ?? process;
  const deadlineMs = options.deadlineMs ?? 60_000;
  let draining = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (draining) {
      log.warn({ signal }, 'second signal: exiting now');
      proc.exit(1);
    }
    draining = true;
    log.info({ signal }, 'shutting down: draining in-flight work');
    // A drain that hangs (a broker that never answers) must not keep the process from exiting:
    // whatever was not acknowledged is redelivered after ack-wait.
    setTimeout(() => {
      log.error({ deadlineMs }, 'shutdown took too long; exiting');
      proc.exit(1);
    }, deadlineMs).unref();
    // Buffered spans are exported before the exit, whether draining worked or not.
    drain()
      .finally(() => flushTraces())
      .then(
        () => {
          log.info({}, 'shutdown complete');
          proc.exit(0);
        },
        (error: unknown) => {
          log.error({ err: error instanceof Error ? error.message : String(error) }, 'shutdown failed');
          proc.exit(1);
        },
      );
  };
  proc.on('SIGTERM', onSignal);
  proc.on('SIGINT', onSignal);
};
