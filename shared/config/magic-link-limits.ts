import { z } from 'zod';
import { BUCKETS } from '#shared/contracts/buckets';
import type { MagicLinkLimits } from '#shared/http/magic-link-limits';
import { intFromEnv } from './env.ts';

const MINUTE = 60_000;
// A counter must live at least as long as its window; the bucket's TTL is what deletes it.
const ttl = Math.min(BUCKETS.rateLimits.ttlMs, BUCKETS.magicLinkLimits.ttlMs);
const window = (fallback: number) => intFromEnv(fallback).pipe(z.number().min(1_000).max(ttl));

/**
 * The limits on sign-in requests, read by the gateway (its per-replica 429s) and by the auth
 * worker (the shared counters that bound the mail across replicas): give both the same values.
 */
export const magicLinkLimitsEnv = {
  /**
   * Magic-link requests per email address from one client network (an IPv4 /24, an IPv6 /64) per
   * window (default 5 per 15 minutes). A flood from a stranger's network fills only their counter.
   */
  RATE_LIMIT_EMAIL_NETWORK_MAX: intFromEnv(5).pipe(z.number().min(1)),
  /** Window of the per-email-and-network limit (default 15 minutes, at most 1 hour). */
  RATE_LIMIT_EMAIL_NETWORK_WINDOW_MS: window(15 * MINUTE),
  /** Magic-link requests per email address from all networks together per window (default 20 per hour): the mail-bombing bound. */
  RATE_LIMIT_EMAIL_MAX: intFromEnv(20).pipe(z.number().min(1)),
  /** Window of the overall per-email limit (default 1 hour, at most 1 hour). */
  RATE_LIMIT_EMAIL_WINDOW_MS: window(60 * MINUTE),
  /** Magic-link requests per client (an IPv4 address, an IPv6 /64) per window, any email (default 30). */
  RATE_LIMIT_IP_MAX: intFromEnv(30).pipe(z.number().min(1)),
  /** Window of the per-client limit (default 15 minutes, at most 1 hour). */
  RATE_LIMIT_IP_WINDOW_MS: window(15 * MINUTE),
};

type LimitsConfig = { [K in keyof typeof magicLinkLimitsEnv]: number };

export const magicLinkLimitsFrom = (config: LimitsConfig): MagicLinkLimits => ({
  emailNetwork: { max: config.RATE_LIMIT_EMAIL_NETWORK_MAX, windowMs: config.RATE_LIMIT_EMAIL_NETWORK_WINDOW_MS },
  email: { max: config.RATE_LIMIT_EMAIL_MAX, windowMs: config.RATE_LIMIT_EMAIL_WINDOW_MS },
  client: { max: config.RATE_LIMIT_IP_MAX, windowMs: config.RATE_LIMIT_IP_WINDOW_MS },
});
