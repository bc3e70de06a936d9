import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Publisher } from '#shared/nats/publish';
import type { ServerFeatures } from '#shared/nats/server-features';
import type { Log } from '#shared/observability/logger';
import type { AttemptLog } from './attempt-log.ts';
import type { AttemptCancel } from './cancel.ts';
import { createDeadlines, type Deadlines } from './deadlines.ts';
import { JobTimeoutError } from './errors.ts';
import type { DeadLetterRecord } from './dead-letter.ts';
import type { JobHandler, JobSpec } from './job.ts';
import type { PauseTracker } from './pause-watch.ts';
import { noopObserver, type RunnerObserver } from './observer.ts';
import { createReplyQueue, type ReplyQueue } from './reply-queue.ts';

export interface RunnerDeps {
  /** Binds the job's durable consumer (ensuring it); rejects while its stream does not exist. */
  bind(): Promise<Consumer>;
  publisher: Publisher;
  attempts: AttemptLog;
  log: Log;
  observer?: RunnerObserver;
  /** Called after a dead letter is stored (e.g. mark the order failed). Errors are logged, not retried. */
  onDeadLetter?: (record: DeadLetterRecord) => Promise<void>;
  /** What the server the connection is on now offers (term with a reason); default: the floor's (2.9). */
  server?: () => Pick<ServerFeatures, 'termReason'>;
  random?: () => number;
  /** The operators' runtime pause of this consumer (servers before 2.11); absent: never paused here. */
  pause?: PauseTracker;
}

/**
 * Everything one runner tracks, in one object that each step of the runtime receives: the pull
 * loop fills `waiting`, attempts move through `running`, the keep-alive walks both, shutdown
 * drains them.
 */
export interface RunnerState<T = unknown> {
  readonly job: JobSpec<T>;
  readonly handler: JobHandler<T>;
  readonly deps: RunnerDeps;
  readonly observer: RunnerObserver;
  readonly random: () => number;
  /** Attempts running now, with their cancellation. */
  readonly running: Map<JsMsg, AttemptCancel>;
  /** Every running attempt's timeout, on one timer (deadlines.ts). */
  readonly deadlines: Deadlines;
  /**
   * Delivered but not started yet (at most `concurrency`, see held.ts): every message the server
   * hands this runner lands here the moment it arrives, so it is kept alive from arrival and
   * handed back at once on shutdown.
   */
  readonly waiting: JsMsg[];
  /** When each held message arrived, for the keep-alive's limit. */
  readonly heldSince: Map<JsMsg, number>;
  /**
   * When the server's ack timer of each held message last started (its arrival, then every
   * `working()`): a message silent for most of its ack-wait may already be another worker's.
   */
  readonly aliveAt: Map<JsMsg, number>;
  /**
   * The last time this process is known to have been running its event loop (the keep-alive's
   * last punctual tick): a message read now may have waited in the socket since then.
   */
  responsiveAt: number;
  /** Held past their limit: no longer kept alive (logged once each). */
  readonly overdue: WeakSet<JsMsg>;
  /** Delivered after stop() began: handed back unrun. */
  readonly handBack: JsMsg[];
  readonly replies: ReplyQueue;
  stopping: boolean;
  /** The iterator was closed for an operators' pause; messages still arriving are handed back. */
  paused: boolean;
  /** When the pull iterator was closed: hand-backs wait for its last pull request to expire. */
  closedAt: number;
  messages: ConsumerMessages | undefined;
  /** Wakes the pull loop when there is room for another pull. */
  roomFreed: (() => void) | undefined;
  /** Wakes shutdown when the last attempt finishes. */
  idle: (() => void) | undefined;
}

export const createRunnerState = <T>(job: JobSpec<T>, handler: JobHandler<T>, deps: RunnerDeps): RunnerState<T> => ({
  job,
  handler,
  deps,
  observer: deps.observer ?? noopObserver,
  random: deps.random ?? Math.random,
  running: new Map(),
  deadlines: createDeadlines(job.timeoutMs, (cancel) => cancel.cancel(new JobTimeoutError(job.timeoutMs))),
  waiting: [],
  heldSince: new Map(),
  aliveAt: new Map(),
  responsiveAt: Date.now(),
  overdue: new WeakSet(),
  handBack: [],
  replies: createReplyQueue(),
  stopping: false,
  paused: false,
  closedAt: 0,
  messages: undefined,
  roomFreed: undefined,
  idle: undefined,
});

/**
 * Lifetime of each pull request. A worker that stops (or dies) leaves its last pull request on the
 * server until it expires, and 2.9 may hand a message to it, which then waits out ack-wait. Short
 * pulls bound that window, and shutdown hands jobs back only after its last pull has expired.
 */
export const PULL_EXPIRES_MS = 2_000;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
