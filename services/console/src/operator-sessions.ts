import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { isConflict, isLive } from '#shared/nats/kv';

/**
 * Signed-in operators, one record per sign-in in the console's own bucket (`console_sessions`),
 * so sign-out can revoke a cookie before it expires — on every console replica at once, since
 * they all read the same bucket (through the stream leader: a replica never reads a stale record).
 */
export interface OperatorSessions {
  start(id: string, expiresAt: number): Promise<void>;
  /** True while the session was started, not ended, and has not expired. */
  active(id: string, now?: number): Promise<boolean>;
  end(id: string): Promise<void>;
}

// The id is a bearer secret inside the cookie: the bucket holds only its hash.
const keyOf = (id: string) => createHash('sha256').update(id).digest('hex');

export const createKvOperatorSessions = (kv: Pick<KV, 'get' | 'create' | 'delete'>): OperatorSessions => ({
  async start(id, expiresAt) {
    try {
      await kv.create(keyOf(id), JSON.stringify({ expiresAt }));
    } catch (error) {
      // 128 random bits do not collide; a conflict would mean a reused id, which must not sign in.
      if (isConflict(error)) throw new Error('operator session id already in use', { cause: error });
      throw error;
    }
  },
  async active(id, now = Date.now()) {
    const entry = await kv.get(keyOf(id));
    if (!isLive(entry)) return false;
    const { expiresAt } = entry.json<{ expiresAt: number }>();
    return typeof expiresAt === 'number' && expiresAt > now;
  },
  async end(id) {
    await kv.delete(keyOf(id));
  },
});
