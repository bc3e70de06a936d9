import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SessionView } from '#shared/contracts/auth';
import type { AuthClient } from './auth-client.ts';
import { HttpProblem } from '#shared/http/problems';

/** The cookie holding the opaque session id. Only auth knows what it maps to (by its hash). */
export const SESSION_COOKIE = 'handoff_session';

export const sessionCookieOptions = (secure: boolean) => ({
  httpOnly: true,
  sameSite: 'lax' as const,
  secure,
  path: '/',
});

// Per-request storage without widening FastifyRequest's type for every route.
const sessions = new WeakMap<FastifyRequest, SessionView>();

/**
 * A preHandler for routes that need a signed-in user: resolves the cookie through the auth
 * service, answers 401 `unauthenticated` (and clears a dead cookie) otherwise, 503 when auth is down.
 * Read the result with `sessionOf(request)`.
 */
export const createRequireSession =
  (deps: { auth: Pick<AuthClient, 'getSession'>; secureCookies: boolean }) =>
  async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const sessionId = request.cookies[SESSION_COOKIE];
    if (!sessionId) throw new HttpProblem('unauthenticated');
    const result = await deps.auth.getSession(sessionId);
    if (!result.ok) {
      reply.clearCookie(SESSION_COOKIE, sessionCookieOptions(deps.secureCookies));
      throw new HttpProblem('unauthenticated', 'The session has ended or expired. Sign in again.');
    }
    sessions.set(request, result.session);
  };

/** The session `requireSession` resolved; only valid in routes that run it as a preHandler. */
export const sessionOf = (request: FastifyRequest): SessionView => {
  const session = sessions.get(request);
  if (!session) throw new Error('sessionOf() called on a route without the requireSession preHandler');
  return session;
};
