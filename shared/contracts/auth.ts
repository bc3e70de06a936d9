import { z } from 'zod';
import type { JobSpec, RpcSpec } from './spec.ts';
import { STREAMS } from './streams.ts';
import { SUBJECTS } from './subjects.ts';

/** Addresses compare case-insensitively everywhere: one user per mailbox, whatever the casing. */
export const Email = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email())
  .transform((value) => value.toLowerCase());

/** `auth.magic_link.requested`: someone asked for a sign-in link. The gateway never checks the user. */
export const MagicLinkRequested = z.object({
  v: z.literal(1),
  email: Email,
  /**
   * The client's network (an IPv4 /24, an IPv6 /64), for the worker's per-email-and-network
   * limit. Absent in jobs from gateways before it was carried: then only the per-email limit applies.
   */
  network: z.string().min(1).max(100).optional(),
  requestedAt: z.iso.datetime(),
});
export type MagicLinkRequested = z.infer<typeof MagicLinkRequested>;

export const AUTH_JOBS: { readonly magicLink: JobSpec<MagicLinkRequested> } = {
  magicLink: {
    name: 'auth.magic_link',
    stream: STREAMS.AUTH.name,
    subject: SUBJECTS.magicLinkRequested,
    consumer: 'auth-magic-link',
    schema: MagicLinkRequested,
    timeoutMs: 10_000,
    maxAttempts: 8,
    backoff: { initialMs: 500, multiplier: 2, maxMs: 60_000, jitter: 0.2 },
    concurrency: 8,
    ackWaitMs: 30_000,
  },
};

/** Queue group of the auth request/reply subscriptions, so replicas share requests. */
export const AUTH_RPC_QUEUE = 'auth-rpc';

export const User = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string().optional(),
  createdAt: z.iso.datetime(),
});
export type User = z.infer<typeof User>;

/** A failure the caller can act on; `unavailable` is produced by the client, never sent by auth. */
export const AuthFailureCode = z.enum([
  'token_invalid',
  'token_expired',
  'token_used',
  'session_invalid',
  'bad_request',
]);
export type AuthFailureCode = z.infer<typeof AuthFailureCode>;

const failure = z.object({ ok: z.literal(false), code: AuthFailureCode, message: z.string() });

const SessionView = z.object({
  user: User,
  expiresAt: z.iso.datetime(),
});
export type SessionView = z.infer<typeof SessionView>;

const rpc = <Req extends z.ZodType, Res extends z.ZodType>(subject: string, request: Req, reply: Res): RpcSpec<Req, Res> => ({
  subject,
  request,
  reply,
});

/** Raw secrets travel only over these internal subjects, never to a stream or a log. */
const Token = z.string().min(16).max(256);
const SessionId = z.string().min(16).max(256);

export const AUTH_RPC = {
  /** Consumes a magic-link token (once) and starts a session; the reply carries the raw session id. */
  verifyToken: rpc(
    SUBJECTS.authVerifyToken,
    z.object({ token: Token }),
    z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), sessionId: SessionId, session: SessionView }), failure]),
  ),
  getSession: rpc(
    SUBJECTS.authGetSession,
    z.object({ sessionId: SessionId }),
    z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), session: SessionView }), failure]),
  ),
  endSession: rpc(
    SUBJECTS.authEndSession,
    z.object({ sessionId: SessionId }),
    z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), ended: z.boolean() }), failure]),
  ),
  addUser: rpc(
    SUBJECTS.authAddUser,
    z.object({ email: Email, name: z.string().trim().min(1).max(200).optional() }),
    z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), created: z.boolean(), user: User }), failure]),
  ),
} as const;
