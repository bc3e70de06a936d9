import { z } from 'zod';
import { BUCKETS } from '#shared/contracts/buckets';
import { commonEnv, intFromEnv, urlFromEnv } from '#shared/config/env';
import { magicLinkLimitsEnv } from '#shared/config/magic-link-limits';
import { trustProxyFromEnv } from '#shared/config/trust-proxy';

const MINUTE = 60_000;
// A counter must live at least as long as its window; the bucket's TTL is what deletes it.
const window = (fallback: number) => intFromEnv(fallback).pipe(z.number().min(1_000).max(BUCKETS.rateLimits.ttlMs));

/** Gateway settings; the default of each is what an unset variable means. */
export const gatewayEnv = z.object({
  ...commonEnv,
  /** HTTP port (default 3000; 0 picks a free one, printed in the "service ready" line). */
  GATEWAY_PORT: intFromEnv(3000).pipe(z.number().max(65_535)),
  /** Interface to listen on (default 0.0.0.0). */
  GATEWAY_HOST: z.string().default('0.0.0.0'),
  /** The gateway's public base URL (default http://localhost:3000); https makes the session cookie Secure. */
  PUBLIC_URL: urlFromEnv(['http:', 'https:']).default('http://localhost:3000'),
  /** Where a verified magic link lands (default http://localhost:3000/). */
  APP_URL: urlFromEnv(['http:', 'https:']).default('http://localhost:3000/'),
  /** Which proxies in front may name the client (X-Forwarded-For): see shared/config/trust-proxy.ts. */
  TRUST_PROXY: trustProxyFromEnv,
  ...magicLinkLimitsEnv,
  /**
   * Where the gateway counts sign-in requests (default `memory`): `memory` counts per replica, exact
   * for that replica and without a round trip, while the auth worker's shared counters keep the
   * mail within the per-email limits across replicas; `kv` counts every request in the shared
   * rate_limits bucket first (exact 429s across replicas, three compare-and-set writes a request).
   */
  RATE_LIMIT_MAGIC_LINK_STORE: z.enum(['memory', 'kv']).default('memory'),
  /** Orders one signed-in user may create per window (default 20); more get 429 with Retry-After. */
  RATE_LIMIT_ORDERS_MAX: intFromEnv(20).pipe(z.number().min(1)),
  /** Window of the per-user order limit (default 1 hour, at most 1 hour). */
  RATE_LIMIT_ORDERS_WINDOW_MS: window(60 * MINUTE),
  /**
   * The payment provider's hosted checkout (default http://localhost:3003/checkout, the dev
   * provider `npm start` runs). The buyer page sends the buyer there with `order`, `amount`
   * (minor units), `currency`, `description` and `return` (the order's page) in the query.
   */
  PAYMENT_CHECKOUT_URL: urlFromEnv(['http:', 'https:']).default('http://localhost:3003/checkout'),
  /** Live order views (GET /orders/:id/events) one user may hold open at once on one replica (default 5); more get 429. */
  ORDER_EVENTS_MAX_PER_USER: intFromEnv(5).pipe(z.number().min(1).max(100)),
  /** How often an open live view gets a comment line, so proxies do not close an idle stream (default 15 s). */
  ORDER_EVENTS_HEARTBEAT_MS: intFromEnv(15_000).pipe(z.number().min(100).max(300_000)),
  /** How long to wait for the auth service before answering 503 (default 3 s). */
  AUTH_RPC_TIMEOUT_MS: intFromEnv(3_000).pipe(z.number().min(100)),
  /** How long to wait for JetStream to store a job before answering 503 (default 3 s). */
  PUBLISH_TIMEOUT_MS: intFromEnv(3_000).pipe(z.number().min(100)),
});
export type GatewayConfig = z.infer<typeof gatewayEnv>;
