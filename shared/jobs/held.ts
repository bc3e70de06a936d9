import type { JsMsg } from '@nats-io/jetstream';
import { recordHandBack } from './replies.ts';
import type { RunnerState } from './runner-state.ts';

/**
 * What one runner holds: up to `concurrency` attempts running and as many again delivered and
 * waiting for a slot. The pull loop asks the server for exactly the room that is left, so every
 * message it is sent is held, and kept alive, from the moment it arrives: none waits unseen in a
 * client buffer while its ack-wait runs out and the server hands it to another worker.
 */
export const capacityOf = <T>(state: RunnerState<T>): number => state.job.concurrency * 2;

export const roomOf = <T>(state: RunnerState<T>): number => capacityOf(state) - state.running.size - state.waiting.length;

/** Pull again once this much room is free: a batch per pull, not one request per finished job. */
export const refillAt = <T>(state: RunnerState<T>): number => state.job.concurrency;

/**
 * Takes a message the moment it is read. Its ack timer started when the server sent it: if this
 * process was starved meanwhile it sat unread in the socket, so it counts as alive only since the
 * last time the process is known to have been responsive.
 */
export const hold = <T>(state: RunnerState<T>, m: JsMsg, now: number): void => {
  state.heldSince.set(m, now);
  state.aliveAt.set(m, Math.min(now, state.responsiveAt));
  state.waiting.push(m);
};

export const release = <T>(state: RunnerState<T>, m: JsMsg): void => {
  state.heldSince.delete(m);
  state.aliveAt.delete(m);
};

export const silentFor = <T>(state: RunnerState<T>, m: JsMsg, now: number): number => now - (state.aliveAt.get(m) ?? now);

/** How often the keep-alive resets the ack timers: three times per ack-wait. */
export const keepAliveEveryMs = <T>(state: RunnerState<T>): number => Math.max(250, Math.floor(state.job.ackWaitMs / 3));

/** Time for a `working()` to reach the server before the ack timer it resets runs out. */
export const leewayMs = <T>(state: RunnerState<T>): number => Math.max(100, Math.floor(state.job.ackWaitMs / 10));

/**
 * Silent for (nearly) its whole ack-wait: the server may already have handed it to another worker.
 * `aliveAt` is at the latest when the server's timer started, give or take one event-loop turn (a
 * message counts from the last time this process is known to have run, see `hold`), so a message
 * that is not stale has not been redelivered. Only then: under heavy load a stricter rule would
 * drop messages nobody else has.
 */
export const isStale = <T>(state: RunnerState<T>, m: JsMsg, now: number): boolean => silentFor(state, m, now) >= state.job.ackWaitMs - leewayMs(state);

/**
 * A message about to start that has been silent for more than a keep-alive period is kept alive
 * at once: the next tick could come after its ack-wait.
 */
export const refreshIfQuiet = <T>(state: RunnerState<T>, m: JsMsg, now: number): void => {
  if (silentFor(state, m, now) <= keepAliveEveryMs(state)) return;
  m.working();
  state.aliveAt.set(m, now);
};

/**
 * Lets go of a waiting message without running or answering it: the server redelivers it when its
 * ack-wait ends (perhaps already has). Starting it instead could run it beside the worker that got
 * it next. The delivery is recorded as a hand-back, so it does not count as an attempt.
 */
export const dropStale = <T>(state: RunnerState<T>, m: JsMsg, now: number): void => {
  state.deps.log.warn(
    { job: state.job.name, streamSeq: m.seq, deliveries: m.info.deliveryCount, silentMs: silentFor(state, m, now), ackWaitMs: state.job.ackWaitMs },
    'message not started: its ack wait ran out while it waited for a slot; left for redelivery',
  );
  release(state, m);
  void recordHandBack(state, m);
};
