import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { SessionView } from '#shared/contracts/auth';
import { HttpProblem, PROBLEMS, type ProblemCode } from '#shared/http/problems';
import { RpcUnavailableError } from '#shared/nats/rpc';
import type { Log } from '#shared/observability/logger';
import type { AuthClient } from '../auth-client.ts';
import { confirmPage, failurePage, SIGN_IN_HEADERS, sendPage } from '../page/sign-in-page.ts';
import { originVerdict } from '../same-origin.ts';
import { SESSION_COOKIE, sessionCookieOptions } from '../session.ts';

export interface VerifyRoutesDeps {
  auth: Pick<AuthClient, 'verifyToken'>;
  config: { appUrl: string; publicUrl: string; secureCookies: boolean };
  log: Log;
}

const Token = z.string().min(16).max(256);
const VerifyQuery = z.object({ token: Token });
const VerifyBody = z.object({ token: Token });

export const userView = (session: SessionView) => ({
  user: { id: session.user.id, email: session.user.email, ...(session.user.name ? { name: session.user.name } : {}) },
  expiresAt: session.expiresAt,
});

/** What a person sees for each way the link can fail (the JSON path gets the problem instead). */
const FAILURES: Partial<Record<ProblemCode, { title: string; detail: string }>> = {
  token_invalid: { title: 'This sign-in link is not valid', detail: 'It may be incomplete or mistyped. Ask for a new link.' },
  token_expired: { title: 'This sign-in link has expired', detail: 'Links work for a short while only. Ask for a new link.' },
  token_used: { title: 'This sign-in link has already been used', detail: 'Each link signs in once. Ask for a new link.' },
  cross_origin: { title: 'Sign in from the link itself', detail: 'This request did not come from the sign-in page. Open the link from your email again.' },
  service_unavailable: { title: 'Sign-in is unavailable right now', detail: 'Nothing was used up: open the link again in a moment.' },
};

const wantsJson = (request: FastifyRequest) => request.headers.accept?.includes('application/json') ?? false;

/**
 * The sign-in link, safe against mail scanners and login CSRF: `GET` shows a page and spends
 * nothing (scanners and link previews fetch every link), the page's button posts the token to
 * `POST /auth/verify`, which spends it only for a same-origin request. Browsers get pages and a
 * 303 to APP_URL; clients that send `Accept: application/json` get JSON and problems.
 */
export const registerVerifyRoutes = (app: FastifyInstance, deps: VerifyRoutesDeps) => {
  const publicOrigin = new URL(deps.config.publicUrl).origin;

  const fail = (request: FastifyRequest, reply: FastifyReply, code: ProblemCode, detail?: string) => {
    const page = FAILURES[code];
    if (wantsJson(request) || !page) throw new HttpProblem(code, detail, SIGN_IN_HEADERS);
    return sendPage(reply, PROBLEMS[code].status, failurePage(page.title, page.detail, deps.config.appUrl));
  };

  app.get('/auth/verify', async (request, reply) => {
    const parsed = VerifyQuery.safeParse(request.query);
    if (!parsed.success) return fail(request, reply, 'token_invalid', 'The link has no valid token.');
    return sendPage(reply, 200, confirmPage(parsed.data.token));
  });

  // Form posts are accepted here and nowhere else: the rest of the gateway speaks JSON only.
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) =>
      done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );
    scope.post('/auth/verify', { bodyLimit: 1024 }, async (request, reply) => {
      const verdict = originVerdict(request.headers, [publicOrigin, `${request.protocol}://${request.host}`]);
      // Without any browser signal, only a JSON body is let through: a page on another site
      // cannot send one without a CORS preflight, which this gateway never grants.
      const json = request.headers['content-type']?.startsWith('application/json') ?? false;
      if (verdict === 'cross' || (verdict === 'unknown' && !json)) {
        deps.log.warn({ origin: request.headers.origin, fetchSite: request.headers['sec-fetch-site'] }, 'cross-origin sign-in refused');
        return fail(request, reply, 'cross_origin', 'Sign in from the page the link opens.');
      }
      const body = VerifyBody.safeParse(request.body);
      if (!body.success) return fail(request, reply, 'token_invalid', 'The request has no valid token.');

      let result;
      try {
        result = await deps.auth.verifyToken(body.data.token);
      } catch (error) {
        if (error instanceof RpcUnavailableError) return fail(request, reply, 'service_unavailable', 'The sign-in service did not answer; the link was not used.');
        throw error;
      }
      if (!result.ok) {
        const code = result.code === 'token_expired' || result.code === 'token_used' ? result.code : 'token_invalid';
        return fail(request, reply, code, result.message);
      }
      reply.headers(SIGN_IN_HEADERS).setCookie(SESSION_COOKIE, result.sessionId, {
        ...sessionCookieOptions(deps.config.secureCookies),
        expires: new Date(result.session.expiresAt),
      });
      if (wantsJson(request)) return reply.code(200).send(userView(result.session));
      return reply.redirect(deps.config.appUrl, 303);
    });
  });
};
