import { release } from './held.ts';
import { recordHandBack } from './replies.ts';
import { PULL_EXPIRES_MS, sleep, type RunnerState } from './runner-state.ts';

/**
 * The runtime's own pause (servers before 2.11 have no consumer pause): while the operators'
 * pause covers this runner's consumer, it does not pull. Attempts already running finish; messages
 * taken but not started go back at once (hand-backs: not attempts), after this worker's last pull
 * request has expired so a 2.9 server cannot hand them straight back to it. Nothing is lost, and
 * since a hand-back is redelivered before newer messages, the queue resumes in order.
 */

/** Resolves when the runner may pull: the pause state is known and no pause covers it (or it stops). */
export const untilRunning = async <T>(state: RunnerState<T>, started: () => void): Promise<void> => {
  const tracker = state.deps.pause;
  if (!tracker) return;
  await tracker.ready();
  if (!tracker.paused() || state.stopping) return;
  // A paused queue is a started worker: the service becomes ready and simply takes nothing.
  started();
  state.deps.log.warn({ job: state.job.name, stream: state.job.stream, consumer: state.job.consumer }, 'queue paused by the operators; not taking jobs');
  await new Promise<void>((resolve) => {
    const done = () => {
      off();
      clearInterval(timer);
      resolve();
    };
    const off = tracker.onChange((paused) => !paused && done());
    // Shutdown while paused must not wait for a resume.
    const timer = setInterval(() => (state.stopping || !tracker.paused()) && done(), 250);
  });
  if (!state.stopping) state.deps.log.info({ job: state.job.name }, 'queue resumed; taking jobs again');
};

/** Watches the pause while the runner consumes; a pause closes the pull iterator. Returns the unsubscribe. */
export const followPause = <T>(state: RunnerState<T>): (() => void) => {
  const tracker = state.deps.pause;
  if (!tracker) return () => undefined;
  const hold = () => {
    if (state.paused) return;
    state.paused = true;
    const unstarted = state.waiting.splice(0);
    for (const m of unstarted) release(state, m);
    state.handBack.push(...unstarted);
    state.roomFreed?.();
    void state.messages?.close().catch(() => undefined);
    state.closedAt = Date.now();
  };
  const off = tracker.onChange((paused) => paused && hold());
  // Paused between the check before binding and now: the change was already seen.
  if (tracker.paused()) hold();
  return off;
};

/** After the iterator closed for a pause: hand back what was taken but not started. */
export const handBackForPause = async <T>(state: RunnerState<T>): Promise<void> => {
  state.paused = false;
  if (state.stopping || state.handBack.length === 0) return;
  const unrun = state.handBack.splice(0);
  await Promise.all(unrun.map((m) => recordHandBack(state, m)));
  await sleep(state.closedAt + PULL_EXPIRES_MS - Date.now());
  for (const m of unrun) m.nak();
};
