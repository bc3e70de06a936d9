import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpProblem } from '#shared/http/problems';

/** The admin cookie: `<expiry ms>.<HMAC>`; the token itself never leaves the operator's hands. */
export const ADMIN_COOKIE = 'handoff_admin';
const COOKIE_TTL_MS = 12 * 3_600_000;

const mac = (token: string, expires: number) => createHmac('sha256', token).update(`handoff-admin:${expires}`).digest('base64url');

/** Equal-length digests compared in constant time, so timing never tells how much of a guess matched. */
const sameSecret = (a: string, b: string) => {
  const left = createHmac('sha256', 'compare').update(a).digest();
  const right = createHmac('sha256', 'compare').update(b).digest();
  return timingSafeEqual(left, right);
};

export interface AdminAuth {
  /** True when the token is the configured one (constant time). */
  tokenMatches(candidate: string): boolean;
  /** A fresh cookie value for a signed-in operator and its expiry. */
  issueCookie(now?: number): { value: string; expires: Date };
  /** preHandler: bearer token or a valid cookie, else 401 problem. */
  require(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  /** preHandler for state-changing requests: the above plus a same-origin check (CSRF). */
  requireForWrite(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  cookieOptions(expires?: Date): { httpOnly: true; sameSite: 'strict'; secure: boolean; path: string; expires?: Date };
}

const bearerOf = (request: FastifyRequest): string | undefined => {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
};

/**
 * Admin access: `Authorization: Bearer <ADMIN_TOKEN>` for scripts, or the login form's cookie for a
 * browser. The cookie is SameSite=Strict, so another site cannot make the browser send it; writes
 * also check Origin (or Referer) against our own origins, which covers older browsers and proxies.
 */
export const createAdminAuth = (options: { token: string; publicUrl: string; secureCookies: boolean }): AdminAuth => {
  const publicOrigin = new URL(options.publicUrl).origin;

  const cookieValid = (value: string | undefined, now: number) => {
    if (!value) return false;
    const [expiresText, digest] = value.split('.', 2);
    const expires = Number(expiresText);
    if (!digest || !Number.isSafeInteger(expires) || expires <= now) return false;
    return sameSecret(digest, mac(options.token, expires));
  };

  const authenticated = (request: FastifyRequest): 'bearer' | 'cookie' | undefined => {
    const bearer = bearerOf(request);
    if (bearer !== undefined) return sameSecret(bearer, options.token) ? 'bearer' : undefined;
    return cookieValid(request.cookies[ADMIN_COOKIE], Date.now()) ? 'cookie' : undefined;
  };

  const sameOrigin = (request: FastifyRequest): boolean | undefined => {
    const origin = request.headers.origin ?? (request.headers.referer ? safeOrigin(request.headers.referer) : undefined);
    if (!origin || origin === 'null') return undefined;
    const own = `${request.protocol}://${request.host}`;
    return origin === own || origin === publicOrigin;
  };

  const deny = () => new HttpProblem('unauthenticated', 'Admin access needs the admin token: sign in at /login or send Authorization: Bearer <ADMIN_TOKEN>.');

  return {
    tokenMatches: (candidate) => sameSecret(candidate, options.token),
    issueCookie(now = Date.now()) {
      const expires = now + COOKIE_TTL_MS;
      return { value: `${expires}.${mac(options.token, expires)}`, expires: new Date(expires) };
    },
    async require(request) {
      if (!authenticated(request)) throw deny();
    },
    async requireForWrite(request) {
      const how = authenticated(request);
      if (!how) throw deny();
      const verdict = sameOrigin(request);
      // A browser always sends Origin on a POST; only a script with the bearer token may omit it.
      if (verdict === false || (verdict === undefined && how === 'cookie')) {
        throw new HttpProblem('cross_origin', 'This action must come from the admin page itself.');
      }
    },
    cookieOptions: (expires) => ({ httpOnly: true, sameSite: 'strict', secure: options.secureCookies, path: '/', ...(expires ? { expires } : {}) }),
  };
};

const safeOrigin = (url: string): string | undefined => {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
};
