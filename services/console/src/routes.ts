import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { Log } from '#shared/observability/logger';
import { HttpProblem } from '#shared/http/problems';
import type { PeekingRateLimiter } from '#shared/http/rate-limit';
import { ADMIN_COOKIE, createAdminAuth } from './operator-auth.ts';
import type { OperatorSessions } from './operator-sessions.ts';
import type { AdminData } from './console-data.ts';
import { DeadLetterReason } from '#shared/jobs/dead-letter';
import { errorMessage } from '#shared/observability/errors';
import { registerOperationRoutes } from './operation-routes.ts';
import { dashboardPage, fragments, loginPage } from './pages.ts';
import { DEAD_LETTERS_SHOWN, sharedSnapshots } from './snapshot.ts';

export interface AdminRoutesDeps {
  data: AdminData;
  token: string;
  publicUrl: string;
  secureCookies: boolean;
  /** Counts sign-in attempts and wrong bearer tokens per client address, so a weak token cannot be guessed at speed. */
  limiter: PeekingRateLimiter;
  /** Signed-in sessions, shared by every console replica: sign-out revokes the cookie everywhere. */
  sessions: OperatorSessions;
  log: Log;
  /** How often the live view pushes a snapshot (default 2 s). */
  refreshMs?: number;
}

const LOGIN_RULE = { max: 20, windowMs: 15 * 60_000 };
const LoginBody = z.object({ token: z.string().min(1).max(1_000) });
const IdParams = z.object({ id: z.coerce.number().int().positive() });
const DashboardQuery = z.object({
  order: z.string().trim().max(100).optional(),
  replayed: z.coerce.number().int().positive().optional(),
  job: z.string().trim().max(100).optional(),
  reason: z.union([DeadLetterReason, z.literal('')]).optional(),
  done: z.string().max(300).optional(),
});


const html = (reply: FastifyReply, nonce: string, status: number, body: string) =>
  reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('x-frame-options', 'DENY')
    .header(
      'content-security-policy',
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    )
    .send(body);

/**
 * The operators' dashboard, the console's whole surface, behind ADMIN_TOKEN: queues, dead letters
 * with replay, latest orders, and a server-sent-events stream that keeps them current.
 */
