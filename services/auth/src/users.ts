import { randomUUID } from 'node:crypto';
import { User } from '#shared/contracts/auth';
import type { AuthKv } from './kv.ts';
import { sha256Hex } from './secrets.ts';
import { isConflict, isLive } from '#shared/nats/kv';

export interface UserStore {
  find(email: string): Promise<User | undefined>;
  /** Creates the user unless the address exists; an existing user is returned unchanged. */
  add(email: string, name: string | undefined): Promise<{ created: boolean; user: User }>;
}

// KV keys cannot hold `@` or `+`; the hash of the normalised address is a stable, valid key.
const keyOf = (email: string) => sha256Hex(email.toLowerCase());

export const createUserStore = (kv: AuthKv, now: () => number = Date.now): UserStore => {
  const find = async (email: string) => {
    const entry = await kv.get(keyOf(email));
    if (!isLive(entry)) return undefined;
    return User.parse(entry.json());
  };
  return {
    find,
    async add(email, name) {
      const user: User = { id: randomUUID(), email: email.toLowerCase(), createdAt: new Date(now()).toISOString(), ...(name ? { name } : {}) };
      try {
        // create() refuses an existing key, so two operators adding one address make one user.
        await kv.create(keyOf(email), JSON.stringify(user));
        return { created: true, user };
      } catch (error) {
        if (!isConflict(error)) throw error;
        const existing = await find(email);
        if (!existing) throw error;
        return { created: false, user: existing };
      }
    },
  };
};
