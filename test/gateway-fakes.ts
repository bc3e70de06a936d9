import type { MagicLinkLimits } from '#shared/http/magic-link-limits';
import type { QuotaLimiter } from '#shared/http/rate-limit';

/** A limiter that lets everything through (tests of other routes). */
export const openLimiter: QuotaLimiter = {
  hit: async () => ({ allowed: true, remaining: 1_000 }),
  take: async () => ({ allowed: true, release: async () => undefined }),
  counts: async (checks) => checks.map(() => 0),
};

/** Every sign-in limit at `max` per `windowMs`. */
export const magicLinkLimits = (max: number, windowMs = 60_000): MagicLinkLimits => ({
  emailNetwork: { max, windowMs },
  email: { max, windowMs },
  client: { max, windowMs },
});
