import { z } from 'zod';
import type { AuthKv } from './kv.ts';
import { randomSecret, sha256Hex } from './secrets.ts';
import { isLive } from '#shared/nats/kv';

const SessionRecord = z.object({
  userId: z.string(),
  email: z.string(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
});
export type SessionRecord = z.infer<typeof SessionRecord>;

export interface SessionStore {
  /** A new opaque session id (returned once, to be put in the cookie); only its hash is stored. */
  start(user: { id: string; email: string }): Promise<{ sessionId: string; record: SessionRecord }>;
  /** The live session, or undefined when unknown, ended or expired. */
  get(sessionId: string): Promise<SessionRecord | undefined>;
  /** True when a live session was ended. */
  end(sessionId: string): Promise<boolean>;
}

export const sessionKey = (sessionId: string): string => sha256Hex(sessionId);

export const createSessionStore = (kv: AuthKv, options: { ttlMs: number; now?: () => number }): SessionStore => {
  const now = options.now ?? Date.now;
  const get = async (sessionId: string) => {
    const entry = await kv.get(sessionKey(sessionId));
    if (!isLive(entry)) return undefined;
    const record = SessionRecord.parse(entry.json());
    return Date.parse(record.expiresAt) > now() ? record : undefined;
  };
  return {
    async start(user) {
      const sessionId = randomSecret();
      const at = now();
      const record: SessionRecord = {
        userId: user.id,
        email: user.email,
        createdAt: new Date(at).toISOString(),
        expiresAt: new Date(at + options.ttlMs).toISOString(),
      };
      await kv.create(sessionKey(sessionId), JSON.stringify(record));
      return { sessionId, record };
    },
    get,
    async end(sessionId) {
      const live = await get(sessionId);
      await kv.delete(sessionKey(sessionId));
      return live !== undefined;
    },
  };
};
