import type { JsMsg } from '@nats-io/jetstream';
import { dropStale, isStale, keepAliveEveryMs, leewayMs, silentFor } from './held.ts';
import { pump } from './pull-loop.ts';
import type { RunnerState } from './runner-state.ts';

const keepAlive = <T>(state: RunnerState<T>, m: JsMsg, now: number, holdLimitMs: number) => {
  const { job, deps } = state;
  const heldMs = now - (state.heldSince.get(m) ?? now);
  if (heldMs > holdLimitMs) {
    if (!state.overdue.has(m)) {
      state.overdue.add(m);
      deps.log.error({ job: job.name, streamSeq: m.seq, heldMs }, 'message held past its timeout; no longer kept alive, the server will redeliver it');
    }
    return;
  }
  const silentMs = silentFor(state, m, now);
  if (silentMs >= job.ackWaitMs) {
    // The process was starved past the ack-wait: another worker may be running this job too.
    deps.log.warn({ job: job.name, streamSeq: m.seq, deliveries: m.info.deliveryCount, silentMs, ackWaitMs: job.ackWaitMs }, 'kept alive too late: the server may have redelivered a running job');
  }
  m.working();
  state.aliveAt.set(m, now);
};

/**
 * One timer for every message the runner holds: `working()` resets each message's ack timer, so
 * a job waiting for a slot or running longer than ack-wait is not redelivered meanwhile.
 *
 * A message is kept alive only for as long as the job's own timing allows: held past its timeout
 * plus one ack-wait, this process is stuck on it (a lost promise, a wedged connection). It then
 * stops being kept alive, so the server redelivers it to a worker that can finish it: nothing is
 * held for ever by a process that still looks healthy. A waiting message the timer reaches too
 * late (a starved process) is dropped instead of revived (held.ts). Returns the stop function.
 */
export const startKeepAlive = <T>(state: RunnerState<T>): (() => void) => {
  const { job } = state;
  const holdLimitMs = job.timeoutMs + job.ackWaitMs;
  const everyMs = keepAliveEveryMs(state);
  let tickAt = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    // A late tick means the event loop stalled: it was last known to run at the previous tick.
    state.responsiveAt = now - tickAt > everyMs + leewayMs(state) ? tickAt : now;
    tickAt = now;
    for (const m of state.running.keys()) keepAlive(state, m, now, holdLimitMs);
    if (state.waiting.some((m) => isStale(state, m, now))) {
      const stale = state.waiting.filter((m) => isStale(state, m, now));
      state.waiting.splice(0, state.waiting.length, ...state.waiting.filter((m) => !stale.includes(m)));
      for (const m of stale) dropStale(state, m, now);
      pump(state);
    }
    for (const m of state.waiting) keepAlive(state, m, now, holdLimitMs);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
};
