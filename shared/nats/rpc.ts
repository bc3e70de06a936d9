import { context, SpanKind } from '@opentelemetry/api';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { z } from 'zod';
import type { RpcSpec } from '#shared/contracts/spec';
import type { Log } from '#shared/observability/logger';
import { errorMessage } from '#shared/observability/errors';
import { extractTraceContext, injectTraceHeaders, withSpan } from '#shared/observability/tracing';
import { firstHeaders, toNatsHeaders } from './headers.ts';


/**
 * The owner of a call did not answer: nobody subscribed (no responders), it timed out, or this
 * connection is closed or reconnecting. Callers map it to "try again later" (HTTP 503).
 */
export class RpcUnavailableError extends Error {
  constructor(subject: string, options?: { cause?: unknown }) {
    super(`no answer on ${subject}: ${errorMessage(options?.cause)}`, options);
    this.name = 'RpcUnavailableError';
  }
}

export interface RpcClient {
  call<S extends RpcSpec>(spec: S, request: z.input<S['request']>): Promise<z.output<S['reply']>>;
}

const encoder = new TextEncoder();

export const createRpcClient = (nc: Pick<NatsConnection, 'request'>, options: { timeoutMs: number }): RpcClient => ({
  async call<S extends RpcSpec>(spec: S, request: z.input<S['request']>): Promise<z.output<S['reply']>> {
    const data = await withSpan(spec.subject, { 'rpc.system': 'nats', 'messaging.destination.name': spec.subject }, async () => {
      try {
        // The trace context travels in headers, so the owner's span joins the caller's trace.
        const headers = toNatsHeaders(injectTraceHeaders({}));
        const reply = await nc.request(spec.subject, encoder.encode(JSON.stringify(request)), { timeout: options.timeoutMs, headers });
        return reply.json<unknown>();
      } catch (error) {
        throw new RpcUnavailableError(spec.subject, { cause: error });
      }
    }, { kind: SpanKind.CLIENT });
    // A reply that breaks the contract is a bug in the other service, not an outage: let it surface.
    return spec.reply.parse(data) as z.output<S['reply']>;
  },
});

export type RpcHandler<S extends RpcSpec> = (request: z.output<S['request']>) => Promise<z.input<S['reply']>>;

export interface RpcRoute {
  spec: RpcSpec;
  handler: (request: never) => Promise<unknown>;
}

/** Ties a spec to its handler's types (like `worker()` for jobs). */
export const rpcRoute = <S extends RpcSpec>(spec: S, handler: NoInfer<RpcHandler<S>>): RpcRoute => ({
  spec,
  handler: handler as RpcRoute['handler'],
});

/**
 * Serves request/reply calls in a queue group so every replica shares the load. A request that
 * fails its schema gets `{ok:false, code:'bad_request'}`; a handler that throws gets no reply, so
 * the caller sees a timeout (an outage) rather than a made-up answer.
 */
export const serveRpc = (
  nc: NatsConnection,
  routes: readonly RpcRoute[],
  options: { queue: string; log: Log },
): { stop(): Promise<void> } => {
  const subs: Subscription[] = routes.map((route) =>
    nc.subscribe(route.spec.subject, {
      queue: options.queue,
      callback: (error, msg) => {
        if (error) {
          options.log.error({ subject: route.spec.subject, err: errorMessage(error) }, 'rpc subscription failed');
          return;
        }
        void (async () => {
          let body: unknown;
          try {
            body = msg.json();
          } catch {
            body = undefined;
          }
          const parsed = route.spec.request.safeParse(body);
          if (!parsed.success) {
            try {
              msg.respond(encoder.encode(JSON.stringify({ ok: false, code: 'bad_request', message: parsed.error.issues[0]?.message ?? 'invalid request' })));
            } catch (respondError) {
              // The connection is closing: the caller sees a timeout, which is what it would get anyway.
              options.log.warn({ subject: route.spec.subject, err: errorMessage(respondError) }, 'rpc reply not sent');
            }
            return;
          }
          const parent = extractTraceContext(firstHeaders(msg.headers));
          await context.with(parent, () =>
            withSpan(route.spec.subject, { 'rpc.system': 'nats', 'messaging.destination.name': route.spec.subject }, async () => {
              try {
                const reply = await route.handler(parsed.data as never);
                msg.respond(encoder.encode(JSON.stringify(reply)));
              } catch (handlerError) {
                options.log.error({ subject: route.spec.subject, err: errorMessage(handlerError) }, 'rpc handler failed; caller will time out');
              }
            }, { kind: SpanKind.SERVER }),
          );
        })();
      },
    }),
  );
  return {
    async stop() {
      await Promise.all(subs.map((sub) => sub.drain().catch(() => undefined)));
    },
  };
};
