import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BUCKETS } from '#shared/contracts/buckets';
import { HttpProblem } from '#shared/http/problems';
import type { PeekingRateLimiter, RateDecision, RateRule } from '#shared/http/rate-limit';
import type { OperatorSessions } from './operator-sessions.ts';

/**
 * The admin cookie: `<session id>.<expiry ms>.<HMAC>`. The HMAC (keyed with the token) means only
 * the console can make one, and the token itself never leaves the operator's hands; the session
 * record it names means sign-out can revoke it before it expires.
 */
export const ADMIN_COOKIE = 'handoff_admin';
const COOKIE_TTL_MS = BUCKETS.consoleSessions.ttlMs;

/** Wrong bearer tokens per client address and window; then every bearer request of it is refused. */
export const BEARER_FAILURES: RateRule = { max: 20, windowMs: 15 * 60_000 };
const BEARER_SCOPE = 'console-bearer';

const mac = (token: string, session: string, expires: number) =>
  createHmac('sha256', token).update(`handoff-admin:${session}:${expires}`).digest('base64url');

/** Equal-length digests compared in constant time, so timing never tells how much of a guess matched. */
const sameSecret = (a: string, b: string) => {
  const left = createHmac('sha256', 'compare').update(a).digest();
  const right = createHmac('sha256', 'compare').update(b).digest();
  return timingSafeEqual(left, right);
};

export interface AdminAuth {
  /** True when the token is the configured one (constant time). */
  tokenMatches(candidate: string): boolean;
  /** Starts a session for a signed-in operator: the cookie value and its expiry. */
  startSession(now?: number): Promise<{ value: string; expires: Date }>;
  /** Ends the session the request's cookie names (sign-out): that cookie is refused from now on. */
  endSession(request: FastifyRequest): Promise<void>;
  /** preHandler: bearer token or a valid cookie of a live session, else 401 problem (429 after too many wrong tokens). */
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

const parseCookie = (value: string | undefined) => {
  const [session, expiresText, digest, ...rest] = (value ?? '').split('.');
  const expires = Number(expiresText);
  if (!session || !digest || rest.length > 0 || !Number.isSafeInteger(expires)) return undefined;
  return { session, expires, digest };
};

const tooMany = (decision: Extract<RateDecision, { allowed: false }>) =>
  new HttpProblem('rate_limited', `Too many wrong admin tokens from this address; retry in ${decision.retryAfterSeconds} s.`, {
    'retry-after': String(decision.retryAfterSeconds),
  });

/**
 * Admin access: `Authorization: Bearer <ADMIN_TOKEN>` for scripts, or the login form's cookie for a
 * browser. The cookie is SameSite=Strict, so another site cannot make the browser send it; writes
 * also check Origin (or Referer) against our own origins, which covers older browsers and proxies.
 * Wrong bearer tokens count against the client address like sign-ins do; once over the limit, the
 * address is refused before its token is even compared, so the refusal tells nothing about a guess.
 */
export const createAdminAuth = (options: {
  token: string;
  publicUrl: string;
  secureCookies: boolean;
  sessions: OperatorSessions;
  limiter: PeekingRateLimiter;
}): AdminAuth => {
  const publicOrigin = new URL(options.publicUrl).origin;

  const cookieSession = async (value: string | undefined, now: number): Promise<string | undefined> => {
    const cookie = parseCookie(value);
    if (!cookie || cookie.expires <= now || !sameSecret(cookie.digest, mac(options.token, cookie.session, cookie.expires))) return undefined;
    return (await options.sessions.active(cookie.session, now)) ? cookie.session : undefined;
  };

  // The counters live in NATS: without them no bearer token is checked at all.
  const limit = (decide: () => Promise<RateDecision>) =>
    decide().catch(() => {
      throw new HttpProblem('service_unavailable', 'The console cannot check tokens right now; try again shortly.');
    });

  const bearerValid = async (request: FastifyRequest, bearer: string): Promise<boolean> => {
    const standing = await limit(() => options.limiter.peek(BEARER_SCOPE, request.ip, BEARER_FAILURES));
    if (!standing.allowed) throw tooMany(standing);
    if (sameSecret(bearer, options.token)) return true;
    const counted = await limit(() => options.limiter.hit(BEARER_SCOPE, request.ip, BEARER_FAILURES));
    if (!counted.allowed) throw tooMany(counted);
    return false;
  };

  const authenticated = async (request: FastifyRequest): Promise<'bearer' | 'cookie' | undefined> => {
    const bearer = bearerOf(request);
    if (bearer !== undefined) return (await bearerValid(request, bearer)) ? 'bearer' : undefined;
    return (await cookieSession(request.cookies[ADMIN_COOKIE], Date.now())) ? 'cookie' : undefined;
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
    async startSession(now = Date.now()) {
      const session = randomBytes(16).toString('base64url');
      const expires = now + COOKIE_TTL_MS;
      await options.sessions.start(session, expires);
      return { value: `${session}.${expires}.${mac(options.token, session, expires)}`, expires: new Date(expires) };
    },
    async endSession(request) {
      const session = await cookieSession(request.cookies[ADMIN_COOKIE], Date.now());
      if (session) await options.sessions.end(session);
    },
    async require(request) {
      if (!(await authenticated(request))) throw deny();
    },
    async requireForWrite(request) {
      const how = await authenticated(request);
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
