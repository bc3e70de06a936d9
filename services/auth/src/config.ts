import { z } from 'zod';
import { BUCKETS } from '#shared/contracts/buckets';
import { commonEnv, intFromEnv } from '#shared/config/env';
import { magicLinkLimitsEnv } from '#shared/config/magic-link-limits';

const MINUTE = 60_000;

/**
 * Auth settings. Token and session lifetimes may not outlive their buckets' TTL, which is what
 * eventually deletes them (2.9 has no per-key TTL).
 */
export const authEnv = z.object({
  ...commonEnv,
  /** How long a magic link works after it is issued (default 15 minutes, at most a day). */
  MAGIC_LINK_TTL_MS: intFromEnv(15 * MINUTE).pipe(z.number().min(10_000).max(BUCKETS.magicTokens.ttlMs)),
  /** How long a session lasts (default 7 days, at most 30 days). */
  SESSION_TTL_MS: intFromEnv(7 * 24 * 60 * MINUTE).pipe(z.number().min(MINUTE).max(BUCKETS.sessions.ttlMs)),
  /**
   * The sign-in limits, the same variables and defaults as the gateway's: the worker counts the
   * per-email ones in shared counters and drops a request over them without mail (README "Limits").
   * The per-client limit (RATE_LIMIT_IP_*) is read but counted at the gateway only.
   */
  ...magicLinkLimitsEnv,
});
export type AuthConfig = z.infer<typeof authEnv>;
