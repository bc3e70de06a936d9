import { ShutdownError } from './errors.ts';
import { release } from './held.ts';
import { recordHandBack } from './replies.ts';
import { PULL_EXPIRES_MS, sleep, type RunnerState } from './runner-state.ts';

/** Resolves when every running attempt has finished, or with 'grace-over' after `graceMs`. */
const drainedWithin = async (drained: Promise<void>, graceMs: number) => {
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<'grace-over'>((resolve) => (timer = setTimeout(() => resolve('grace-over'), graceMs)));
  const first = await Promise.race([drained.then(() => 'drained' as const), graceOver]);
  clearTimeout(timer);
  return first;
};

/**
 * Grace, then hand back (saq's shutdown): stop pulling, let running attempts finish for `graceMs`,
 * then cancel the rest and hand them back, with every message taken but not started, so another
 * worker takes them at once. Hand-backs wait until this worker's last pull request has expired,
 * or a 2.9 server could deliver them straight back to it.
 */
/** How long a stopping runner waits for its hand-backs to be recorded. */
const HAND_BACK_RECORD_MS = 3_000;

export const stopRunner = async <T>(state: RunnerState<T>, graceMs: number): Promise<void> => {
  state.stopping = true;
  state.roomFreed?.();
  for (const m of state.waiting) release(state, m);
  state.handBack.push(...state.waiting.splice(0));
  await state.messages?.close().catch(() => undefined);
  state.closedAt = Date.now();
  if (state.running.size > 0) {
    const drained = new Promise<void>((resolve) => (state.idle = resolve));
    if ((await drainedWithin(drained, graceMs)) === 'grace-over') {
      await sleep(state.closedAt + PULL_EXPIRES_MS - Date.now());
      state.deps.log.warn({ job: state.job.name, inFlight: state.running.size }, 'grace period over; handing jobs back');
      for (const cancel of state.running.values()) cancel.cancel(new ShutdownError());
      await drained;
    }
  }
  if (state.handBack.length > 0) {
    const unrun = state.handBack.splice(0);
    // Bounded: with the broker away the log would keep trying, and a stopping worker must not wait for it.
    await Promise.race([Promise.all(unrun.map((m) => recordHandBack(state, m))), sleep(HAND_BACK_RECORD_MS)]);
    await sleep(state.closedAt + PULL_EXPIRES_MS - Date.now());
    for (const m of unrun) m.nak();
  }
};
