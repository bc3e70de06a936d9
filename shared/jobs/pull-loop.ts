import type { Consumer, JsMsg } from '@nats-io/jetstream';
import { errorMessage } from '#shared/observability/errors';
import { runAttempt } from './attempt.ts';
import { createCancel, type AttemptCancel } from './cancel.ts';
import { dropStale, hold, isStale, refillAt, refreshIfQuiet, release, roomOf } from './held.ts';
import { followPause, handBackForPause, untilRunning } from './pause.ts';
import { PULL_EXPIRES_MS, sleep, type RunnerState } from './runner-state.ts';

/** Runs one attempt, then frees its slot: one async function, no promise chain of closures per job. */
const attemptThenFree = async <T>(state: RunnerState<T>, m: JsMsg, cancel: AttemptCancel) => {
  try {
    await runAttempt(state, m, cancel);
  } catch (error) {
    // Only a bug in the runner gets here; the server redelivers after ack-wait.
    state.deps.log.error({ job: state.job.name, err: errorMessage(error) }, 'runner failed to handle a message');
  } finally {
    state.running.delete(m);
    release(state, m);
    pump(state);
    if (state.running.size === 0) state.idle?.();
  }
};

const dispatch = <T>(state: RunnerState<T>, m: JsMsg) => {
  const cancel = createCancel();
  state.running.set(m, cancel);
  void attemptThenFree(state, m, cancel);
};

/**
 * Starts waiting messages while there are free slots (never one gone stale while it waited, see
 * held.ts), and wakes the pull loop once there is room for another pull.
 */
export const pump = <T>(state: RunnerState<T>) => {
  const { job, running, waiting } = state;
  const now = Date.now();
  while (!state.stopping && running.size < job.concurrency && waiting.length > 0) {
    const m = waiting.shift()!;
    if (isStale(state, m, now)) dropStale(state, m, now);
    else {
      refreshIfQuiet(state, m, now);
      dispatch(state, m);
    }
  }
  if (roomOf(state) >= refillAt(state)) state.roomFreed?.();
};

const waitForRoom = async <T>(state: RunnerState<T>) => {
  while (roomOf(state) < refillAt(state) && !state.stopping && !state.paused) {
    await new Promise<void>((resolve) => (state.roomFreed = resolve));
  }
};

/** Missed idle heartbeats end a fetch (a starved process reads them late); the next pull is as good. */
const isMissedHeartbeats = (error: unknown) => error instanceof Error && /heartbeats missed/i.test(error.message);

const consumeLoop = async <T>(state: RunnerState<T>, consumer: Consumer) => {
  const unfollow = followPause(state);
  try {
    while (!state.stopping && !state.paused) {
      await waitForRoom(state);
      if (state.stopping || state.paused) break;
      // One pull for exactly the room left: whatever the server sends is held from its arrival
      // (an open-ended consume() would let messages queue in the client, their ack-wait running).
      const messages = await consumer.fetch({ max_messages: roomOf(state), expires: PULL_EXPIRES_MS });
      state.messages = messages;
      // stop() or a pause may have come while the pull was being set up; they closed the previous one only.
      if (state.stopping || state.paused) {
        await messages.close().catch(() => undefined);
        break;
      }
      await takeMessages(state, messages);
    }
  } finally {
    unfollow();
  }
  if (state.paused) await handBackForPause(state);
};

const takeMessages = async <T>(state: RunnerState<T>, messages: AsyncIterable<JsMsg>) => {
  try {
    for await (const m of messages) {
      if (state.stopping || state.paused) {
        state.handBack.push(m);
        continue;
      }
      hold(state, m, Date.now());
      pump(state);
    }
  } catch (error) {
    if (!isMissedHeartbeats(error)) throw error;
  }
};

const isMissingStream = (error: unknown) => error instanceof Error && /stream not found/i.test(error.message);

/**
 * Binds the consumer and consumes until stopped, binding again after any interruption (a deleted
 * consumer, a broker failover). A stream that does not exist yet (its owner has not started) is
 * waited for, not an error: services start in any order.
 */
export const supervise = async <T>(state: RunnerState<T>, bound: () => void): Promise<void> => {
  const { job, deps } = state;
  let waitingLogged = false;
  while (!state.stopping) {
    try {
      await untilRunning(state, bound);
      if (state.stopping) break;
      const consumer = await deps.bind();
      bound();
      if (state.stopping) break;
      waitingLogged = false;
      await consumeLoop(state, consumer);
    } catch (error) {
      if (state.stopping) break;
      if (isMissingStream(error)) {
        bound();
        if (!waitingLogged) deps.log.warn({ job: job.name, stream: job.stream }, 'waiting for the stream to be created by its owner');
        waitingLogged = true;
      } else {
        deps.log.warn({ job: job.name, err: errorMessage(error) }, 'consumer interrupted; resubscribing');
      }
    }
    if (!state.stopping) await sleep(500);
  }
  bound();
};
