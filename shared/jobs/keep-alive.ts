import type { RunnerState } from './runner-state.ts';

/**
 * One timer for every attempt running or waiting: `working()` resets each message's ack timer, so
 * a job that runs longer than ack-wait is not redelivered while it is still being worked on.
 *
 * A message is kept alive only for as long as the job's own timing allows: held past its timeout
 * plus one ack-wait, this process is stuck on it (a lost promise, a wedged connection). It then
 * stops being kept alive, so the server redelivers it to a worker that can finish it: nothing is
 * held for ever by a process that still looks healthy. Returns the function that stops the timer.
 */
export const startKeepAlive = <T>(state: RunnerState<T>): (() => void) => {
  const { job, deps } = state;
  const holdLimitMs = job.timeoutMs + job.ackWaitMs;
  const timer = setInterval(() => {
    const now = Date.now();
    for (const m of [...state.running.keys(), ...state.waiting]) {
      const heldMs = now - (state.heldSince.get(m) ?? now);
      if (heldMs <= holdLimitMs) m.working();
      else if (!state.overdue.has(m)) {
        state.overdue.add(m);
        deps.log.error({ job: job.name, streamSeq: m.seq, heldMs }, 'message held past its timeout; no longer kept alive, the server will redeliver it');
      }
    }
  }, Math.max(250, Math.floor(job.ackWaitMs / 3)));
  timer.unref();
  return () => clearInterval(timer);
};