export const registerAdminRoutes = (app: FastifyInstance, deps: AdminRoutesDeps) => {
  const auth = createAdminAuth({ token: deps.token, publicUrl: deps.publicUrl, secureCookies: deps.secureCookies, sessions: deps.sessions, limiter: deps.limiter });
  const refreshMs = deps.refreshMs ?? 2_000;
  const snapshot = sharedSnapshots(deps.data, Math.max(250, refreshMs / 2));
  const streams = new Set<ServerResponse>();

  void app.register(
    async (admin) => {
      // Only the login form posts a form body.
      admin.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4_096 }, (_request, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(String(body))));
      });
      // A long-lived event stream would otherwise hold the server open through shutdown.
      admin.addHook('preClose', async () => {
        for (const res of streams) res.end();
      });

      admin.get('/login', async (_request, reply) => {
        const nonce = randomBytes(16).toString('base64');
        return html(reply, nonce, 200, loginPage(nonce));
      });

      admin.post('/login', async (request, reply) => {
        const origin = request.headers.origin;
        if (origin && origin !== 'null' && origin !== `${request.protocol}://${request.host}` && origin !== new URL(deps.publicUrl).origin) {
          throw new HttpProblem('cross_origin', 'Sign in from the admin login page itself.');
        }
        const decision = await deps.limiter.hit('admin-login', request.ip, LOGIN_RULE);
        if (!decision.allowed) {
          throw new HttpProblem('rate_limited', `Too many sign-in attempts; retry in ${decision.retryAfterSeconds} s.`, {
            'retry-after': String(decision.retryAfterSeconds),
          });
        }
        const body = LoginBody.safeParse(request.body);
        if (!body.success || !auth.tokenMatches(body.data.token)) {
          deps.log.warn({ ip: request.ip }, 'admin sign-in refused');
          const nonce = randomBytes(16).toString('base64');
          return html(reply, nonce, 401, loginPage(nonce, 'That is not the admin token.'));
        }
        const cookie = await auth.startSession();
        reply.setCookie(ADMIN_COOKIE, cookie.value, auth.cookieOptions(cookie.expires));
        deps.log.info({ ip: request.ip }, 'admin signed in');
        return reply.redirect('/', 303);
      });

      admin.post('/logout', { preHandler: auth.requireForWrite }, async (request, reply) => {
        // Server side first: the cookie is refused from now on, by every replica, even if a copy survives.
        await auth.endSession(request);
        reply.clearCookie(ADMIN_COOKIE, auth.cookieOptions());
        deps.log.info({ ip: request.ip }, 'admin signed out');
        return reply.redirect('/login', 303);
      });

      admin.get('/', { preHandler: auth.require }, async (request, reply) => {
        const query = DashboardQuery.safeParse(request.query);
        const { order, replayed, job, reason, done } = query.success ? query.data : {};
        const dlqFilter = { ...(job ? { job } : {}), ...(reason ? { reason } : {}) };
        const filtering = (job !== undefined && job !== '') || !!reason;
        const [snap, lookup, filtered] = await Promise.all([
          snapshot(),
          order ? deps.data.order(order) : undefined,
          filtering
            ? deps.data.deadLetters(DEAD_LETTERS_SHOWN, dlqFilter).then(
                (part) => ({ ok: true as const, ...part }),
                (error: unknown) => ({ ok: false as const, message: `dead letters unavailable: ${errorMessage(error)}` }),
              )
            : undefined,
        ]);
        const nonce = randomBytes(16).toString('base64');
        return html(
          reply,
          nonce,
          200,
          dashboardPage(snap, {
            nonce,
            flash: replayed ? `Replayed dead letter ${replayed}: the job is back on its queue.` : done,
            lookup: order && lookup ? { id: order, result: lookup } : undefined,
            dlqFilter,
            filteredDeadLetters: filtered,
          }),
        );
      });

      registerOperationRoutes(admin, { data: deps.data, log: deps.log, html }, auth);

      admin.get('/snapshot', { preHandler: auth.require }, async () => snapshot());

      admin.get('/events', { preHandler: auth.require }, async (request, reply) => {
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
        streams.add(res);
        let closed = false;
        const push = async () => {
          const data = JSON.stringify(fragments(await snapshot()));
          if (!closed) res.write(`data: ${data}\n\n`);
        };
        const timer = setInterval(() => void push().catch(() => undefined), refreshMs);
        request.raw.once('close', () => {
          closed = true;
          clearInterval(timer);
          streams.delete(res);
        });
        res.write(`retry: ${refreshMs}\n\n`);
        await push().catch(() => undefined);
      });

      admin.post('/dlq/:id/replay', { preHandler: auth.requireForWrite }, async (request, reply) => {
        const params = IdParams.safeParse(request.params);
        if (!params.success) throw new HttpProblem('not_found', 'Dead-letter ids are positive whole numbers.');
        const { id } = params.data;
        const result = await deps.data.replay(id);
        if (!result.replayed && result.refused) {
          deps.log.warn({ deadLetter: id, refusal: result.refused.code, reason: result.refused.reason }, 'dead-letter replay refused');
          throw new HttpProblem('replay_refused', `Dead letter ${id} was not replayed: ${result.refused.reason}. Nothing was published; it stays in the dead-letter queue.`);
        }
        if (!result.replayed) throw new HttpProblem('not_found', `No dead letter ${id}; it may have been replayed already.`);
        deps.log.info({ deadLetter: id, jobId: result.jobId, subject: result.subject }, 'dead letter replayed from the dashboard');
        if (request.headers.accept?.includes('application/json')) return { replayed: true, id, jobId: result.jobId, subject: result.subject };
        return reply.redirect(`/?replayed=${id}`, 303);
      });
    },
  );
};
