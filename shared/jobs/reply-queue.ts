/**
 * Replies (ack/nak/term) made during one turn of the event loop go out together: nats.js flushes
 * its outgoing buffer in a microtask, so replies made from separate promise chains would each be a
 * socket write of their own. Deferring them to the end of the turn costs well under a millisecond.
 */
export interface ReplyQueue {
  push(send: () => void): void;
  /** Sends what is queued now (shutdown, before the connection drains). */
  flush(): void;
}

export const createReplyQueue = (): ReplyQueue => {
  const queued: Array<() => void> = [];
  const flush = () => {
    for (const send of queued.splice(0)) send();
  };
  return {
    push(send) {
      if (queued.push(send) === 1) setImmediate(flush);
    },
    flush,
  };
};
