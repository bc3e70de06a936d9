import type { AttemptCancel } from './cancel.ts';

/**
 * Every attempt's timeout on one timer. Attempts of a runner share one `timeoutMs`, so deadlines
 * are armed in the order they fall due: a FIFO queue, and one timer set for the oldest deadline,
 * replace a `setTimeout` (a timer object, a closure and an insert/remove in Node's timer lists)
 * per job. A disarmed attempt stays in the queue until it reaches the head or a compaction; the
 * timer, when it fires, cancels what is due and is set again for the new head — about once per
 * `timeoutMs` under steady load, not once per job.
 */
export interface Deadlines {
  arm(cancel: AttemptCancel): void;
  disarm(cancel: AttemptCancel): void;
  /** Attempts armed now. */
  armed(): number;
  /** Entries the queue keeps, armed or not (bounded: see SLACK). */
  queued(): number;
  stop(): void;
}

/** Compact when disarmed entries outnumber the armed ones by this much (one slow attempt at the head). */
const SLACK = 256;

/**
 * `expire` runs for each attempt whose deadline passed while armed. `now` is monotonic by default:
 * a wall clock stepping back would break the queue's order.
 */
export const createDeadlines = (timeoutMs: number, expire: (cancel: AttemptCancel) => void, now: () => number = () => performance.now()): Deadlines => {
  let queue: AttemptCancel[] = [];
  let head = 0;
  let live = 0;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;

  const dropDisarmedHead = () => {
    while (head < queue.length && !queue[head]!.armed) head++;
    if (head === queue.length) {
      queue = [];
      head = 0;
    } else if (head > SLACK && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
  };

  const schedule = () => {
    const next = queue[head];
    if (!next || next.deadline >= timerAt) return;
    if (timer) clearTimeout(timer);
    timerAt = next.deadline;
    timer = setTimeout(fire, Math.max(0, next.deadline - now()));
    // The attempt's own work keeps the process alive; a pending timeout must not.
    timer.unref();
  };

  const fire = () => {
    timer = undefined;
    timerAt = Infinity;
    const at = now();
    while (head < queue.length) {
      const c = queue[head]!;
      if (c.armed && c.deadline > at) break;
      head++;
      if (!c.armed) continue;
      c.armed = false;
      live--;
      expire(c);
    }
    dropDisarmedHead();
    schedule();
  };

  return {
    arm(cancel) {
      cancel.deadline = now() + timeoutMs;
      cancel.armed = true;
      live++;
      queue.push(cancel);
      // A set timer is due no later than the head, and every later deadline: it re-arms when it fires.
      if (timer === undefined) schedule();
      // Attempts finishing out of order leave holes behind a slow one at the head: squeeze them out.
      if (queue.length - head - live > SLACK + live) {
        queue = queue.slice(head).filter((c) => c.armed);
        head = 0;
      }
    },
    disarm(cancel) {
      if (!cancel.armed) return;
      cancel.armed = false;
      live--;
      if (queue[head] === cancel) dropDisarmedHead();
    },
    armed: () => live,
    queued: () => queue.length - head,
    stop() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      timerAt = Infinity;
    },
  };
};
