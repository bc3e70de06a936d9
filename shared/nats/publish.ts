import { randomUUID } from 'node:crypto';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/transport-node';
import { HEADERS, toNatsHeaders } from './headers.ts';

export interface PublishOptions {
  /** Job or event id; becomes `Nats-Msg-Id` (deduplication) and `Handoff-Job-Id`. Random if unset. */
  id?: string;
  headers?: Record<string, string>;
  /** How long to keep retrying a publish that got no PubAck (leader election, reconnect). */
  retryForMs?: number;
  /** Per-try PubAck timeout. */
  timeoutMs?: number;
}

/** Publishes durably: resolves only when JetStream has stored the message (the PubAck). */
export interface Publisher {
  publish(subject: string, payload: unknown, options?: PublishOptions): Promise<PubAck>;
  publishRaw(subject: string, data: Uint8Array, options?: PublishOptions): Promise<PubAck>;
}

const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How one try is sent: `js.publish` by default, or a group commit (./group-commit.ts). */
export type SendToStream = (subject: string, data: Uint8Array, options: { msgID: string; headers: MsgHdrs; timeout: number }) => Promise<PubAck>;

export const createPublisher = (js: Pick<JetStreamClient, 'publish'>, defaults: { retryForMs?: number; timeoutMs?: number; send?: SendToStream } = {}): Publisher => {
  const send: SendToStream = defaults.send ?? ((subject, data, options) => js.publish(subject, data, options));
  const publishRaw = async (subject: string, data: Uint8Array, options: PublishOptions = {}): Promise<PubAck> => {
    const id = options.id ?? randomUUID();
    const values: Record<string, string> = { [HEADERS.jobId]: id, ...options.headers };
    // A producer span per publish (messaging conventions); its context travels in the headers so
    // the consumer's attempt spans become its children.
    const span = trace.getTracer('handoff').startSpan(`send ${subject}`, {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'publish',
        'messaging.destination.name': subject,
        'messaging.message.id': id,
        'messaging.message.body.size': data.byteLength,
      },
    });
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), span), carrier);
    const headers: MsgHdrs = toNatsHeaders({ ...values, ...carrier });
    try {
      const ack = await publishWithRetry(subject, data, id, headers, options);
      if (ack.duplicate) span.setAttribute('messaging.nats.duplicate', true);
      return ack;
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  };

  const publishWithRetry = async (subject: string, data: Uint8Array, id: string, headers: MsgHdrs, options: PublishOptions): Promise<PubAck> => {
    const retryForMs = options.retryForMs ?? defaults.retryForMs ?? 0;
    const deadline = Date.now() + retryForMs;
    let wait = 100;
    for (;;) {
      try {
        // The same msgID on every try makes a retry after a lost PubAck a no-op on the server.
        return await send(subject, data, {
          msgID: id,
          headers,
          timeout: options.timeoutMs ?? defaults.timeoutMs ?? 5_000,
        });
      } catch (error) {
        if (Date.now() + wait > deadline) throw error;
        await sleep(wait);
        wait = Math.min(wait * 2, 2_000);
      }
    }
  };
  return {
    publishRaw,
    publish: (subject, payload, options) =>
      publishRaw(subject, encoder.encode(JSON.stringify(payload)), options),
  };
};
