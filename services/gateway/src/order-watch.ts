import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { OrderChanged } from '#shared/contracts/orders';
import { STREAMS } from '#shared/contracts/streams';
import type { Log } from '#shared/observability/logger';
import { errorMessage } from '#shared/observability/errors';

export type OrderChangeListener = (change: OrderChanged) => void;

/** Live order changes for this process: one feed, handed to whoever listens to an order. */
export interface OrderWatch {
  /** Calls `listener` with each change of `orderId` until the returned function is called. */
  listen(orderId: string, listener: OrderChangeListener): () => void;
  /**
   * Calls `listener` whenever the feed (re)starts after a time it was not running (start-up while
   * ticketing's stream did not exist yet, an error): changes may have been missed, so listeners
   * read their order again.
   */
  onGap(listener: () => void): () => void;
}

/** The in-process side: listeners by order id, fed by `dispatch`. */
export const createOrderHub = (log: Pick<Log, 'warn'>) => {
  const byOrder = new Map<string, Set<OrderChangeListener>>();
  const gapListeners = new Set<() => void>();
  const call = (fn: () => void) => {
    try {
      fn();
    } catch (error) {
      log.warn({ err: errorMessage(error) }, 'order change listener failed');
    }
  };
  const watch: OrderWatch = {
    listen(orderId, listener) {
      let set = byOrder.get(orderId);
      if (!set) byOrder.set(orderId, (set = new Set()));
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0 && byOrder.get(orderId) === set) byOrder.delete(orderId);
      };
    },
    onGap(listener) {
      gapListeners.add(listener);
      return () => void gapListeners.delete(listener);
    },
  };
  return {
    watch,
    dispatch(change: OrderChanged) {
      for (const listener of [...(byOrder.get(change.id) ?? [])]) call(() => listener(change));
    },
    gap() {
      for (const listener of [...gapListeners]) call(listener);
    },
    /** Orders someone listens to now (metrics, tests). */
    listened: () => byOrder.size,
  };
};

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/**
 * Follows ORDER_EVENTS from its current end with ONE ordered consumer for the whole process, and
 * fans each change out in memory to the live views of that order: a thousand open views cost one
 * consumer, not a thousand. The ordered consumer is the client's: after a reconnect or a missed
 * heartbeat it recreates itself from the last sequence it delivered, so nothing is skipped. If it
 * fails for good (or the stream does not exist yet: its owner, ticketing, has not started), this
 * loop starts again from the stream's end and reports a gap.
 */
export const startOrderWatch = (deps: { js: JetStreamClient; jsm: Pick<JetStreamManager, 'streams'>; log: Log; retryMs?: number }) => {
  const hub = createOrderHub(deps.log);
  const stopping = new AbortController();
  let current: { close(): Promise<void | Error> } | undefined;
  let waitingLogged = false;
  const stream = STREAMS.ORDER_EVENTS.name;

  const follow = async () => {
    const { state } = await deps.jsm.streams.info(stream);
    const consumer = await deps.js.consumers.get(stream, { filter_subjects: STREAMS.ORDER_EVENTS.subjects[0]!, opt_start_seq: state.last_seq + 1 });
    const messages = await consumer.consume({ max_messages: 256 });
    current = messages;
    waitingLogged = false;
    deps.log.info({ stream, from: state.last_seq + 1 }, 'following order changes');
    hub.gap();
    for await (const m of messages) {
      const change = OrderChanged.safeParse(m.json());
      if (change.success && m.subject.endsWith(`.${change.data.id}`)) hub.dispatch(change.data);
      else deps.log.warn({ subject: m.subject, seq: m.seq }, 'order change event ignored: not an OrderChanged for its subject');
    }
  };

  const done = (async () => {
    while (!stopping.signal.aborted) {
      try {
        await follow();
      } catch (error) {
        if (stopping.signal.aborted) break;
        const message = errorMessage(error);
        if (/stream not found/i.test(message)) {
          if (!waitingLogged) deps.log.info({ stream }, 'waiting for the order-change stream (ticketing creates it)');
          waitingLogged = true;
        } else deps.log.warn({ stream, err: message }, 'order change feed stopped; starting again');
      }
      await sleep(deps.retryMs ?? 1_000, stopping.signal);
    }
  })();

  return {
    watch: hub.watch,
    listened: hub.listened,
    async stop() {
      stopping.abort();
      await current?.close();
      await done;
    },
  };
};
