import type { JobHandler, JobSpec } from './job.ts';
import { startKeepAlive } from './keep-alive.ts';
import { supervise } from './pull-loop.ts';
import { createRunnerState, type RunnerDeps } from './runner-state.ts';
import { stopRunner } from './shutdown.ts';

export type { RunnerDeps } from './runner-state.ts';

export interface JobRunner {
  readonly job: string;
  /** Attempts running now. */
  inFlight(): number;
  /**
   * Stops taking work, lets in-flight attempts finish for `graceMs`, then cancels the rest and
   * hands them back (nak without delay) so another worker takes them at once. Idempotent.
   */
  stop(graceMs: number): Promise<void>;
}

/**
 * Consumes `job` with `handler`: the pull loop (pull-loop.ts) takes messages, each runs as one
 * attempt (attempt.ts) whose reply the runner decides (decide.ts, replies.ts), the keep-alive
 * holds long attempts (keep-alive.ts), and stop() drains (shutdown.ts). Resolves once the consumer
 * is bound, or once its stream is known to be missing (it is then waited for).
 */
export const startJobRunner = async <T>(job: JobSpec<T>, handler: JobHandler<T>, deps: RunnerDeps): Promise<JobRunner> => {
  const state = createRunnerState(job, handler, deps);
  const stopKeepAlive = startKeepAlive(state);
  let bound!: () => void;
  const firstBind = new Promise<void>((resolve) => (bound = resolve));
  const supervised = supervise(state, bound);
  await firstBind;

  let stopped: Promise<void> | undefined;
  const stop = async (graceMs: number) => {
    await stopRunner(state, graceMs);
    await supervised;
    state.replies.flush();
    state.deadlines.stop();
    stopKeepAlive();
  };
  return {
    job: job.name,
    inFlight: () => state.running.size,
    stop: (graceMs) => (stopped ??= stop(graceMs)),
  };
};
