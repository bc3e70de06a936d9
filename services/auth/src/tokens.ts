import { z } from 'zod';
import type { AuthKv } from './kv.ts';
import { randomSecret, sha256Hex } from './secrets.ts';
import { isConflict, isLive } from '#shared/nats/kv';

const TokenRecord = z.object({
  userId: z.string(),
  email: z.string(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
  usedAt: z.iso.datetime().optional(),
});
type TokenRecord = z.infer<typeof TokenRecord>;

export type ConsumeResult =
  | { ok: true; userId: string; email: string }
  | { ok: false; code: 'token_invalid' | 'token_expired' | 'token_used' };

export interface TokenStore {
  /** A fresh single-use token; only its SHA-256 is stored. */
  issue(user: { id: string; email: string }): Promise<{ token: string; expiresAt: string }>;
  /** Uses the token up. Under any concurrency, exactly one caller gets `ok`. */
  consume(token: string): Promise<ConsumeResult>;
}

export const tokenKey = (token: string): string => sha256Hex(token);

export const createTokenStore = (kv: AuthKv, options: { ttlMs: number; now?: () => number }): TokenStore => {
  const now = options.now ?? Date.now;
  return {
    async issue(user) {
      const token = randomSecret();
      const at = now();
      const record: TokenRecord = {
        userId: user.id,
        email: user.email,
        createdAt: new Date(at).toISOString(),
        expiresAt: new Date(at + options.ttlMs).toISOString(),
      };
      await kv.create(tokenKey(token), JSON.stringify(record));
      return { token, expiresAt: record.expiresAt };
    },
    async consume(token) {
      const key = tokenKey(token);
      const entry = await kv.get(key);
      if (!isLive(entry)) return { ok: false, code: 'token_invalid' };
      const record = TokenRecord.parse(entry.json());
      if (record.usedAt) return { ok: false, code: 'token_used' };
      // 2.9 has no per-key TTL: the bucket's TTL only clears garbage, the expiry is checked here.
      if (Date.parse(record.expiresAt) <= now()) return { ok: false, code: 'token_expired' };
      // Marking it used (rather than deleting it) lets a second click say "already used" instead
      // of "unknown". The revision check makes the read-then-write atomic: of N concurrent
      // verifications, one update lands and every other one fails on the stale revision.
      try {
        await kv.update(key, JSON.stringify({ ...record, usedAt: new Date(now()).toISOString() }), entry.revision);
      } catch (error) {
        if (isConflict(error)) return { ok: false, code: 'token_used' };
        throw error;
      }
      return { ok: true, userId: record.userId, email: record.email };
    },
  };
};
