import type { Consumer, JsMsg } from '@nats-io/jetstream';
import { errorMessage } from '#shared/observability/errors';
import { runAttempt } from './attempt.ts';
import { createCancel } from './cancel.ts';
import { followPause, handBackForPause, untilRunning } from './pause.ts';
import { PULL_EXPIRES_MS, sleep, type RunnerState } from './runner-state.ts';

const dispatch = <T>(state: RunnerState<T>, m: JsMsg) => {
  const cancel = createCancel();
  state.running.set(m, cancel);
  runAttempt(state, m, cancel)
    .catch((error: unknown) => {
      // Only a bug in the runner gets here; the server redelivers after ack-wait.
      state.deps.log.error({ job: state.job.name, err: errorMessage(error) }, 'runner failed to handle a message');
    })
    .finally(() => {
      state.running.delete(m);
      state.heldSince.delete(m);
      pump(state);
      if (state.running.size === 0) state.idle?.();
    });
};

/** Starts waiting messages while there are free slots, and wakes the pull loop when room frees up. */
export const pump = <T>(state: RunnerState<T>) => {
  const { job, running, waiting } = state;
  while (!state.stopping && running.size < job.concurrency && waiting.length > 0) dispatch(state, waiting.shift()!);
  if (waiting.length < job.concurrency) state.roomFreed?.();
};

const waitForRoom = async <T>(state: RunnerState<T>) => {
  while (state.waiting.length >= state.job.concurrency && !state.stopping) {
    await new Promise<void>((resolve) => (state.roomFreed = resolve));
  }
};

const consumeLoop = async <T>(state: RunnerState<T>, consumer: Consumer) => {
  // The iterator pulls more only as we take messages from it, so what the client holds (whose
  // ack timers run) stays near twice the concurrency: running, waiting, and one pull batch.
  const messages = await consumer.consume({ max_messages: Math.max(1, state.job.concurrency), expires: PULL_EXPIRES_MS });
  state.messages = messages;
  // stop() may have run while consume() was being set up; it closed the previous iterator only.
  if (state.stopping) {
    await messages.close().catch(() => undefined);
    return;
  }
  const unfollow = followPause(state);
  try {
    await takeMessages(state, messages);
  } finally {
    unfollow();
  }
  if (state.paused) await handBackForPause(state);
};

const takeMessages = async <T>(state: RunnerState<T>, messages: AsyncIterable<JsMsg>) => {
  for await (const m of messages) {
    if (state.stopping || state.paused) {
      state.handBack.push(m);
      continue;
    }
    state.heldSince.set(m, Date.now());
    state.waiting.push(m);
    pump(state);
    if (state.waiting.length >= state.job.concurrency) await waitForRoom(state);
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
