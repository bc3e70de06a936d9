import type { PubAck } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/transport-node';

/** The slice of a NATS connection group commit needs (a fake in unit tests). */
export interface GroupCommitTransport {
  publish(subject: string, data: Uint8Array, options: { reply: string; headers?: MsgHdrs }): void;
  subscribe(subject: string, options: { callback(error: Error | null, msg: ReplyMsg): void }): { unsubscribe(): void };
}

/** A reply on the shared inbox: a PubAck, a JetStream error, or a 503 status (no stream). */
export interface ReplyMsg {
  subject: string;
  data: Uint8Array;
}

export interface SendOptions {
  /** `Nats-Msg-Id`: a retry of a message whose PubAck was lost is dropped by the stream. */
  msgID?: string;
  headers?: MsgHdrs;
  /** How long this message may wait for its PubAck. */
  timeout?: number;
}

export interface GroupCommit {
  /** Resolves with the message's own PubAck; rejects when the stream refused it or no PubAck came in time. */
  send(subject: string, data: Uint8Array, options?: SendOptions): Promise<PubAck>;
  /** Stops listening for PubAcks; sends still waiting fail. */
  close(): void;
}

interface Group {
  remaining: number;
  timer?: ReturnType<typeof setTimeout>;
}

interface Waiting {
  subject: string;
  data: Uint8Array;
  options: SendOptions;
  resolve(ack: PubAck): void;
  reject(error: Error): void;
}

const decoder = new TextDecoder();

/** A reply's meaning: the PubAck, or why the message was not stored. */
export const parsePubAck = (data: Uint8Array): PubAck | Error => {
  // The server answers a publish to a subject no stream listens on with an empty 503 status.
  if (data.length === 0) return new Error('no stream stored the message (503 no responders)');
  try {
    const reply = JSON.parse(decoder.decode(data)) as Partial<PubAck> & { error?: { code?: number; description?: string } };
    if (reply.error) return new Error(`JetStream refused the message: ${reply.error.description ?? 'error'} (${reply.error.code ?? '?'})`);
    if (typeof reply.stream !== 'string' || typeof reply.seq !== 'number') return new Error('invalid PubAck');
    return { stream: reply.stream, seq: reply.seq, duplicate: reply.duplicate === true, ...(reply.domain ? { domain: reply.domain } : {}) };
  } catch {
    return new Error('invalid PubAck');
  }
};

/**
 * Group commit for JetStream publishes. Messages sent in one event-loop turn are gathered and
 * written together (one socket write), each with its own reply subject under one inbox
 * subscription, and the group waits for its PubAcks under one timer. Each caller is answered
 * with its own message's PubAck (or its own error), so nothing is acknowledged before it is
 * stored and one refusal does not fail its neighbours.
 *
 * Why not `js.publish` per message: every call is a client request with its own timer, promise
 * and, when it settles, a discarded `RequestError` — 1.3–2.5× slower at 100-way concurrency
 * (bench/publish-modes.ts). Why not the atomic batch publish of 2.12+ (`Nats-Batch-Id`): it costs
 * two round trips per batch, needs `allow_atomic` on the stream, refuses `Nats-Msg-Id` in its
 * messages, and the server stages it slowly — 1–5k msg/s against 26–33k for this on 2.15.1.
 * All-or-nothing across unrelated users' requests buys nothing here.
 */
export const createGroupCommit = (nc: GroupCommitTransport, options: { inboxPrefix: string; timeoutMs?: number; maxGroup?: number }): GroupCommit => {
  const inbox = `${options.inboxPrefix}.gc${Math.random().toString(36).slice(2, 10)}`;
  const maxGroup = options.maxGroup ?? 1_000;
  const inFlight = new Map<string, { waiting: Waiting; group: Group }>();
  let queue: Waiting[] = [];
  let scheduled = false;
  let next = 0;
  let closed = false;

  const settle = (token: string, result: PubAck | Error) => {
    const entry = inFlight.get(token);
    if (!entry) return; // Late, after its group timed out: the caller was already answered.
    inFlight.delete(token);
    if (--entry.group.remaining === 0) clearTimeout(entry.group.timer);
    if (result instanceof Error) entry.waiting.reject(result);
    else entry.waiting.resolve(result);
  };
  const subscription = nc.subscribe(`${inbox}.*`, {
    callback: (error, msg) => {
      if (error) return;
      settle(msg.subject.slice(inbox.length + 1), parsePubAck(msg.data));
    },
  });

  const flush = () => {
    scheduled = false;
    const waitingNow = queue;
    queue = [];
    const group: Group = { remaining: waitingNow.length };
    const tokens: string[] = [];
    let timeoutMs = 0;
    for (const waiting of waitingNow) {
      const token = (next++).toString(36);
      inFlight.set(token, { waiting, group });
      tokens.push(token);
      timeoutMs = Math.max(timeoutMs, waiting.options.timeout ?? options.timeoutMs ?? 5_000);
      const headers = waiting.options.headers;
      if (waiting.options.msgID && headers) headers.set('Nats-Msg-Id', waiting.options.msgID);
      try {
        nc.publish(waiting.subject, waiting.data, { reply: `${inbox}.${token}`, ...(headers ? { headers } : {}) });
      } catch (error) {
        settle(token, error instanceof Error ? error : new Error(String(error)));
      }
    }
    // One timer per group: whatever has no PubAck by then fails, and its caller decides (retry, 503).
    if (group.remaining === 0) return;
    group.timer = setTimeout(() => {
      for (const token of tokens) settle(token, new Error(`no PubAck within ${timeoutMs} ms`));
    }, timeoutMs);
    group.timer.unref?.();
  };

  return {
    send(subject, data, sendOptions = {}) {
      if (closed) return Promise.reject(new Error('group commit closed'));
      return new Promise<PubAck>((resolve, reject) => {
        queue.push({ subject, data, options: sendOptions, resolve, reject });
        if (queue.length >= maxGroup) flush();
        else if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    close() {
      closed = true;
      subscription.unsubscribe();
      for (const token of [...inFlight.keys()]) settle(token, new Error('group commit closed'));
      for (const waiting of queue.splice(0)) waiting.reject(new Error('group commit closed'));
    },
  };
};
