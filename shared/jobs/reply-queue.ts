import type { JsMsg } from '@nats-io/jetstream';

/**
 * Replies (ack/nak/term) made during one turn of the event loop go out together: nats.js flushes
 * its outgoing buffer in a microtask, so replies made from separate promise chains would each be a
 * socket write of their own. Deferring them to the end of the turn costs well under a millisecond.
 */
export interface ReplyQueue {
  push(send: () => void): void;
  /** `m.ack()` at the end of the turn, without a closure per job (the common reply). */
  ack(m: Pick<JsMsg, 'ack'>): void;
  /** Sends what is queued now (shutdown, before the connection drains). */
  flush(): void;
}

export const createReplyQueue = (): ReplyQueue => {
  let queued: Array<() => void> = [];
  let acks: Array<Pick<JsMsg, 'ack'>> = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    // Swapped, not spliced: a reply queued while these go out lands in the next batch.
    const sends = queued;
    const acked = acks;
    queued = [];
    acks = [];
    for (const m of acked) m.ack();
    for (const send of sends) send();
  };
  const later = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };
  return {
    push(send) {
      queued.push(send);
      later();
    },
    ack(m) {
      acks.push(m);
      later();
    },
    flush,
  };
};
