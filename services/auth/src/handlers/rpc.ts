import { AUTH_RPC, type SessionView, type User } from '#shared/contracts/auth';
import { rpcRoute, type RpcRoute } from '#shared/nats/rpc';
import type { Log } from '#shared/observability/logger';
import type { SessionRecord, SessionStore } from '../sessions.ts';
import type { TokenStore } from '../tokens.ts';
import type { UserStore } from '../users.ts';

export interface AuthRpcDeps {
  users: UserStore;
  tokens: Pick<TokenStore, 'consume'>;
  sessions: SessionStore;
  log: Log;
}

const view = (user: User, record: SessionRecord): SessionView => ({ user, expiresAt: record.expiresAt });

/** The calls auth answers for the gateway and the operator CLI. Never log the secrets they carry. */
export const createAuthRpc = (deps: AuthRpcDeps): RpcRoute[] => [
  rpcRoute(AUTH_RPC.verifyToken, async ({ token }) => {
    const result = await deps.tokens.consume(token);
    if (!result.ok) {
      deps.log.info({ code: result.code }, 'magic link refused');
      return { ok: false, code: result.code, message: messages[result.code] };
    }
    const user = await deps.users.find(result.email);
    if (!user || user.id !== result.userId) {
      deps.log.warn({ userId: result.userId }, 'magic link for a user that no longer exists');
      return { ok: false, code: 'token_invalid', message: messages.token_invalid };
    }
    const { sessionId, record } = await deps.sessions.start(user);
    deps.log.info({ userId: user.id }, 'session started');
    return { ok: true, sessionId, session: view(user, record) };
  }),
  rpcRoute(AUTH_RPC.getSession, async ({ sessionId }) => {
    const record = await deps.sessions.get(sessionId);
    const user = record ? await deps.users.find(record.email) : undefined;
    if (!record || !user || user.id !== record.userId) {
      return { ok: false, code: 'session_invalid', message: messages.session_invalid };
    }
    return { ok: true, session: view(user, record) };
  }),
  rpcRoute(AUTH_RPC.endSession, async ({ sessionId }) => {
    const ended = await deps.sessions.end(sessionId);
    if (ended) deps.log.info({}, 'session ended');
    return { ok: true, ended };
  }),
  rpcRoute(AUTH_RPC.addUser, async ({ email, name }) => {
    const { created, user } = await deps.users.add(email, name);
    deps.log.info({ userId: user.id, email: user.email, created }, created ? 'user added' : 'user already exists; unchanged');
    return { ok: true, created, user };
  }),
];

const messages = {
  token_invalid: 'This sign-in link is not valid. Request a new one.',
  token_expired: 'This sign-in link has expired. Request a new one.',
  token_used: 'This sign-in link has already been used. Request a new one.',
  session_invalid: 'Not signed in, or the session has ended.',
} as const;
