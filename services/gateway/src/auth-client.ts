import type { z } from 'zod';
import { AUTH_RPC } from '#shared/contracts/auth';
import type { RpcClient } from '#shared/nats/rpc';

type Reply<K extends keyof typeof AUTH_RPC> = z.output<(typeof AUTH_RPC)[K]['reply']>;

/** What the gateway asks the auth service; it never reads auth's buckets. Throws RpcUnavailableError. */
export interface AuthClient {
  verifyToken(token: string): Promise<Reply<'verifyToken'>>;
  getSession(sessionId: string): Promise<Reply<'getSession'>>;
  endSession(sessionId: string): Promise<Reply<'endSession'>>;
}

export const createAuthClient = (rpc: RpcClient): AuthClient => ({
  verifyToken: (token) => rpc.call(AUTH_RPC.verifyToken, { token }),
  getSession: (sessionId) => rpc.call(AUTH_RPC.getSession, { sessionId }),
  endSession: (sessionId) => rpc.call(AUTH_RPC.endSession, { sessionId }),
});
