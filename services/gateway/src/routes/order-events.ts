import type { ServerResponse } from 'node:http';
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import { z } from 'zod';
import { compareOrderVersions, formatOrderVersion, orderVersion, parseOrderVersion, type OrderChanged, type OrderVersion, type OrderView } from '#shared/contracts/orders';
import { HttpProblem } from '#shared/http/problems';
import type { Log } from '#shared/observability/logger';
import { errorMessage } from '#shared/observability/errors';
import { applyChange, publicView, type OrderActions } from '../order-actions.ts';
import type { OrderWatch } from '../order-watch.ts';
import { sessionOf } from '../session.ts';

/** After one of these a live view has nothing more to tell: the stream ends. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set(['sent', 'failed', 'payment_mismatch', 'expired']);

export interface OrderEventsDeps {
  actions: Pick<OrderActions, 'getOwn'>;
  watch: OrderWatch;
  requireSession: preHandlerAsyncHookHandler;
  /** Open live views per user on this replica; more get 429. */
  maxPerUser: number;
  /** Comment lines this often keep idle streams open through proxies. */
  heartbeatMs: number;
  log: Log;
}

const Params = z.object({ id: z.string().min(1).max(100) });

export const EVENT_STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-accel-buffering': 'no',
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
} as const;

/**
 * `GET /orders/:id/events`: the order as GET /orders/:id shows it, then the same JSON after each
 * change of its status or ticket count, each with its version as the event id; the stream ends
 * after a final status. `Last-Event-ID` resumes: nothing the client already has is sent again
 * (a final order it already has answers 204, which tells EventSource to stop reconnecting).
 *
 * The listener is registered before the order is read, so a change landing in between is held
 * and applied after; every event is checked against the last one sent, so neither that race nor
 * a late, older event can move the view backwards.
 *
 * The bound on open streams is per user and per replica: it protects this process's sockets and
 * memory, which is what an open stream costs (a shared counter would outlive crashed replicas).
 */
export const registerOrderEvents = (app: FastifyInstance, deps: OrderEventsDeps) => {
  const openPerUser = new Map<string, number>();
  const streams = new Set<ServerResponse>();

  // An open stream would otherwise hold the server through shutdown; clients resume elsewhere.
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });

  app.get('/orders/:id/events', { preHandler: deps.requireSession }, async (request, reply) => {
    const params = Params.safeParse(request.params);
    if (!params.success) throw new HttpProblem('not_found');
    const orderId = params.data.id;
    const { user } = sessionOf(request);
    const opened = openPerUser.get(user.id) ?? 0;
    if (opened >= deps.maxPerUser) {
      throw new HttpProblem('rate_limited', `At most ${deps.maxPerUser} live order views at once; close one (another tab or window) and try again.`);
    }
    openPerUser.set(user.id, opened + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (openPerUser.get(user.id) ?? 1) - 1;
      if (left > 0) openPerUser.set(user.id, left);
      else openPerUser.delete(user.id);
    };

    let base: OrderView | undefined;
    const held: OrderChanged[] = [];
    let last: OrderVersion | undefined = parseOrderVersion(request.headers['last-event-id'] as string | undefined);
    // Filled in once the response is ours (after the order was read): listeners run before that.
    const open: { res?: ServerResponse; heartbeat?: NodeJS.Timeout } = {};
    let finished = false;
    const stopListening = deps.watch.listen(orderId, (change) => (base && open.res ? send(applyChange(base, change)) : held.push(change)));
    const stopGapWatch = deps.watch.onGap(() => void reread());
    // From now on a client that goes away (even while the order is being read) frees its place.
    reply.raw.once('close', () => close());
    const close = () => {
      if (finished) return;
      finished = true;
      stopListening();
      stopGapWatch();
      clearInterval(open.heartbeat);
      release();
      if (open.res) {
        streams.delete(open.res);
        open.res.end();
      }
    };

    const send = (view: OrderView) => {
      const res = open.res;
      if (finished || !res) return;
      const version = orderVersion(view);
      if (last && compareOrderVersions(version, last) <= 0) return;
      last = version;
      res.write(`id: ${formatOrderVersion(version)}\ndata: ${JSON.stringify(publicView(view))}\n\n`);
      if (FINAL_STATUSES.has(view.status)) close();
    };
    const reread = async () => {
      try {
        const fresh = await deps.actions.getOwn(user.id, orderId);
        base = fresh;
        send(fresh);
      } catch (error) {
        deps.log.warn({ orderId, err: errorMessage(error) }, 'live order view could not read the order again');
      }
    };

    try {
      base = await deps.actions.getOwn(user.id, orderId);
    } catch (error) {
      close();
      throw error;
    }
    if (last && compareOrderVersions(orderVersion(base), last) <= 0 && FINAL_STATUSES.has(base.status)) {
      close();
      return reply.code(204).header('cache-control', 'no-store').send();
    }

    if (finished) return reply.send();
    reply.hijack();
    const res = (open.res = reply.raw);
    res.writeHead(200, EVENT_STREAM_HEADERS);
    streams.add(res);
    res.write('retry: 2000\n\n');
    open.heartbeat = setInterval(() => res.write(': keep-alive\n\n'), deps.heartbeatMs);
    send(base);
    for (const change of held.splice(0)) send(applyChange(base, change));
  });
};
